"""AlpacaBroker against the local stand-in of Alpaca's trading API (these machines cannot reach Alpaca)."""

from __future__ import annotations

import itertools
import json
import logging
import time
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import requests

from bifrost.config import load_settings
from bifrost.data import BarStore, CsvSource, ingest
from bifrost.errors import BrokerError, BrokerUnavailableError, ConfigError
from bifrost.execution._alpaca import ALPACA_ORDER_STATUSES, AlpacaBroker
from bifrost.execution._manager import OrderManager
from bifrost.execution._order import (
    Accepted,
    Canceled,
    CancelReason,
    CancelRejected,
    Expired,
    Filled,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    PendingCancel,
    PendingReplace,
    Rejected,
    RejectReason,
    Replaced,
    ReplaceRejected,
    Side,
    Submitted,
    TimeInForce,
)
from bifrost.portfolio import CashFlow, CashKind, load_portfolio, record_transactions
from bifrost.testing import AlpacaStandIn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alpaca"
ORCL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "backtrader" / "orcl-1995-2014.txt"
T0 = pd.Timestamp("2014-01-02 15:00", tz="UTC")
_ids = itertools.count()


@pytest.fixture(scope="module")
def alpaca() -> Iterator[AlpacaStandIn]:
    with AlpacaStandIn(cash=Decimal(1_000_000)) as standin:
        yield standin


@pytest.fixture(scope="module")
def broker(alpaca: AlpacaStandIn) -> Iterator[AlpacaBroker]:
    with AlpacaBroker(
        key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
        stream_url=alpaca.stream_url, timeout_s=2,
    ) as b:  # fmt: skip
        yield b


def _order(
    quantity: str = "10",
    *,
    coid: str | None = None,
    portfolio: str = "main",
    order_type: OrderType = OrderType.MARKET,
    limit_price: str | None = None,
    tif: TimeInForce = TimeInForce.DAY,
) -> Order:
    coid = coid or f"t-{next(_ids)}-{time.monotonic_ns() % 10**9}"
    request = OrderRequest(
        portfolio=portfolio, symbol="ORCL", side=Side.BUY, quantity=Decimal(quantity), order_type=order_type,
        limit_price=None if limit_price is None else Decimal(limit_price), time_in_force=tif, client_order_id=coid,
    )  # fmt: skip
    order = Order(order_id=coid, request=request, ts_created=T0)
    order.apply(Submitted(client_order_id=coid, ts=T0))
    return order


def _apply(order: Order, events: list[OrderEvent]) -> Order:
    for event in events:
        order.apply(event)
    return order


def _submitted(broker: AlpacaBroker, **kwargs: object) -> Order:
    order = _order(**kwargs)  # type: ignore[arg-type]
    return _apply(order, broker.submit(order))


def _poll(broker: AlpacaBroker, coid: str, count: int) -> list[OrderEvent]:
    # the stream delivers in its own thread: poll until ``count`` events of ``coid`` came (or 5 s)
    got: list[OrderEvent] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        got += [e for e in broker.poll_events() if e.client_order_id == coid]
        if len(got) >= count:
            break
        time.sleep(0.01)
    return got


