"""The order manager's flows on real ORCL bars with the real paper broker."""

from __future__ import annotations

import io
import json
import os
import signal
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from bifrost.compliance import export_audit, verify_audit
from bifrost.data import AUDIT_SCHEMA, BarStore, Store
from bifrost.errors import BrokerUnavailableError, InvalidInputError, NotFoundError, ReconciliationError
from bifrost.execution._broker import BrokerAccount, BrokerFill, BrokerOrder
from bifrost.execution._checks import TradingState, set_trading_state
from bifrost.execution._manager import OrderManager, list_orders, load_order
from bifrost.execution._order import (
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from bifrost.execution._paper import PaperBroker
from bifrost.execution._schema import EXECUTION_SCHEMA
from bifrost.portfolio import CashFlow, CashKind, create_portfolio, load_portfolio, record_transactions
from bifrost.risk import Limit, set_limits
from tests.execution._crash_child import Clock, check_recovered, day, kill_at, parts, reopen, seed

BACKENDS = ["embedded", pytest.param("postgres", marks=pytest.mark.postgres)]
LAST_CLOSE = Decimal("44.970001")  # ORCL 2014-12-31, the file's last bar


@pytest.fixture
def seeded(store: BarStore) -> BarStore:
    seed(store, 1)
    return store


def buy(quantity: int = 100, **kw: object) -> OrderRequest:
    return OrderRequest(portfolio="P0", symbol="ORCL", side=Side.BUY, quantity=Decimal(quantity), **kw)  # type: ignore[arg-type]


def audit_kinds(store: Store) -> list[str]:
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        return [str(r[0]) for r in db.rows("SELECT kind FROM {t}audit_log ORDER BY seq")]


def count(store: Store, table: str) -> int:
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        return int(db.rows(f"SELECT count(*) FROM {{t}}{table}")[0][0])


class LossyLink:
    """A broker reached over a link that times out: the fake of a network this machine cannot reach.

    ``lose`` says when the submit call fails: ``"answer"`` (the order reached the broker, the
    answer was lost) or ``"request"`` (the order never reached it). Everything else passes.
    """

    def __init__(self, broker: PaperBroker, lose: str) -> None:
        self.inner, self.lose, self.name = broker, lose, broker.name

    def submit(self, order: Order) -> list[OrderEvent]:
        if self.lose == "answer":
            self.inner.submit(order)
        raise BrokerUnavailableError("paper: POST /orders timed out after 10 s")

    def cancel(self, order: Order) -> list[OrderEvent]:
        return self.inner.cancel(order)

    def replace(self, order: Order, **kw: Decimal | None) -> list[OrderEvent]:
        return self.inner.replace(order, **kw)

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        return self.inner.get_order(client_order_id)

    def open_orders(self, account: str) -> list[BrokerOrder]:
        return self.inner.open_orders(account)

    def fills(self, account: str, *, since: pd.Timestamp | None = None) -> list[BrokerFill]:
        return self.inner.fills(account, since=since)

    def positions(self, account: str) -> dict[str, Decimal]:
        return self.inner.positions(account)

    def account(self, account: str) -> BrokerAccount:
        return self.inner.account(account)

    def poll_events(self) -> list[OrderEvent]:
        return self.inner.poll_events()

    def has_account(self, account: str) -> bool:
        return self.inner.has_account(account)

    def open_account(self, account: str, *, cash: Decimal, positions: dict[str, Decimal]) -> None:
        self.inner.open_account(account, cash=cash, positions=positions)


@pytest.mark.parametrize("store", BACKENDS, indirect=True)
def test_submit_market_without_later_bar_fills_at_last_close_books_ledger_and_audits(seeded: BarStore) -> None:
    # Arrange: the wall clock is past ORCL's last bar: a market order fills at the last close at once
    manager = OrderManager(seeded, PaperBroker(seeded))
    # Act
    order = manager.submit(buy(100, client_order_id="a1"))
    # Assert
    assert order.status is OrderStatus.FILLED and order.filled_quantity == 100
    assert order.avg_fill_price == LAST_CLOSE
    ledger = load_portfolio(seeded, "P0", store_dividends=False)
    assert ledger.position("ORCL").quantity == 100
    assert ledger.cash == Decimal(1_000_000) - 100 * LAST_CLOSE
    assert [t.txn_id for t in ledger.transactions][-1].startswith("paper:a1:")
    assert load_order(seeded, "a1") == order
    # the default compliance rules are applied (and their text audited) before the first decision under them
    assert audit_kinds(seeded) == ["compliance.rules", "order.request", *["pretrade.decision"] * 3,
                                   "order.event", "order.event", "order.event", "fill"]  # fmt: skip
    assert verify_audit(seeded).ok
    # what was ordered is in the chain itself (found by QA: only the orders table had it)
    (asked,) = [r for r in _audit_records(seeded) if r["kind"] == "order.request"]
    assert asked["subject"] == "a1" and asked["payload"]["request"] == {
        "portfolio": "P0", "symbol": "ORCL", "side": "buy", "quantity": "100", "order_type": "market",
        "limit_price": None, "stop_price": None, "time_in_force": "day", "client_order_id": "a1",
    }  # fmt: skip


def _audit_records(store: BarStore) -> list[dict[str, Any]]:
    out = io.StringIO()
    export_audit(store, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_submit_same_client_order_id_twice_returns_the_stored_order(seeded: BarStore) -> None:
    broker = PaperBroker(seeded)
    manager = OrderManager(seeded, broker)
    first = manager.submit(buy(10, client_order_id="same"))
    # Act: again, and from a restarted manager
    again = manager.submit(buy(10, client_order_id="same"))
    restarted = OrderManager(seeded, PaperBroker(seeded)).submit(buy(10, client_order_id="same"))
    # Assert: one order, one fill, one ledger entry
    assert again == first == restarted
    assert count(seeded, "orders") == 1 and count(seeded, "execution_fills") == 1
    assert load_portfolio(seeded, "P0", store_dividends=False).position("ORCL").quantity == 10


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_submit_same_client_order_id_other_request_raises_and_audits_refusal(seeded: BarStore) -> None:
    manager = OrderManager(seeded, PaperBroker(seeded))
    manager.submit(buy(10, client_order_id="same"))
    with pytest.raises(InvalidInputError, match=r"'same' is already order .* with another request"):
        manager.submit(buy(11, client_order_id="same"))
    assert count(seeded, "orders") == 1
    assert audit_kinds(seeded)[-1] == "order.refused"


BAD_ORDERS: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"quantity": "nan"}, InvalidInputError, "quantity"),
    ({"quantity": 0}, InvalidInputError, "quantity"),
    ({"quantity": -5}, InvalidInputError, "quantity"),
    ({"quantity": "1e308"}, InvalidInputError, "quantity"),
    ({"quantity": float("inf")}, InvalidInputError, "quantity"),
    ({"symbol": "NOPE"}, InvalidInputError, "unknown symbol 'NOPE'"),
    ({"order_type": "limit", "limit_price": "10.001"}, InvalidInputError, "off the tick"),
    ({"order_type": "limit"}, InvalidInputError, "limit"),
    ({"order_type": "stop_limit", "limit_price": "10"}, InvalidInputError, "stop"),
    ({"portfolio": "nobody"}, NotFoundError, "no portfolio 'nobody'"),
    ({"colour": "red"}, InvalidInputError, "unknown order field"),
]


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
@pytest.mark.parametrize(("change", "error", "match"), BAD_ORDERS)
def test_submit_bad_order_raises_and_changes_nothing_but_audit(
    seeded: BarStore, change: dict[str, object], error: type[Exception], match: str
) -> None:
    broker = PaperBroker(seeded)
    manager = OrderManager(seeded, broker)
    fields: dict[str, object] = {"portfolio": "P0", "symbol": "ORCL", "side": "buy", "quantity": "10"} | change
    # Act
    with pytest.raises(error, match=match):
        manager.submit(fields)
    # Assert: only an order.refused record
    assert count(seeded, "orders") == 0 and count(seeded, "pretrade_decisions") == 0
    assert audit_kinds(seeded) == ["order.refused"]
    assert not broker.has_account("P0")
    assert len(load_portfolio(seeded, "P0", store_dividends=False).transactions) == 1


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_submit_to_halted_book_is_rejected_with_its_reason_visible(seeded: BarStore) -> None:
    broker = PaperBroker(seeded)
    manager = OrderManager(seeded, broker)
    set_trading_state(seeded, "P0", TradingState.HALTED, reason="desk closed")
    # Act
    order = manager.submit(buy(10, client_order_id="h1"))
    # Assert: rejected, recorded and listed with the reason; the broker never saw it
    assert order.status is OrderStatus.REJECTED and order.reject_reason is RejectReason.TRADING_HALTED
    assert "halted" in order.reasons[0]
    listed = list_orders(seeded, portfolio="P0")
    assert listed["status"].tolist() == ["rejected"] and "halted" in listed["reasons"].iloc[0]
    with seeded.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        verdicts = db.rows("SELECT check_name, verdict FROM {t}pretrade_decisions ORDER BY id")
    assert verdicts == [("risk_limits", "pass"), ("trading_state", "block"), ("compliance", "pass")]
    assert broker.get_order("h1") is None


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_submit_above_single_name_limit_is_rejected_risk_limit(seeded: BarStore) -> None:
    set_limits(seeded, "P0", [Limit(name="one_name", metric="single_name", threshold=0.10)])
    manager = OrderManager(seeded, PaperBroker(seeded))
    # Act: 10,000 ORCL at ~45 is ~45% of the 1,000,000 equity
    order = manager.submit(buy(10_000))
    small = manager.submit(buy(1_000))  # ~4.5%: passes
    # Assert
    assert order.status is OrderStatus.REJECTED and order.reject_reason is RejectReason.RISK_LIMIT
    assert "one_name" in order.reasons[0] and "above 10.00%" in order.reasons[0]
    assert small.status is OrderStatus.FILLED


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_submit_answer_lost_leaves_order_in_doubt_resolved_by_client_order_id(seeded: BarStore) -> None:
    # Arrange: the order reaches the broker, the answer times out
    paper = PaperBroker(seeded)
    manager = OrderManager(seeded, LossyLink(paper, lose="answer"))
    # Act
    order = manager.submit(buy(10, client_order_id="d1"))
    # Assert: in doubt, not re-sent; resolved by asking for d1
    assert order.status is OrderStatus.SUBMITTED and order.in_doubt
    (resolved,) = manager.process_events()
    assert resolved.status is OrderStatus.FILLED and not resolved.in_doubt
    assert resolved.filled_quantity == 10 and count(seeded, "execution_fills") == 1
    assert len(paper.fills("P0")) == 1
    assert manager.process_events() == []  # nothing left to learn


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_submit_request_lost_in_doubt_resolved_not_received(seeded: BarStore) -> None:
    paper = PaperBroker(seeded)
    manager = OrderManager(seeded, LossyLink(paper, lose="request"))
    order = manager.submit(buy(10, client_order_id="d2"))
    assert order.in_doubt
    # Act
    (resolved,) = manager.process_events()
    # Assert
    assert resolved.status is OrderStatus.REJECTED and resolved.reject_reason is RejectReason.NOT_RECEIVED
    assert paper.get_order("d2") is None


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_process_events_fill_at_next_open_reaches_ledger_and_bus(seeded: BarStore) -> None:
    # Arrange: in ORCL's history, 2010-01-04 after the close
    clock = Clock(day(0, 0))
    broker = PaperBroker(seeded, clock=clock)
    manager = OrderManager(seeded, broker, clock=clock)
    seen: list[tuple[str, str]] = []
    manager.subscribe(lambda o, e: seen.append((o.client_order_id, type(e).__name__)))
    order = manager.submit(buy(100, client_order_id="n1"))
    assert order.status is OrderStatus.ACCEPTED
    # Act: the next session opens
    clock.now = day(0, 1)
    broker.advance(clock.now)
    (filled,) = manager.process_events()
    # Assert: 2010-01-05's open, in the ledger on that date
    assert filled.status is OrderStatus.FILLED and filled.avg_fill_price == Decimal("24.719999")
    (fill,) = [t for t in load_portfolio(seeded, "P0", store_dividends=False).transactions if t.txn_id != "deposit"]
    assert fill.ts == pd.Timestamp("2010-01-05", tz="UTC")
    assert seen == [("n1", "Submitted"), ("n1", "Accepted"), ("n1", "Filled")]


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_cancel_working_order_is_canceled_even_when_halted(seeded: BarStore) -> None:
    clock = Clock(day(0, 0))
    broker = PaperBroker(seeded, clock=clock)
    manager = OrderManager(seeded, broker, clock=clock)
    # a working limit below the market, inside the default 10% price collar (ORCL closed 24.85 that day)
    limit = buy(10, order_type=OrderType.LIMIT, limit_price=Decimal("23.00"), time_in_force=TimeInForce.GTC)
    order = manager.submit(limit)
    set_trading_state(seeded, "P0", "halted", reason="kill switch test")
    # Act
    canceled = manager.cancel(order.order_id)
    # Assert
    assert canceled.status is OrderStatus.CANCELED
    assert broker.open_orders("P0") == [] and manager.orders(open_only=True) == []


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_replace_working_limit_moves_its_price(seeded: BarStore) -> None:
    clock = Clock(day(0, 0))
    manager = OrderManager(seeded, PaperBroker(seeded, clock=clock), clock=clock)
    order = manager.submit(  # below the market, inside the default 10% price collar (ORCL closed 24.85)
        buy(10, order_type=OrderType.LIMIT, limit_price=Decimal("23.00"), time_in_force=TimeInForce.GTC)
    )
    # Act
    replaced = manager.replace(order.order_id, limit_price="23.50")
    # Assert
    assert replaced.limit_price == Decimal("23.50") and replaced.status is OrderStatus.ACCEPTED
    with pytest.raises(InvalidInputError, match="off the tick"):
        manager.replace(order.order_id, limit_price="23.001")


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_reconcile_unknown_broker_working_order_raises_listing_it(seeded: BarStore) -> None:
    # Arrange: an order placed at the broker behind the manager's back
    clock = Clock(day(0, 0))
    broker = PaperBroker(seeded, clock=clock)
    manager = OrderManager(seeded, broker, clock=clock)
    manager.submit(buy(10, client_order_id="known"))
    stranger = Order(order_id="stranger", request=buy(5, client_order_id="stranger"), ts_created=clock.now)
    broker.submit(stranger)
    # Act / Assert
    with pytest.raises(ReconciliationError, match="broker working order stranger is not known"):
        manager.reconcile()


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_list_orders_empty_store_has_documented_columns(seeded: BarStore) -> None:
    frame = list_orders(seeded)
    assert frame.empty and list(frame.columns) == [
        "order_id", "client_order_id", "portfolio", "symbol", "side", "order_type", "quantity", "filled_quantity",
        "avg_fill_price", "status", "ts_created", "ts_updated", "reasons",
    ]  # fmt: skip


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_fill_the_ledger_refuses_is_kept_and_reconcile_reports_it(seeded: BarStore) -> None:
    # Arrange: a portfolio whose inception is after the fill's date: the ledger refuses the fill
    create_portfolio(seeded, "late", inception="2010-06-01")
    record_transactions(seeded, "late", [CashFlow(txn_id="d", ts=pd.Timestamp("2010-06-01", tz="UTC"),
                                                  kind=CashKind.DEPOSIT, amount=Decimal(100_000))])  # fmt: skip
    clock = Clock(day(0, 0))
    broker = PaperBroker(seeded, clock=clock)
    manager = OrderManager(seeded, broker, clock=clock)
    manager.submit(OrderRequest(portfolio="late", symbol="ORCL", side=Side.BUY, quantity=Decimal(10)))
    clock.now = day(0, 1)
    broker.advance(clock.now)
    # Act
    (order,) = manager.process_events()
    # Assert: the broker's fill is recorded with the ledger's refusal; reconcile names the difference
    assert order.status is OrderStatus.FILLED
    with seeded.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        ((txn_id, error),) = db.rows("SELECT txn_id, ledger_error FROM {t}execution_fills")
    assert txn_id is None and "before the portfolio's inception" in error
    with pytest.raises(ReconciliationError, match="late ORCL: the ledger holds 0, the broker 10"):
        manager.reconcile()


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_ledger_appended_by_another_writer_between_fills_is_reloaded(seeded: BarStore) -> None:
    manager = OrderManager(seeded, PaperBroker(seeded))
    manager.submit(buy(10))
    # Act: another writer records a deposit behind the manager's cached ledger, then the manager books a fill
    record_transactions(seeded, "P0", [CashFlow(txn_id="more", ts=pd.Timestamp.now(tz="UTC"), kind=CashKind.DEPOSIT,
                                                amount=Decimal(5))])  # fmt: skip
    manager.submit(buy(10))
    # Assert: both stored, in order, none lost
    ids = [t.txn_id for t in load_portfolio(seeded, "P0", store_dividends=False).transactions]
    assert len(ids) == 4 and ids[0] == "deposit" and ids[2] == "more"


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_replace_and_cancel_bad_requests(seeded: BarStore) -> None:
    manager = OrderManager(seeded, PaperBroker(seeded))
    filled = manager.submit(buy(10))
    with pytest.raises(InvalidInputError, match="only a working order can be replaced"):
        manager.replace(filled.order_id, quantity=20)
    assert manager.cancel(filled.order_id) == filled  # final: returned as it is
    with pytest.raises(NotFoundError, match="no order with order id or client order id 'nope'"):
        manager.cancel("nope")
    with pytest.raises(InvalidInputError, match="id"):
        load_order(seeded, "bad id with spaces")


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_replace_without_a_change_raises(seeded: BarStore) -> None:
    clock = Clock(day(0, 0))
    manager = OrderManager(seeded, PaperBroker(seeded, clock=clock), clock=clock)
    order = manager.submit(  # below the market, inside the default 10% price collar (ORCL closed 24.85)
        buy(10, order_type=OrderType.LIMIT, limit_price=Decimal("23.00"), time_in_force=TimeInForce.GTC)
    )
    with pytest.raises(InvalidInputError, match="needs a new quantity"):
        manager.replace(order.order_id)


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_manager_check_without_name_or_method_raises(seeded: BarStore) -> None:
    with pytest.raises(InvalidInputError, match="a pre-trade check has a name and a check method"):
        OrderManager(seeded, PaperBroker(seeded), checks=[object()])  # type: ignore[list-item]


