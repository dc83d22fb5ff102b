"""The paper broker alone, on real ORCL bars (orcl-1995-2014.txt): every order type and time in force.

The expected prices are read off the file by hand (June 2014):

    date        open       high       low        close      volume
    2014-06-04  41.790001  41.790001  41.330002  41.700001   8936300
    2014-06-05  41.849998  42.330002  41.740002  42.099998  10647800
    2014-06-06  42.290001  42.630001  42.250000  42.630001  11447800
    2014-06-09  42.650002  42.810001  42.410000  42.700001  10307400
    2014-06-13  42.049999  42.180000  41.709999  42.139999  ...
    2014-06-19  42.930000  43.189999  42.430000  42.509998
    2014-06-20  40.259998  40.939999  39.930000  40.820000   (a gap down of 5%)
    2014-12-31  the file's last bar (close 44.970001)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, ingest
from bifrost.errors import BrokerError, InvalidInputError
from bifrost.execution._broker import Broker
from bifrost.execution._fills import Commission, FillModel
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
    Rejected,
    RejectReason,
    Replaced,
    ReplaceRejected,
)
from bifrost.execution._paper import PaperBroker, fill_basis
from tests.conftest import ORCL

D = Decimal


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


class Clock:
    """The broker's now, moved by the test."""

    def __init__(self, start: str) -> None:
        self.now = day(start)

    def __call__(self) -> pd.Timestamp:
        return self.now


@pytest.fixture(scope="module")
def orcl_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    # one store for the module; each test trades on a venue of its own (a broker name)
    store = EmbeddedStore(tmp_path_factory.mktemp("paper") / "home")
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    yield store
    store.close()


def broker(
    store: BarStore, start: str, *, cash: Decimal | int | str = 100_000, positions: dict[str, object] | None = None,
    model: FillModel | None = None, account: str = "acct",
) -> tuple[PaperBroker, Clock]:  # fmt: skip
    clock = Clock(start)
    b = PaperBroker(store, fill_model=model, clock=clock, name=f"t-{uuid.uuid4().hex[:8]}")
    b.open_account(account, cash=cash, positions=positions)
    return b, clock


def order(cid: str, side: str = "buy", quantity: object = 100, *, account: str = "acct", **kw: str) -> Order:
    request = OrderRequest.create(
        portfolio=account, symbol="ORCL", side=side, quantity=quantity, client_order_id=cid, **kw  # type: ignore[arg-type]
    )  # fmt: skip
    return Order(order_id=cid, request=request, ts_created=day("2014-01-01"))


def step(b: PaperBroker, clock: Clock, to: str) -> list[OrderEvent]:
    clock.now = day(to)
    b.advance(clock.now)
    return list(b.poll_events())


def fills_of(events: Sequence[OrderEvent]) -> list[Filled]:
    return [e for e in events if isinstance(e, Filled)]


# -- market orders ------------------------------------------------------------------------------
def test_paper_broker_satisfies_the_broker_protocol(orcl_store: EmbeddedStore) -> None:
    b: Broker = PaperBroker(orcl_store)
    assert b.name == "paper"


def test_market_order_fills_at_the_next_bars_open(orcl_store: EmbeddedStore) -> None:
    b, clock = broker(orcl_store, "2014-06-04")
    answer = b.submit(order("m1"))
    assert [type(e) for e in answer] == [Accepted]
    events = step(b, clock, "2014-06-05")
    (fill,) = fills_of(events)
    assert fill.ts == day("2014-06-05") and fill.price == D("41.849998") and fill.quantity == D(100)
    assert fill_basis(fill.trade_id) == "next_open"
    (reported,) = b.fills("acct")
    assert reported.basis == "next_open" and reported.trade_id == fill.trade_id
    assert b.positions("acct") == {"ORCL": D(100)}
    account = b.account("acct")
    assert account.cash == D(100_000) - D(100) * D("41.849998")
    assert account.equity == account.cash + D(100) * D("42.099998")  # marked at 06-05's close
    assert b.get_order("m1") is not None and b.get_order("m1").status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert b.poll_events() == []  # each event once


def test_market_order_slippage_and_commission_are_the_fill_models(orcl_store: EmbeddedStore) -> None:
    model = FillModel(slippage_bps=10, commission=Commission(percent=0.001, minimum=1.0))
    b, clock = broker(orcl_store, "2014-06-04", model=model)
    b.submit(order("m1"))
    (fill,) = fills_of(step(b, clock, "2014-06-05"))
    # 41.849998 * (1 + 10bp) = 41.891848, inside the bar's range
    price = 41.849998 * (1.0 + 10 * 1e-4)
    assert float(fill.price) == price
    assert float(fill.commission) == 100 * price * 0.001 + 1.0