def _sync(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> list[OrderEvent]:
    # poll until every update sent so far came: a probe order's cancel, sent now, comes after them (one stream)
    probe = _submitted(broker)
    alpaca.set_status(probe.client_order_id, "canceled", event="canceled")
    got: list[OrderEvent] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(e.client_order_id == probe.client_order_id for e in got):
        got += broker.poll_events()
        time.sleep(0.01)
    assert any(e.client_order_id == probe.client_order_id for e in got), "the stream did not deliver the probe"
    return [e for e in got if e.client_order_id != probe.client_order_id]


# ------------------------------------------------------------------------------ the status table


def test_status_table_covers_every_documented_alpaca_status() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # alpaca-py imports websockets.legacy
        from alpaca.trading.enums import OrderStatus as AlpacaStatus
    documented = {s.value for s in AlpacaStatus} | {
        "new", "accepted", "pending_new", "partially_filled", "filled", "done_for_day", "canceled", "expired",
        "replaced", "pending_cancel", "pending_replace", "accepted_for_bidding", "stopped", "rejected", "suspended",
        "calculated", "held",
    }  # fmt: skip
    assert documented <= set(ALPACA_ORDER_STATUSES)
    assert all(reason for _, reason in ALPACA_ORDER_STATUSES.values())


# status, filled quantity (of 10) -> what get_order reports (None: halted, BrokerError naming it)
STATUS_CASES = [
    ("new", "0", OrderStatus.ACCEPTED),
    ("accepted", "0", OrderStatus.ACCEPTED),
    ("pending_new", "0", OrderStatus.ACCEPTED),
    ("accepted_for_bidding", "0", OrderStatus.ACCEPTED),
    ("partially_filled", "4", OrderStatus.PARTIALLY_FILLED),
    ("filled", "10", OrderStatus.FILLED),
    ("done_for_day", "0", OrderStatus.ACCEPTED),
    ("done_for_day", "4", OrderStatus.PARTIALLY_FILLED),
    ("canceled", "0", OrderStatus.CANCELED),
    ("expired", "4", OrderStatus.EXPIRED),
    ("pending_cancel", "0", OrderStatus.PENDING_CANCEL),
    ("pending_replace", "0", OrderStatus.PENDING_REPLACE),
    ("stopped", "0", OrderStatus.ACCEPTED),
    ("rejected", "0", OrderStatus.REJECTED),
    ("calculated", "10", OrderStatus.FILLED),
    ("calculated", "4", OrderStatus.PARTIALLY_FILLED),
    ("suspended", "0", None),
    ("held", "0", None),
    ("pending_review", "0", None),
    ("some_future_status", "0", None),
]


@pytest.mark.parametrize(("status", "filled", "expected"), STATUS_CASES)
def test_get_order_each_alpaca_status_maps_deliberately_or_halts(
    broker: AlpacaBroker, alpaca: AlpacaStandIn, status: str, filled: str, expected: OrderStatus | None
) -> None:
    # Arrange
    order = _submitted(broker)
    if filled != "0":
        alpaca.fill(order.client_order_id, Decimal(filled), Decimal("37.5"))
    alpaca.set_status(order.client_order_id, status)
    # Act / Assert
    if expected is None:
        with pytest.raises(BrokerError, match=f"status '{status}', which bifrost does not map"):
            broker.get_order(order.client_order_id)
    else:
        seen = broker.get_order(order.client_order_id)
        assert seen is not None and seen.status is expected and seen.filled_quantity == Decimal(filled)


def test_get_order_unknown_client_order_id_returns_none(broker: AlpacaBroker) -> None:
    assert broker.get_order("never-sent") is None


def test_standin_answers_with_the_fields_alpaca_documents(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> None:
    # the adapter is tested against Alpaca's shapes, not only the stand-in's (tests/fixtures/alpaca/README.md)
    documented = json.loads((FIXTURES / "documented_fields.json").read_text())
    order = _submitted(broker)
    alpaca.fill(order.client_order_id, Decimal(10), Decimal("37.5"))
    headers = {"APCA-API-KEY-ID": alpaca.key_id, "APCA-API-SECRET-KEY": alpaca.secret_key}

    def get(path: str) -> requests.Response:
        return requests.get(f"{alpaca.base_url}/v2{path}", headers=headers, timeout=5)

    assert set(documented["order"]) <= set(get(f"/orders/{order.broker_order_id}").json())
    assert all(set(documented["position"]) <= set(p) for p in get("/positions").json())
    assert set(documented["account"]) <= set(get("/account").json())
    assert all(set(documented["fill_activity"]) <= set(a) for a in get("/account/activities/FILL").json())
    fill = next(
        e for e in alpaca.events if e["order"]["client_order_id"] == order.client_order_id and e["event"] == "fill"
    )
    assert set(documented["trade_update_fill"]) <= set(fill)
    missing = get("/orders/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and set(documented["error"]) <= set(missing.json())
    limits = get("/account").headers
    assert {"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset"} <= set(limits)


# ------------------------------------------------------------------------------ submit and errors


def test_submit_market_order_sends_alpaca_shapes_and_is_accepted(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> None:
    order = _order("2.5", order_type=OrderType.LIMIT, limit_price="37.05", tif=TimeInForce.GTC)
    events = broker.submit(order)
    sent = [
        r
        for r in alpaca.requests
        if r.method == "POST" and r.body and r.body["client_order_id"] == order.client_order_id
    ]
    assert sent[0].body == {
        "symbol": "ORCL", "qty": "2.5", "side": "buy", "type": "limit", "time_in_force": "gtc",
        "client_order_id": order.client_order_id, "limit_price": "37.05",
    }  # fmt: skip
    assert events == [
        Accepted(client_order_id=order.client_order_id, ts=events[0].ts,
                 broker_order_id=alpaca.order(order.client_order_id)["id"])
    ]  # fmt: skip


def test_submit_403_insufficient_buying_power_is_rejected_insufficient_cash(
    broker: AlpacaBroker, alpaca: AlpacaStandIn
) -> None:
    order = _order("100000", order_type=OrderType.LIMIT, limit_price="37.00")
    (event,) = broker.submit(order)
    assert isinstance(event, Rejected) and event.reason is RejectReason.INSUFFICIENT_CASH
    assert "HTTP 403" in event.message and "insufficient buying power" in event.message
    assert all(o["client_order_id"] != order.client_order_id for o in alpaca.orders)


def test_submit_422_invalid_order_is_rejected_with_alpacas_message(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> None:
    alpaca.fail_next(422, {"code": 40010001, "message": "qty must be a whole number for this asset"}, method="POST")
    order = _order("1.5")
    (event,) = broker.submit(order)
    assert isinstance(event, Rejected) and event.reason is RejectReason.BROKER
    assert event.message == "alpaca refused the order (HTTP 422): qty must be a whole number for this asset"
    assert _apply(order, [event]).status is OrderStatus.REJECTED


def test_submit_401_bad_keys_is_rejected_naming_the_keys(alpaca: AlpacaStandIn) -> None:
    with AlpacaBroker(key_id=alpaca.key_id, secret_key="wrong", base_url=alpaca.base_url, stream=False) as broker:
        (event,) = broker.submit(_order())
    assert isinstance(event, Rejected) and event.reason is RejectReason.BROKER
    assert "HTTP 401" in event.message and "check alpaca_key_id / alpaca_secret_key" in event.message


def test_submit_same_client_order_id_twice_returns_the_existing_order_not_a_second(
    broker: AlpacaBroker, alpaca: AlpacaStandIn
) -> None:
    order = _submitted(broker)
    events = broker.submit(_order(coid=order.client_order_id))
    assert [type(e) for e in events] == [Accepted]
    assert [o["client_order_id"] for o in alpaca.orders].count(order.client_order_id) == 1


def test_submit_429_waits_retry_after_and_sends_again(alpaca: AlpacaStandIn) -> None:
    waits: list[float] = []
    with AlpacaBroker(key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
                      sleep=waits.append, stream=False) as broker:  # fmt: skip
        alpaca.fail_next(429, {"code": 42910000, "message": "rate limit exceeded"}, {"Retry-After": "2"}, method="POST")
        order = _order()
        events = broker.submit(order)
    assert [type(e) for e in events] == [Accepted] and waits == [2.0]
    posts = [
        r.status
        for r in alpaca.requests
        if r.method == "POST" and r.body and r.body["client_order_id"] == order.client_order_id
    ]
    assert posts == [429, 200]


def test_submit_429_without_retry_after_waits_until_ratelimit_reset(alpaca: AlpacaStandIn) -> None:
    waits: list[float] = []
    reset = int(time.time()) + 30
    with AlpacaBroker(key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
                      sleep=waits.append, stream=False) as broker:  # fmt: skip
        alpaca.fail_next(429, None, {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(reset)}, method="POST")
        events = broker.submit(_order())
    assert [type(e) for e in events] == [Accepted]
    assert len(waits) >= 1 and 25 < max(waits) <= 30


def test_submit_429_past_max_retries_is_unavailable(alpaca: AlpacaStandIn) -> None:
    with AlpacaBroker(key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
                      sleep=lambda s: None, stream=False, max_rate_retries=1) as broker:  # fmt: skip
        for _ in range(2):
            alpaca.fail_next(429, None, {"Retry-After": "0"}, method="POST")
        order = _order()
        with pytest.raises(BrokerUnavailableError, match="HTTP 429"):
            broker.submit(order)
        assert broker.get_order(order.client_order_id) is None


def test_submit_5xx_is_unavailable_and_resolved_by_client_order_id(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> None:
    # a 503 not processed: the order is not there; a 500 after it was placed: it is
    lost, placed = _order(), _order()
    alpaca.fail_next(503, method="POST")
    with pytest.raises(BrokerUnavailableError, match="submit failed \\(HTTP 503"):
        broker.submit(lost)
    alpaca.fail_next(500, method="POST", process=True)
    with pytest.raises(BrokerUnavailableError, match="outcome is unknown"):
        broker.submit(placed)
    assert broker.get_order(lost.client_order_id) is None
    seen = broker.get_order(placed.client_order_id)
    assert seen is not None and seen.status is OrderStatus.ACCEPTED


def test_submit_timeout_after_the_order_was_placed_is_resolved_by_client_order_id_never_resent(
    alpaca: AlpacaStandIn,
) -> None:
    with AlpacaBroker(key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
                      timeout_s=0.3, stream=False) as broker:  # fmt: skip
        alpaca.drop_next()
        order = _order()
        with pytest.raises(BrokerUnavailableError, match=r"submit timed out after 0\.3 s"):
            broker.submit(order)
        seen = broker.get_order(order.client_order_id)
    assert seen is not None and seen.status is OrderStatus.ACCEPTED and seen.quantity == Decimal(10)
    posts = [
        r
        for r in alpaca.requests
        if r.method == "POST" and r.body and r.body["client_order_id"] == order.client_order_id
    ]
    assert len(posts) == 1 and [o["client_order_id"] for o in alpaca.orders].count(order.client_order_id) == 1


def test_submit_unreachable_is_unavailable() -> None:
    with AlpacaStandIn() as gone:
        url = gone.base_url
    broker = AlpacaBroker(key_id="k", secret_key="s", base_url=url, timeout_s=1, stream=False)
    with broker, pytest.raises(BrokerUnavailableError, match="could not reach"):
        broker.submit(_order())


@pytest.mark.parametrize(("call", "path"), [("positions", "/v2/positions"), ("account", "/v2/account")])
def test_report_calls_401_403_raise_broker_error_naming_the_call(
    broker: AlpacaBroker, alpaca: AlpacaStandIn, call: str, path: str
) -> None:
    alpaca.fail_next(403, {"code": 40310000, "message": "forbidden"}, path=path)
    with pytest.raises(BrokerError, match=f"alpaca: {call} refused \\(HTTP 403\\): forbidden") as caught:
        getattr(broker, call)("main")
    assert not isinstance(caught.value, BrokerUnavailableError)
    bad = AlpacaBroker(key_id=alpaca.key_id, secret_key="wrong", base_url=alpaca.base_url, stream=False)
    with bad, pytest.raises(BrokerError, match=f"{call} refused \\(HTTP 401\\): request is not authorized: check"):
        getattr(bad, call)("main")


def test_report_call_5xx_is_unavailable(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> None:
    alpaca.fail_next(502, path="/v2/orders", method="GET")
    with pytest.raises(BrokerUnavailableError, match="open_orders failed \\(HTTP 502"):
        broker.open_orders("main")


# ------------------------------------------------------------------------------ cancel and replace


def test_cancel_sends_delete_and_the_stream_brings_canceled_requested(broker: AlpacaBroker) -> None:
    order = _submitted(broker, order_type=OrderType.LIMIT, limit_price="30.00", tif=TimeInForce.GTC)
    _poll(broker, order.client_order_id, 0)
    events = broker.cancel(order)
    assert [type(e) for e in events] == [PendingCancel]
    later = _poll(broker, order.client_order_id, 1)
    assert [type(e) for e in later] == [Canceled] and later[0].reason is CancelReason.REQUESTED  # type: ignore[union-attr]
    assert _apply(_apply(order, events), later).status is OrderStatus.CANCELED


def test_cancel_of_a_filled_order_is_cancel_rejected(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> None:
    order = _submitted(broker)
    alpaca.fill(order.client_order_id, Decimal(10), Decimal("37.5"))
    _apply(order, _poll(broker, order.client_order_id, 1))
    events = broker.cancel(_order())  # an order Alpaca never had
    assert [type(e) for e in events] == [PendingCancel, CancelRejected]
    events = broker.cancel(order)
    assert [type(e) for e in events] == [PendingCancel, CancelRejected]
    assert "HTTP 422" in events[1].message and "not cancelable" in events[1].message  # type: ignore[union-attr]


def test_replace_then_fill_of_the_replacing_order_is_our_orders_fill(
    broker: AlpacaBroker, alpaca: AlpacaStandIn
) -> None:
    # Arrange
    order = _submitted(broker, order_type=OrderType.LIMIT, limit_price="30.00", tif=TimeInForce.GTC)
    old_id = order.broker_order_id
    # Act
    sent = broker.replace(order, quantity=Decimal(8), limit_price=Decimal("31.00"))
    _apply(order, sent)
    replaced = _poll(broker, order.client_order_id, 1)
    _apply(order, replaced)
    alpaca.fill(order.client_order_id, Decimal(8), Decimal("30.90"))
    filled = _poll(broker, order.client_order_id, 1)
    _apply(order, filled)
    # Assert
    assert [type(e) for e in sent] == [PendingReplace]
    (event,) = replaced
    assert isinstance(event, Replaced) and event.quantity == Decimal(8) and event.limit_price == Decimal("31.00")
    assert event.broker_order_id not in (None, old_id)
    assert [type(e) for e in filled] == [Filled] and order.status is OrderStatus.FILLED
    seen = broker.get_order(order.client_order_id)
    assert seen is not None and seen.broker_order_id == event.broker_order_id and seen.status is OrderStatus.FILLED


def test_replace_refused_is_replace_rejected(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> None:
    order = _submitted(broker, order_type=OrderType.LIMIT, limit_price="30.00", tif=TimeInForce.GTC)
    alpaca.fail_next(422, {"code": 42210000, "message": "order is not replaceable"}, method="PATCH")
    events = broker.replace(order, limit_price=Decimal("30.50"))
    assert [type(e) for e in events] == [PendingReplace, ReplaceRejected]
    assert _apply(order, events).status is OrderStatus.ACCEPTED


# ------------------------------------------------------------------------------ the stream


def test_stream_delivers_partial_fills_with_the_same_trade_ids_as_fills(
    broker: AlpacaBroker, alpaca: AlpacaStandIn
) -> None:
    order = _submitted(broker)
    alpaca.fill(order.client_order_id, Decimal(4), Decimal("37.50"))
    alpaca.fill(order.client_order_id, Decimal(6), Decimal("37.60"))
    events = _poll(broker, order.client_order_id, 2)
    _apply(order, events)
    assert [(e.quantity, e.price) for e in events] == [(Decimal(4), Decimal("37.50")), (Decimal(6), Decimal("37.60"))]  # type: ignore[union-attr]
    assert order.status is OrderStatus.FILLED and order.avg_fill_price == Decimal("37.56")
    reported = [f for f in broker.fills("main") if f.client_order_id == order.client_order_id]
    assert [f.trade_id for f in reported] == [e.trade_id for e in events]  # type: ignore[union-attr]
    assert [(f.quantity, f.price, f.commission) for f in reported] == [
        (Decimal(4), Decimal("37.50"), Decimal(0)), (Decimal(6), Decimal("37.60"), Decimal(0))
    ]  # fmt: skip


# event, order status sent with it, time in force -> the event bifrost applies (None: nothing)
STREAM_CASES = [
    ("expired", "expired", "day", Expired),
    ("canceled", "canceled", "day", Canceled),
    ("canceled", "canceled", "ioc", Canceled),
    ("rejected", "rejected", "day", Rejected),
    ("order_cancel_rejected", "new", "day", CancelRejected),
    ("order_replace_rejected", "new", "day", ReplaceRejected),
    ("done_for_day", "done_for_day", "day", None),
    ("calculated", "calculated", "day", None),
    ("stopped", "stopped", "day", None),
    ("pending_cancel", "pending_cancel", "day", None),
    ("pending_replace", "pending_replace", "day", None),
    ("new", "new", "day", None),  # a second ack: Accepted is applied once
]


@pytest.mark.parametrize(("event", "status", "tif", "expected"), STREAM_CASES)
def test_stream_each_event_maps_to_its_order_event(
    broker: AlpacaBroker, alpaca: AlpacaStandIn, event: str, status: str, tif: str, expected: type | None
) -> None:
    order = _submitted(broker, tif=TimeInForce(tif))
    _poll(broker, order.client_order_id, 0)
    alpaca.set_status(order.client_order_id, status, event=event)
    got = [e for e in _sync(broker, alpaca) if e.client_order_id == order.client_order_id]
    assert [type(e) for e in got] == ([] if expected is None else [expected])
    if event == "canceled":
        want = CancelReason.UNFILLED if tif == "ioc" else CancelReason.BROKER
        assert got[0].reason is want  # type: ignore[union-attr]


def test_stream_unmapped_event_halts_the_order_until_alpacas_report_maps_again(
    broker: AlpacaBroker, alpaca: AlpacaStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: Alpaca suspends the order, then a fill event comes for it
    order = _submitted(broker)
    alpaca.set_status(order.client_order_id, "suspended", event="suspended")
    alpaca.push_event(order.client_order_id, "canceled")
    # Act
    with caplog.at_level(logging.ERROR, logger="bifrost.execution.alpaca"):
        events = [e for e in _sync(broker, alpaca) if e.client_order_id == order.client_order_id]
    # Assert: nothing applied, the order listed as halted, its report refused naming the status
    assert events == [] and broker.halted[order.client_order_id].status == "suspended"
    assert "not mapped by bifrost" in caplog.text
    with pytest.raises(BrokerError, match="has status 'suspended', which bifrost does not map"):
        broker.get_order(order.client_order_id)
    # once a person cancels it at Alpaca, the report maps again and lifts the halt
    alpaca.set_status(order.client_order_id, "canceled")
    seen = broker.get_order(order.client_order_id)
    assert seen is not None and seen.status is OrderStatus.CANCELED and order.client_order_id not in broker.halted


def test_stream_unreadable_update_halts_its_order(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> None:
    order = _submitted(broker)
    alpaca.push_event(order.client_order_id, "partial_fill", {"qty": "four", "price": "37.5"})
    assert [e for e in _sync(broker, alpaca) if e.client_order_id == order.client_order_id] == []
    assert "unreadable 'partial_fill' update" in broker.halted[order.client_order_id].status


def test_stream_replaced_update_waits_when_its_lookup_fails(broker: AlpacaBroker, alpaca: AlpacaStandIn) -> None:
    # Arrange: another process replaces the order, so this broker must look the replacing order up
    order = _submitted(broker, order_type=OrderType.LIMIT, limit_price="30.00", tif=TimeInForce.GTC)
    _poll(broker, order.client_order_id, 0)
    with AlpacaBroker(key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
                      stream=False) as other:  # fmt: skip
        other.replace(order, quantity=Decimal(7))
    new_id = alpaca.order(order.client_order_id)["replaced_by"]
    lookup = f"/v2/orders/{new_id}"
    alpaca.fail_next(503, method="GET", path=lookup)
    # Act: poll until the lookup was tried (and failed), then once more
    first: list[OrderEvent] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(r.path == lookup and r.status == 503 for r in alpaca.requests):
        first += broker.poll_events()
        time.sleep(0.01)
    # Assert: the failed lookup kept the update; the next poll delivers it
    assert [e for e in first if e.client_order_id == order.client_order_id] == []
    (event,) = _poll(broker, order.client_order_id, 1)
    assert isinstance(event, Replaced) and event.quantity == Decimal(7) and event.broker_order_id == new_id


def test_stream_reconnects_after_alpaca_hangs_up_and_delivers_later_events() -> None:
    with AlpacaStandIn() as alpaca, AlpacaBroker(
        key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url, stream_url=alpaca.stream_url,
        timeout_s=2,
    ) as broker:  # fmt: skip
        order = _submitted(broker)
        listens = alpaca.listens
        alpaca.hang_up()
        assert alpaca.wait_listening(listens + 1)
        alpaca.fill(order.client_order_id, Decimal(10), Decimal("37.5"))
        events = _poll(broker, order.client_order_id, 1)
    assert [type(e) for e in events] == [Filled]


def test_stream_refusing_the_keys_raises_broker_error(alpaca: AlpacaStandIn) -> None:
    with pytest.raises(BrokerError, match="refused the keys") as caught:
        AlpacaBroker(key_id=alpaca.key_id, secret_key="not-the-secret", base_url=alpaca.base_url,
                     stream_url=alpaca.stream_url, timeout_s=2)  # fmt: skip
    assert "not-the-secret" not in str(caught.value)


# ------------------------------------------------------------------------------ limits and keys


def test_client_side_limiter_waits_once_the_minute_is_full(alpaca: AlpacaStandIn) -> None:
    waits: list[float] = []
    with AlpacaBroker(key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
                      sleep=waits.append, stream=False, requests_per_minute=3) as broker:  # fmt: skip
        for _ in range(3):
            broker.positions("main")
        assert waits == []
        broker.positions("main")
    assert len(waits) == 1 and 55 < waits[0] <= 60


def test_client_side_limiter_slows_down_when_remaining_runs_low() -> None:
    waits: list[float] = []
    with AlpacaStandIn(rate_limit=20) as standin, AlpacaBroker(
        key_id=standin.key_id, secret_key=standin.secret_key, base_url=standin.base_url, sleep=waits.append,
        stream=False,
    ) as broker:  # fmt: skip
        for _ in range(19):
            broker.positions("main")
        assert waits == []
        broker.positions("main")
    # the 19th answer said 1 of 20 left until the reset (about 60 s away): the 20th waits half of it
    assert len(waits) == 1 and 25 < waits[0] <= 30


def test_keys_never_in_logs_reprs_or_errors(alpaca: AlpacaStandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with AlpacaBroker(key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
                      stream_url=alpaca.stream_url, timeout_s=2) as broker:  # fmt: skip
        order = _order()
        _apply(order, broker.submit(order))
        alpaca.fail_next(500, {"message": f"echo {alpaca.secret_key} {alpaca.key_id}"}, path="/v2/positions")
        with pytest.raises(BrokerUnavailableError) as caught:
            broker.positions("main")
        shown = repr(broker) + str(caught.value) + repr(order)
    assert "***" in str(caught.value)
    assert "POST /v2/orders" in caplog.text  # DEBUG records were captured
    for secret in (alpaca.secret_key, alpaca.key_id):
        assert secret not in caplog.text and secret not in shown


def test_from_settings_needs_both_keys_and_derives_the_stream_url(tmp_path: Path) -> None:
    settings = load_settings({"BIFROST_HOME": str(tmp_path)}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="needs alpaca_key_id and alpaca_secret_key"):
        AlpacaBroker.from_settings(settings)
    env = {"BIFROST_HOME": str(tmp_path), "BIFROST_ALPACA_KEY_ID": "PKX", "BIFROST_ALPACA_SECRET_KEY": "sx",
           "BIFROST_ALPACA_BASE_URL": "http://127.0.0.1:9"}  # fmt: skip
    with AlpacaBroker.from_settings(load_settings(env, cwd=tmp_path), stream=False) as broker:
        assert (broker.base_url, broker.stream_url, broker.paper) == (
            "http://127.0.0.1:9",
            "ws://127.0.0.1:9/stream",
            True,
        )
        assert "PKX" not in repr(broker) and "sx" not in repr(broker)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"key_id": ""}, "needs both keys"),
        ({"secret_key": ""}, "needs both keys"),
        ({"timeout_s": 0}, "timeout_s must be in"),
        ({"timeout_s": float("nan")}, "timeout_s must be in"),
        ({"timeout_s": True}, "timeout_s must be in"),
        ({"timeout_s": 601}, "timeout_s must be in"),
        ({"requests_per_minute": 0}, "requests_per_minute must be in"),
        ({"max_rate_retries": -1}, "max_rate_retries must be in"),
    ],
)
def test_constructor_bad_settings_raise_config_error(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"key_id": "k", "secret_key": "s", "base_url": "http://127.0.0.1:9", "stream": False}
    with pytest.raises(ConfigError, match=match):
        AlpacaBroker(**{**args, **kwargs})  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ through the manager


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_manager_submit_fill_ledger_end_to_end_in_doubt_resolved_and_gap_reconciled(store: BarStore) -> None:
    # Arrange: ORCL's bars and a portfolio with a deposit; Alpaca's stand-in
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    deposit = CashFlow(txn_id="deposit", ts=T0 - pd.Timedelta(days=30), kind=CashKind.DEPOSIT, amount=Decimal(100_000))
    record_transactions(store, "main", [deposit], create=True)
    with AlpacaStandIn() as alpaca:

        def connect() -> AlpacaBroker:
            return AlpacaBroker(key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
                                stream_url=alpaca.stream_url, timeout_s=0.5)  # fmt: skip

        with connect() as broker:
            manager = OrderManager(store, broker)
            # Act 1: a market order, filled at Alpaca (the fill comes on the stream)
            order = manager.submit(OrderRequest(portfolio="main", symbol="ORCL", side=Side.BUY,
                                                quantity=Decimal(10), client_order_id="e2e-1"))  # fmt: skip
            alpaca.fill("e2e-1", Decimal(10), Decimal("37.25"))
            deadline = time.monotonic() + 5
            while manager.order("e2e-1").status is not OrderStatus.FILLED and time.monotonic() < deadline:
                manager.process_events()
                time.sleep(0.01)
            # Act 2: a POST that times out after Alpaca placed the order
            alpaca.drop_next()
            doubtful = manager.submit(OrderRequest(portfolio="main", symbol="ORCL", side=Side.BUY,
                                                   quantity=Decimal(5), client_order_id="e2e-2"))  # fmt: skip
            manager.process_events()
            first = manager.reconcile()
        # Act 3: it fills while nobody listens; a restarted broker and manager reconcile
        alpaca.fill("e2e-2", Decimal(5), Decimal("37.30"))
        with connect() as broker:
            restarted = OrderManager(store, broker)
            after_restart = restarted.reconcile()
            filled, resolved = restarted.orders()
    # Assert: one fill each, none twice (the stream's trade id is the activity's), one order each at Alpaca
    assert order.status is OrderStatus.ACCEPTED and doubtful.in_doubt
    assert first.ok and first.fills_applied == ()
    assert after_restart.ok and after_restart.orders_updated == ("e2e-2",)
    assert (filled.client_order_id, filled.status, filled.avg_fill_price) == (
        "e2e-1",
        OrderStatus.FILLED,
        Decimal("37.25"),
    )
    assert (resolved.client_order_id, resolved.status, resolved.in_doubt) == ("e2e-2", OrderStatus.FILLED, False)
    assert [o["client_order_id"] for o in alpaca.orders] == ["e2e-1", "e2e-2"]
    assert load_portfolio(store, "main").position("ORCL").quantity == Decimal(15)


def test_calls_for_another_portfolio_than_the_keys_trade_raise_broker_error(alpaca: AlpacaStandIn) -> None:
    with AlpacaBroker(key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url,
                      account="main", stream=False) as broker:  # fmt: skip
        assert broker.positions("main") == broker.positions("main")
        with pytest.raises(BrokerError, match="these keys trade portfolio 'main', not 'other'"):
            broker.open_orders("other")
        (event,) = broker.submit(_order(portfolio="other"))
    assert isinstance(event, Rejected) and "not 'other'" in event.message