# -- submit_many: the group commit -----------------------------------------------------------------
@pytest.mark.parametrize("store", BACKENDS, indirect=True)
def test_submit_many_blocked_order_in_batch_is_rejected_while_the_others_fill(seeded: BarStore) -> None:
    # Arrange: a 10% single-name limit; the middle order (~45% of equity) crosses it
    set_limits(seeded, "P0", [Limit(name="one_name", metric="single_name", threshold=0.10)])
    manager = OrderManager(seeded, PaperBroker(seeded))
    batch = [buy(1_000, client_order_id="m1"), buy(10_000, client_order_id="m2"), buy(500, client_order_id="m3")]
    # Act
    orders = manager.submit_many(batch)
    # Assert: in the requests' order; the blocked one rejected with its reason, the others filled and booked
    assert [o.client_order_id for o in orders] == ["m1", "m2", "m3"]
    assert [o.status for o in orders] == [OrderStatus.FILLED, OrderStatus.REJECTED, OrderStatus.FILLED]
    assert orders[1].reject_reason is RejectReason.RISK_LIMIT and "one_name" in orders[1].reasons[0]
    assert load_portfolio(seeded, "P0", store_dividends=False).position("ORCL").quantity == 1_500
    assert [load_order(seeded, o.client_order_id) for o in orders] == orders
    kinds = audit_kinds(seeded)
    assert kinds.count("pretrade.decision") == 9 and kinds.count("fill") == 2  # 3 checks (risk, state, compliance)
    assert kinds.count("order.event") == 3 + 1 + 3  # submitted, accepted, filled twice; rejected once
    assert verify_audit(seeded).ok


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_submit_many_again_returns_the_stored_orders_and_sends_nothing_twice(seeded: BarStore) -> None:
    manager = OrderManager(seeded, PaperBroker(seeded))
    batch = [buy(10, client_order_id="r1"), buy(20, client_order_id="r2")]
    first = manager.submit_many(batch)
    # Act: the same batch again, from this manager and from a restarted one, and one id twice in a batch
    again = manager.submit_many(batch)
    restarted = OrderManager(seeded, PaperBroker(seeded)).submit_many([*batch, batch[0]])
    # Assert: two orders, two fills, two ledger entries
    assert again == first and restarted == [*first, first[0]]
    assert count(seeded, "orders") == 2 and count(seeded, "execution_fills") == 2
    assert load_portfolio(seeded, "P0", store_dividends=False).position("ORCL").quantity == 30


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_submit_many_bad_or_conflicting_request_raises_and_writes_nothing_of_the_batch(seeded: BarStore) -> None:
    manager = OrderManager(seeded, PaperBroker(seeded))
    # Act / Assert: an unknown symbol in place 1; one id with two requests
    unknown = OrderRequest(portfolio="P0", symbol="NOSUCH", side=Side.BUY, quantity=Decimal(1))
    with pytest.raises(InvalidInputError, match=r"order 1 of the batch: unknown symbol 'NOSUCH'"):
        manager.submit_many([buy(10, client_order_id="b1"), unknown])
    with pytest.raises(InvalidInputError, match=r"client_order_id 'b2' is already order .* with another request"):
        manager.submit_many([buy(10, client_order_id="b2"), buy(11, client_order_id="b2")])
    assert count(seeded, "orders") == 0 and count(seeded, "execution_fills") == 0
    assert audit_kinds(seeded) == ["order.refused", "order.refused"]
    assert manager.submit_many([]) == []


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_submit_many_killed_between_its_phases_recovers_without_divergence(seeded: BarStore) -> None:
    # Arrange: one portfolio per phase boundary; market orders at a day of ORCL's history work until the next open
    phases = ("intent_durable", "broker_called", "broker_answered", "answer_durable")
    for run in range(1, len(phases)):
        deposit = CashFlow(txn_id="deposit", ts=day(0, 0) - pd.Timedelta(days=30), kind=CashKind.DEPOSIT,
                           amount=Decimal(1_000_000))  # fmt: skip
        record_transactions(seeded, f"P{run}", [deposit], create=True)
    for run, step in enumerate(phases):
        p = f"P{run}"
        batch = [OrderRequest(portfolio=p, symbol="ORCL", side=Side.BUY, quantity=Decimal(10 + i),
                              client_order_id=f"k{run}-{i}") for i in range(3)]  # fmt: skip
        pid = os.fork()
        if pid == 0:  # the child: a batch of three, killed at the step
            try:
                manager, _, _ = parts(reopen(seeded), run, kill_at(step))
                manager.submit_many(batch)
            except BaseException:
                os._exit(3)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        # Assert: killed there; the restarted book agrees with the broker, nothing left submitted or in doubt
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (step, status)
        assert check_recovered(seeded, f"P{run}", day(run, 0)) == [], step
        assert count(seeded, "orders") == 3 * (run + 1)