def test_market_order_with_no_later_bar_fills_at_the_last_close_at_once(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2015-01-05")  # after the file's last bar
    answer = b.submit(order("m1"))
    assert [type(e) for e in answer] == [Accepted, Filled]
    fill = answer[1]
    assert isinstance(fill, Filled)
    assert fill.price == D("44.970001") and fill.ts == day("2015-01-05")
    assert fill_basis(fill.trade_id) == "last_close" and b.fills("acct")[0].basis == "last_close"


def test_market_order_on_the_last_bars_date_waits_for_a_later_bar(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2014-12-31")  # the clock is the last bar's stamp: not after it
    assert [type(e) for e in b.submit(order("m1"))] == [Accepted]
    assert b.get_order("m1").status is OrderStatus.ACCEPTED  # type: ignore[union-attr]


# -- limit, stop, stop-limit: the bar's range, gaps ----------------------------------------------
@pytest.mark.parametrize(
    ("side", "kind", "prices", "placed", "filled_on", "price"),
    [
        ("buy", "limit", {"limit_price": "41.80"}, "2014-06-04", "2014-06-05", "41.80"),  # the low reaches it
        ("buy", "limit", {"limit_price": "42.00"}, "2014-06-04", "2014-06-05", "41.849998"),  # open below: at the open
        ("buy", "stop", {"stop_price": "42.20"}, "2014-06-04", "2014-06-05", "42.20"),  # the high reaches it
        ("buy", "stop", {"stop_price": "42.00"}, "2014-06-05", "2014-06-06", "42.290001"),  # gapped through: the open
        ("sell", "stop", {"stop_price": "42.00"}, "2014-06-19", "2014-06-20", "40.259998"),  # the gap down
        ("sell", "limit", {"limit_price": "42.30"}, "2014-06-04", "2014-06-05", "42.30"),
    ],
    ids=["limit-range", "limit-gap", "stop-range", "stop-gap-up", "stop-gap-down", "sell-limit"],
)
def test_priced_orders_fill_where_the_bars_range_reaches_them(
    orcl_store: EmbeddedStore, side: str, kind: str, prices: dict[str, str], placed: str, filled_on: str, price: str
) -> None:
    b, clock = broker(orcl_store, placed, positions={"ORCL": 100})
    b.submit(order("p1", side, order_type=kind, time_in_force="gtc", **prices))
    (fill,) = fills_of(step(b, clock, filled_on))
    assert fill.ts == day(filled_on) and fill.price == D(price) and fill_basis(fill.trade_id) == "bar_range"


def test_priced_order_not_reached_keeps_working(orcl_store: EmbeddedStore) -> None:
    b, clock = broker(orcl_store, "2014-06-04")
    b.submit(order("p1", order_type="limit", limit_price="41.00", time_in_force="gtc"))
    assert step(b, clock, "2014-06-12") == []
    (working,) = b.open_orders("acct")
    assert working.client_order_id == "p1" and working.status is OrderStatus.ACCEPTED


def test_stop_limit_remembers_its_fired_stop_across_bars(orcl_store: EmbeddedStore) -> None:
    # 06-05's high (42.33) fires the stop at 42.30; its low (41.74) misses the 41.72 limit.
    # 06-13's low (41.709999) reaches it while its high (42.18) is below the stop: only a
    # stop fired earlier fills there; a fresh stop-limit placed on 06-12 does not
    b, clock = broker(orcl_store, "2014-06-04")
    b.submit(order("s1", order_type="stop_limit", stop_price="42.30", limit_price="41.72", time_in_force="gtc"))
    assert fills_of(step(b, clock, "2014-06-12")) == []
    b.submit(order("s2", order_type="stop_limit", stop_price="42.30", limit_price="41.72", time_in_force="gtc"))
    (fill,) = fills_of(step(b, clock, "2014-06-13"))
    assert fill.client_order_id == "s1" and fill.price == D("41.72") and fill.ts == day("2014-06-13")
    assert b.get_order("s2").status is OrderStatus.ACCEPTED  # type: ignore[union-attr]


# -- the volume cap, the lot -----------------------------------------------------------------------
def test_volume_cap_fills_an_order_in_parts_across_bars(orcl_store: EmbeddedStore) -> None:
    # 1e-5 of 06-05's 10,647,800 shares is 106 (to the lot), of 06-06's 11,447,800: 114
    b, clock = broker(orcl_store, "2014-06-04", model=FillModel(volume_cap=1e-5))
    b.submit(order("v1", quantity=300, time_in_force="gtc"))
    first = fills_of(step(b, clock, "2014-06-05"))
    assert [f.quantity for f in first] == [D(106)]
    assert b.get_order("v1").status is OrderStatus.PARTIALLY_FILLED  # type: ignore[union-attr]
    rest = fills_of(step(b, clock, "2014-06-09"))
    assert [(f.ts, f.quantity) for f in rest] == [(day("2014-06-06"), D(114)), (day("2014-06-09"), D(80))]
    assert [f.price for f in first + rest] == [D("41.849998"), D("42.290001"), D("42.650002")]
    seen = b.get_order("v1")
    assert seen is not None and seen.status is OrderStatus.FILLED and seen.filled_quantity == D(300)
    assert seen.avg_fill_price == (106 * D("41.849998") + 114 * D("42.290001") + 80 * D("42.650002")) / 300
    assert len({f.trade_id for f in first + rest}) == 3


def test_quantity_off_the_lot_is_rejected(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2014-06-04")
    (rejected,) = b.submit(order("l1", quantity="10.5"))
    assert isinstance(rejected, Rejected) and rejected.reason is RejectReason.BROKER and "lot size" in rejected.message


# -- time in force: DAY, GTC, IOC, FOK -------------------------------------------------------------
def test_day_order_expires_at_the_end_of_its_session_gtc_does_not(orcl_store: EmbeddedStore) -> None:
    b, clock = broker(orcl_store, "2014-06-04")
    b.submit(order("d1", order_type="limit", limit_price="40.00", time_in_force="day"))
    b.submit(order("g1", order_type="limit", limit_price="40.00", time_in_force="gtc"))
    assert step(b, clock, "2014-06-05") == []  # its session: 06-05, the first bar it can trade on
    (expired,) = step(b, clock, "2014-06-06")
    assert isinstance(expired, Expired) and expired.client_order_id == "d1" and expired.ts == day("2014-06-06")
    assert b.get_order("d1").status is OrderStatus.EXPIRED  # type: ignore[union-attr]
    assert [o.client_order_id for o in b.open_orders("acct")] == ["g1"]


def test_ioc_fills_at_the_current_close_or_cancels(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2014-06-05")  # the current bar: 06-05, close 42.099998
    missed = b.submit(order("i1", order_type="limit", limit_price="42.00", time_in_force="ioc"))
    assert [type(e) for e in missed] == [Accepted, Canceled]
    assert isinstance(missed[1], Canceled) and missed[1].reason is CancelReason.UNFILLED
    hit = b.submit(order("i2", order_type="limit", limit_price="42.20", time_in_force="ioc"))
    assert [type(e) for e in hit] == [Accepted, Filled]
    assert isinstance(hit[1], Filled) and hit[1].price == D("42.099998") and fill_basis(hit[1].trade_id) == "last_close"


def test_ioc_takes_what_the_volume_cap_allows_and_fok_all_or_nothing(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2014-06-05", model=FillModel(volume_cap=1e-5))  # 106 shares on 06-05
    ioc = b.submit(order("i1", quantity=300, time_in_force="ioc"))
    assert [type(e) for e in ioc] == [Accepted, Filled, Canceled]
    assert isinstance(ioc[1], Filled) and ioc[1].quantity == D(106)
    fok = b.submit(order("f1", quantity=300, time_in_force="fok"))
    assert [type(e) for e in fok] == [Accepted, Canceled]
    fok_small = b.submit(order("f2", quantity=100, time_in_force="fok"))
    assert [type(e) for e in fok_small] == [Accepted, Filled]
    assert b.positions("acct") == {"ORCL": D(206)}


# -- cash and shorts ------------------------------------------------------------------------------
def test_fill_costing_more_than_the_cash_is_rejected_insufficient_cash(orcl_store: EmbeddedStore) -> None:
    # 100 x 41.849998 = 4184.9998: 4185 pays it, but not with a 1.00 commission on top
    b, clock = broker(orcl_store, "2014-06-04", cash="4185")
    b.submit(order("c1"))
    assert [type(e) for e in step(b, clock, "2014-06-05")] == [Filled]
    b2, clock2 = broker(orcl_store, "2014-06-04", cash="4185", model=FillModel(commission=Commission(fixed=1.0)))
    b2.submit(order("c1"))
    (rejected,) = step(b2, clock2, "2014-06-05")
    assert isinstance(rejected, Rejected) and rejected.reason is RejectReason.INSUFFICIENT_CASH
    assert b2.positions("acct") == {} and b2.account("acct").cash == D(4185)


def test_sell_without_shares_is_rejected_unless_the_model_allows_shorts(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2015-01-05")
    (_, rejected) = b.submit(order("s1", "sell"))
    assert isinstance(rejected, Rejected) and rejected.reason is RejectReason.SHORT_NOT_ALLOWED
    b2, _ = broker(orcl_store, "2015-01-05", model=FillModel(allow_short=True, leverage=2.0))
    (_, filled) = b2.submit(order("s1", "sell"))
    assert isinstance(filled, Filled) and b2.positions("acct") == {"ORCL": D(-100)}
    assert b2.account("acct").cash == D(100_000) + D(100) * D("44.970001")


# -- quotes ---------------------------------------------------------------------------------------
def test_live_quote_fills_marketable_orders_at_the_quote(orcl_store: EmbeddedStore) -> None:
    b, clock = broker(orcl_store, "2015-01-05T15:00")
    b.submit(order("q1", order_type="limit", limit_price="44.50", time_in_force="gtc"))
    b.quote("ORCL", "44.40", "44.45", ts=day("2015-01-05T15:30"))
    (fill,) = fills_of(b.poll_events())
    assert fill.client_order_id == "q1" and fill.price == D("44.45") and fill_basis(fill.trade_id) == "quote"
    clock.now = day("2015-01-05T16:00")
    (_, sold) = b.submit(order("q2", "sell", 50))
    assert isinstance(sold, Filled) and sold.price == D("44.4")  # a market sell at the bid, not the last close


def test_quote_is_stale_once_a_later_bar_is_processed(orcl_store: EmbeddedStore) -> None:
    b, clock = broker(orcl_store, "2014-06-04T15:00")
    b.quote("ORCL", "41.60", "41.65", ts=day("2014-06-04T14:00"))
    clock.now = day("2014-06-05T15:00")  # bar 06-05 is newer than the quote
    assert [type(e) for e in b.submit(order("m1", order_type="limit", limit_price="41.70"))] == [Accepted]


# -- cancel, replace, idempotency -----------------------------------------------------------------
def test_cancel_and_replace_a_working_order(orcl_store: EmbeddedStore) -> None:
    b, clock = broker(orcl_store, "2014-06-04")
    o = order("r1", order_type="limit", limit_price="41.00", time_in_force="gtc")
    b.submit(o)
    (replaced,) = b.replace(o, quantity=D(200), limit_price=D("41.80"))
    assert isinstance(replaced, Replaced) and replaced.quantity == D(200) and replaced.limit_price == D("41.80")
    (fill,) = fills_of(step(b, clock, "2014-06-05"))
    assert fill.quantity == D(200) and fill.price == D("41.80")
    (late,) = b.cancel(o)
    assert isinstance(late, CancelRejected) and "filled" in late.message
    (refused,) = b.replace(o, quantity=D(300))
    assert isinstance(refused, ReplaceRejected)
    w = order("r2", order_type="limit", limit_price="41.00", time_in_force="gtc")
    b.submit(w)
    (canceled,) = b.cancel(w)
    assert isinstance(canceled, Canceled) and canceled.reason is CancelReason.REQUESTED
    assert b.open_orders("acct") == []


@pytest.mark.parametrize(
    ("change", "why"),
    [({"quantity": D(0)}, "above"), ({"stop_price": D(40)}, "has no stop_price"), ({"limit_price": D(-1)}, "positive")],
)
def test_replace_with_bad_values_is_refused(orcl_store: EmbeddedStore, change: dict[str, Decimal], why: str) -> None:
    b, _ = broker(orcl_store, "2014-06-04")
    o = order("r1", order_type="limit", limit_price="41.00", time_in_force="gtc")
    b.submit(o)
    (refused,) = b.replace(o, **change)
    assert isinstance(refused, ReplaceRejected) and why in refused.message


def test_submit_of_a_known_client_order_id_returns_its_events_and_makes_no_second_order(
    orcl_store: EmbeddedStore,
) -> None:
    b, clock = broker(orcl_store, "2014-06-04")
    first = b.submit(order("dup"))
    step(b, clock, "2014-06-05")
    again = b.submit(order("dup"))
    assert [type(e) for e in again] == [Accepted, Filled] and again[0] == first[0]
    assert len(b.fills("acct")) == 1 and b.positions("acct") == {"ORCL": D(100)}


# -- bad input --------------------------------------------------------------------------------------
def test_orders_the_broker_cannot_take_are_rejected_events(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2014-06-04")
    (no_account,) = b.submit(order("a1", account="nobody"))
    assert isinstance(no_account, Rejected) and "no paper account" in no_account.message
    request = OrderRequest.create(portfolio="acct", symbol="NOPE", side="buy", quantity=1, client_order_id="n1")
    (no_bars,) = b.submit(Order(order_id="n1", request=request, ts_created=day("2014-01-01")))
    assert isinstance(no_bars, Rejected) and no_bars.reason is RejectReason.BROKER and "NOPE" in no_bars.message


def test_advance_backwards_is_refused(orcl_store: EmbeddedStore) -> None:
    b, clock = broker(orcl_store, "2014-06-04")
    b.submit(order("m1"))
    step(b, clock, "2014-06-05")
    with pytest.raises(InvalidInputError, match="only moves forward"):
        b.advance(day("2014-06-04"))
    with pytest.raises(InvalidInputError, match="ts must be a date"):
        b.advance("not a date")


@pytest.mark.parametrize(
    ("bid", "ask", "match"), [("44.5", "44.4", "above ask"), (float("nan"), "44", "bid"), ("1", "1e308", "ask")]
)
def test_bad_quotes_are_refused(orcl_store: EmbeddedStore, bid: object, ask: object, match: str) -> None:
    b, _ = broker(orcl_store, "2015-01-05")
    with pytest.raises(InvalidInputError, match=match):
        b.quote("ORCL", bid, ask)


@pytest.mark.parametrize(
    ("cash", "positions", "match"),
    [
        ("-1", None, "must not be negative"),
        (float("inf"), None, "finite"),
        (1, {"ORCL": float("nan")}, "position in ORCL"),
        (1, {"bad symbol": 1}, "symbol"),
    ],
)
def test_open_account_refuses_bad_seeds(
    orcl_store: EmbeddedStore, cash: object, positions: dict[str, object] | None, match: str
) -> None:
    b = PaperBroker(orcl_store, name=f"t-{uuid.uuid4().hex[:8]}")
    with pytest.raises(InvalidInputError, match=match):
        b.open_account("acct", cash=cash, positions=positions)  # type: ignore[arg-type]
    assert not b.has_account("acct")


def test_accounts_are_opened_once_and_unknown_ones_refused(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2014-06-04")
    with pytest.raises(BrokerError, match="open already"):
        b.open_account("acct", cash=1)
    with pytest.raises(BrokerError, match="no paper account 'other'"):
        b.account("other")


def test_broker_options_are_checked(orcl_store: EmbeddedStore) -> None:
    with pytest.raises(InvalidInputError, match="fill_model must be a FillModel"):
        PaperBroker(orcl_store, fill_model="open")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="adjustment"):
        PaperBroker(orcl_store, adjustment="weird")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="clock"):
        PaperBroker(orcl_store, clock="now")  # type: ignore[arg-type]


# -- durable: the other side survives its callers -------------------------------------------------
@pytest.mark.parametrize("store", ["embedded", "postgres"], indirect=True)
def test_state_survives_a_new_broker_object_on_the_same_store(store: BarStore, tmp_path: Path) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2014-06-01", end="2014-07-01")
    name = "paper-durable"
    clock = Clock("2014-06-04")
    first = PaperBroker(store, clock=clock, name=name)
    first.open_account("acct", cash=100_000)
    first.submit(order("m1"))
    first.submit(order("g1", order_type="limit", limit_price="40.00", time_in_force="gtc"))
    clock.now = day("2014-06-05")
    second = PaperBroker(store, clock=clock, name=name)  # the first is gone (its caller was killed)
    assert [type(e) for e in second.submit(order("m1"))] == [Accepted]  # known: no second order
    second.advance(clock.now)
    del second
    third = PaperBroker(store, name=name)  # no clock: the time it was advanced to
    (fill,) = fills_of(third.poll_events())
    assert fill.client_order_id == "m1" and fill.price == D("41.849998")
    assert third.poll_events() == []
    assert third.positions("acct") == {"ORCL": D(100)}
    assert [o.client_order_id for o in third.open_orders("acct")] == ["g1"]
    assert [f.trade_id for f in third.fills("acct")] == [fill.trade_id]
    assert third.account("acct").cash == D(100_000) - 100 * D("41.849998")
    with pytest.raises(InvalidInputError, match="only moves forward"):
        third.advance(day("2014-06-04"))
    other = PaperBroker(store, clock=clock, name="another-venue")  # venues do not share orders
    assert other.get_order("m1") is None and not other.has_account("acct")


def test_polled_events_are_delivered_at_least_once_and_marked_with_the_next_write(orcl_store: EmbeddedStore) -> None:
    b, clock = broker(orcl_store, "2014-06-04")
    b.submit(order("m1"))
    (fill,) = step(b, clock, "2014-06-05")
    assert b.poll_events() == []
    # a caller restarted before the broker wrote again gets the event again (it skips a fill it knows)
    assert PaperBroker(orcl_store, clock=clock, name=b.name).poll_events() == [fill]
    b.submit(order("m2", order_type="limit", limit_price="30.00", time_in_force="gtc"))  # any write marks it
    assert PaperBroker(orcl_store, clock=clock, name=b.name).poll_events() == []


def test_fill_at_close_fills_a_market_order_at_the_current_bars_close(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2014-06-05", model=FillModel(fill_at="close"))
    (_, fill) = b.submit(order("c1"))
    assert isinstance(fill, Filled) and fill.price == D("42.099998") and fill_basis(fill.trade_id) == "last_close"


def test_orders_reducing_exposure_fill_first_on_a_bar(orcl_store: EmbeddedStore) -> None:
    # with 1.00 in cash, the buy (sent first) is paid by the sale on the same bar, as in the backtest
    b, clock = broker(orcl_store, "2014-06-04", cash=1, positions={"ORCL": 100})
    b.submit(order("buy", "buy", 100))
    b.submit(order("sell", "sell", 100))
    events = step(b, clock, "2014-06-05")
    assert [(type(e), e.client_order_id) for e in events] == [(Filled, "sell"), (Filled, "buy")]
    assert b.positions("acct") == {"ORCL": D(100)} and b.account("acct").cash == D(1)


def test_ioc_trades_against_a_live_quote(orcl_store: EmbeddedStore) -> None:
    b, _ = broker(orcl_store, "2015-01-05T16:00")
    b.quote("ORCL", "44.40", "44.45", ts=day("2015-01-05T15:30"))
    (_, fill) = b.submit(order("i1", order_type="limit", limit_price="44.50", time_in_force="ioc"))
    assert isinstance(fill, Filled) and fill.price == D("44.45") and fill_basis(fill.trade_id) == "quote"
    (_, missed) = b.submit(order("i2", order_type="limit", limit_price="44.40", time_in_force="fok"))
    assert isinstance(missed, Canceled) and missed.reason is CancelReason.UNFILLED


def test_day_order_partly_filled_under_the_cap_expires_the_rest(orcl_store: EmbeddedStore) -> None:
    b, clock = broker(orcl_store, "2014-06-04", model=FillModel(volume_cap=1e-5))
    b.submit(order("d1", quantity=300, time_in_force="day"))
    assert [f.quantity for f in fills_of(step(b, clock, "2014-06-05"))] == [D(106)]
    (expired,) = step(b, clock, "2014-06-06")
    assert isinstance(expired, Expired)
    seen = b.get_order("d1")
    assert seen is not None and seen.status is OrderStatus.EXPIRED and seen.filled_quantity == D(106)


def test_rest_of_a_partly_filled_order_the_cash_cannot_pay_is_canceled(orcl_store: EmbeddedStore) -> None:
    # 106 x 41.849998 = 4436.10 of the 5000; the next 114 at 42.290001 cost more than what is left
    b, clock = broker(orcl_store, "2014-06-04", cash=5000, model=FillModel(volume_cap=1e-5))
    b.submit(order("c1", quantity=300, time_in_force="gtc"))
    events = step(b, clock, "2014-06-06")
    assert [type(e) for e in events] == [Filled, Canceled]
    canceled = events[1]
    assert isinstance(canceled, Canceled) and canceled.reason is CancelReason.BROKER
    assert canceled.message.startswith("insufficient_cash")
    assert b.positions("acct") == {"ORCL": D(106)}
