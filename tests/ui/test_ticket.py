"""The order ticket in process, on tests/ui's real store (ORCL, NVDA, YHOO, SPY to 2014-12-31; 'desk' holds
1000 ORCL and 2000 NVDA): Check shows every pre-trade check without recording anything, a collar breach is blocked
with its reason, Submit sends to the paper broker and the order reaches the blotter, the fills and the portfolio
monitor; bad input is a message."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import ipywidgets as W
import pandas as pd
import pytest

from bifrost.compliance import DEFAULT_RULES_TOML, audit_head
from bifrost.data import EmbeddedStore
from bifrost.errors import InvalidInputError
from bifrost.execution import (
    OrderManager,
    OrderStatus,
    PaperBroker,
    TradingState,
    list_orders,
    load_order,
    orders_marker,
    set_trading_state,
)
from bifrost.portfolio import create_portfolio, load_portfolio
from bifrost.ui._base import Component
from bifrost.ui._pages import portfolio_monitor
from bifrost.ui._ticket import DOUBLE_CLICK_S, PAPER_NOTE, OrderTicket, order_ticket

# the last bars in ../shared/data/backtrader (2014-12-31): the paper broker fills a market order at this close
YHOO_CLOSE = Decimal("50.509998")  # yhoo-1996-2014.txt
ORCL_CLOSE = Decimal("44.970001")  # orcl-1995-2014.txt


@pytest.fixture(scope="module")
def unchanged_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    """tests/ui's store, shared by the tests that must leave it as it is (bad input: nothing is sent)."""
    from tests.ui.conftest import fill_store

    store = fill_store(tmp_path_factory.mktemp("ticket") / "home")
    try:
        yield store
    finally:
        store.close()


def _ticket(store: EmbeddedStore, **fields: str) -> OrderTicket:
    ticket = OrderTicket(store, "desk")
    _fill(ticket, **fields)
    return ticket


def _fill(ticket: OrderTicket, **fields: str) -> None:
    boxes = {"symbol": ticket.symbol, "side": ticket.side, "quantity": ticket.quantity, "type": ticket.order_type,
             "limit": ticket.limit_price, "stop": ticket.stop_price, "tif": ticket.time_in_force}  # fmt: skip
    for name, value in fields.items():
        boxes[name].value = value


def _display(widget: W.Button) -> object:
    # the widget's CSS display, read afresh (a widget's layout changes under mypy's narrowing)
    return widget.layout.display


def _row(html: str, key: str) -> str:
    start = html.index(f"data-key='{key}'")
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


def test_order_ticket_defaults_are_a_market_ioc_order_and_say_how_it_fills(ui_store: EmbeddedStore) -> None:
    ticket = OrderTicket(ui_store)
    assert (ticket.portfolio, ticket.order_type.value, ticket.time_in_force.value) == ("desk", "market", "ioc")
    assert ticket.limit_price.disabled and ticket.stop_price.disabled
    assert "market IOC" in PAPER_NOTE and "last close" in PAPER_NOTE
    assert set(ticket.symbol.options) == {"NVDA", "ORCL", "SPY", "YHOO"}
    ticket.order_type.value = "stop_limit"
    assert not ticket.limit_price.disabled and not ticket.stop_price.disabled
    ticket.order_type.value = "stop"
    assert ticket.limit_price.disabled and not ticket.stop_price.disabled


def test_order_ticket_check_allowed_market_order_shows_every_check_passing_and_records_nothing(
    ui_store: EmbeddedStore,
) -> None:
    ticket = _ticket(ui_store, symbol="YHOO", quantity="10")
    orders_before, audit_before = orders_marker(ui_store), audit_head(ui_store).seq
    rows = ticket.check()
    assert ticket.error.message == "" and rows is not None
    checks = {r.check for r in rows}
    assert {"risk_limits", "trading_state", "compliance"} <= checks, checks
    assert {r.verdict for r in rows} <= {"pass", "warn"}
    compliance = [r for r in rows if r.check == "compliance"]
    assert compliance and all(r.rule and r.kind and r.version for r in compliance)  # each rule named, versioned
    assert "price_collar" in {r.kind for r in compliance}
    collar = next(r for r in compliance if r.kind == "price_collar")
    assert f"data-key='compliance:{collar.rule}'" in ticket.table.value
    assert "data-verdict='pass'" in ticket.verdict.value or "data-verdict='warn'" in ticket.verdict.value
    # the rules' file named by its hash (the default rules here: no compliance.toml in the store's home)
    default = hashlib.sha256(DEFAULT_RULES_TOML.encode()).hexdigest()
    assert f"{len(compliance)} rules in force" in ticket.rules_note.value and default[:16] in ticket.rules_note.value
    # a check sends nothing and records nothing: no order, no decision, no audit record
    assert orders_marker(ui_store) == orders_before and audit_head(ui_store).seq == audit_before
    assert list_orders(ui_store, portfolio="desk").empty


def test_order_ticket_limit_priced_20_percent_from_last_close_is_blocked_by_the_collar_with_its_reason(
    ui_store: EmbeddedStore,
) -> None:
    limit = (YHOO_CLOSE * Decimal("1.2")).quantize(Decimal("0.01"))  # 60.61: 20.0% above the last close
    ticket = _ticket(ui_store, symbol="YHOO", quantity="10", type="limit", limit=str(limit), tif="day")
    rows = ticket.check()
    assert rows is not None and ticket.error.message == ""
    (collar,) = [r for r in rows if r.kind == "price_collar"]
    assert collar.verdict == "block" and collar.reason and collar.version
    row = _row(ticket.table.value, f"compliance:{collar.rule}")
    assert "bf-breach" in row and ">block<" in row
    assert "data-verdict='block'" in ticket.verdict.value and "BLOCKED" in ticket.verdict.value
    assert f"{collar.rule}: " in ticket.verdict.value.replace("&#x27;", "'")  # the blocking rule and its reason
    # Submit: the manager runs the same rules and rejects it, with the collar's reason
    order = ticket.submit()
    assert order is not None and order.status is OrderStatus.REJECTED
    assert any(collar.rule in reason for reason in order.reasons), order.reasons
    assert "data-status='rejected'" in ticket.status.value and "bf-order-rejected" in ticket.status.value
    assert collar.rule in ticket.status.value and ticket.error.message == ""


def test_order_ticket_risk_limit_block_shows_the_limit_in_red(ui_store: EmbeddedStore) -> None:
    # desk's ORCL is 36% of its equity already: the default single_name limit (10%) blocks a buy that adds to it
    ticket = _ticket(ui_store, symbol="ORCL", quantity="10")
    rows = ticket.check()
    assert rows is not None
    (risk,) = [r for r in rows if r.check == "risk_limits"]
    assert risk.verdict == "block" and "single_name" in risk.reason and "above 10.00%" in risk.reason
    assert "bf-verdict-block" in ticket.verdict.value and "single_name" in ticket.verdict.value


def test_order_ticket_halted_book_is_blocked_by_the_trading_state(ui_store: EmbeddedStore) -> None:
    set_trading_state(ui_store, "desk", TradingState.HALTED, reason="test: halted by hand")
    ticket = _ticket(ui_store, symbol="YHOO", quantity="10")
    rows = ticket.check()
    assert rows is not None
    (state,) = [r for r in rows if r.check == "trading_state"]
    assert state.verdict == "block" and state.reason == "book desk is halted: no new orders"
    order = ticket.submit()
    assert order is not None and order.status is OrderStatus.REJECTED
    assert "book desk is halted" in ticket.status.value


def test_order_ticket_submit_market_ioc_fills_at_the_last_close_and_reaches_blotter_fills_and_portfolio_monitor(
    ui_store: EmbeddedStore,
) -> None:
    page = order_ticket(ui_store, portfolio="desk", watch=False)
    ticket = page.components["ticket"]
    assert isinstance(ticket, OrderTicket)
    monitor = portfolio_monitor(ui_store, portfolio="desk", watch=False)
    assert monitor.components["positions"].positions_html.value.count("data-key='YHOO'") == 0  # type: ignore[attr-defined]
    _fill(ticket, symbol="YHOO", quantity="10")
    order = ticket.submit()
    assert ticket.error.message == ""
    assert order is not None and order.status is OrderStatus.FILLED
    assert (order.filled_quantity, order.avg_fill_price) == (Decimal(10), YHOO_CLOSE)
    status = ticket.status.value
    assert "data-status='filled'" in status and "bf-order-filled'>filled<" in status and "(last close)" in status
    assert f"data-value='{float(YHOO_CLOSE)!r}'" in status and "terminal" in status
    assert [e in status for e in (">submitted<", ">accepted<", ">filled<")] == [True, True, True]  # the timeline
    # the watcher sees the orders (and the ledger) move: the blotter and the fills redraw with the order
    refreshed = page.watcher.poll()
    blotter, fills = page.components["blotter"], page.components["fills"]
    assert blotter in refreshed and fills in refreshed
    row = _row(blotter.html.value, order.client_order_id)  # type: ignore[attr-defined]
    assert "bf-order-filled'>filled<" in row and "data-col='filled_quantity' data-value='10.0'" in row
    today = pd.Timestamp.now(tz="UTC")
    assert f"1 order of desk on {today:%Y-%m-%d}" in blotter.note.value  # type: ignore[attr-defined]
    (fill,) = fills.fills  # type: ignore[attr-defined]
    assert (fill["symbol"], fill["quantity"], fill["price"], fill["basis"]) == ("YHOO", 10.0, float(YHOO_CLOSE),
                                                                                "last close")  # fmt: skip
    # and the portfolio monitor picks the fill up: a YHOO position of 10 at the close
    assert monitor.components["positions"] in monitor.watcher.poll()
    positions = monitor.components["positions"].positions_html.value  # type: ignore[attr-defined]
    assert "data-col='quantity' data-value='10.0'" in _row(positions, "YHOO")
    assert f"data-key='{order.client_order_id}'" in monitor.components["blotter"].html.value  # type: ignore[attr-defined]


def test_order_ticket_same_order_again_within_5_seconds_warns_by_the_duplicate_rule(ui_store: EmbeddedStore) -> None:
    # one instant for the manager and the broker: the default rules' duplicate_order (a warn, 5 s) sees the first
    now = pd.Timestamp.now(tz="UTC")
    manager = OrderManager(ui_store, PaperBroker(ui_store, clock=lambda: now), clock=lambda: now)
    ticket = OrderTicket(ui_store, "desk", manager=manager)
    _fill(ticket, symbol="YHOO", quantity="10")
    first = ticket.submit()
    assert first is not None and first.status is OrderStatus.FILLED
    rows = ticket.check()
    assert rows is not None
    (duplicate,) = [r for r in rows if r.kind == "duplicate_order"]
    assert duplicate.verdict == "warn" and duplicate.reason
    assert "bf-warning" in _row(ticket.table.value, f"compliance:{duplicate.rule}")
    assert "data-verdict='warn'" in ticket.verdict.value and "WARN" in ticket.verdict.value
    assert f"{duplicate.rule}: " in ticket.verdict.value.replace("&#x27;", "'")
    ticket.quantity.value = "12"  # another order: sent, and warned of nothing
    second = ticket.submit()
    assert second is not None and second.status is OrderStatus.FILLED and second.order_id != first.order_id
    assert "data-verdict='pass'" in ticket.verdict.value


class _Clock:
    """A monotonic clock the test moves by hand: the ticket's double-click guard and the manager's time."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.start = pd.Timestamp.now(tz="UTC")

    def __call__(self) -> float:
        return self.seconds

    def now(self) -> pd.Timestamp:
        return self.start + pd.Timedelta(seconds=self.seconds)


def _clocked(store: EmbeddedStore, clock: _Clock, **fields: str) -> OrderTicket:
    # the manager, the paper broker and the ticket's guard on one clock the test moves
    manager = OrderManager(store, PaperBroker(store, clock=clock.now), clock=clock.now)
    ticket = OrderTicket(store, "desk", manager=manager, clock=clock)
    _fill(ticket, **fields)
    return ticket


def _position(store: EmbeddedStore, symbol: str) -> Decimal:
    return load_portfolio(store, "desk").position(symbol).quantity


def test_order_ticket_same_form_submitted_again_after_the_guard_is_a_second_order_warned_as_duplicate(
    ui_store: EmbeddedStore,
) -> None:
    clock = _Clock()
    ticket = _clocked(ui_store, clock, symbol="YHOO", quantity="10")
    first = ticket.submit()
    assert first is not None and first.status is OrderStatus.FILLED and _position(ui_store, "YHOO") == 10
    clock.seconds += DOUBLE_CLICK_S + 1  # 3 s later: a deliberate Submit, not a double click
    second = ticket.submit()
    assert second is not None and second.status is OrderStatus.FILLED, ticket.status.value
    assert second.client_order_id != first.client_order_id and second.order_id != first.order_id
    assert len(list_orders(ui_store, portfolio="desk")) == 2 and _position(ui_store, "YHOO") == 20
    # within the default rules' 5 s: the compliance duplicate_order rule warns (it no longer is bypassed)
    (duplicate,) = [r for r in ticket.rows if r.kind == "duplicate_order"]
    assert duplicate.verdict == "warn" and first.client_order_id in duplicate.reason, duplicate.reason
    assert "data-verdict='warn'" in ticket.verdict.value
    assert f"data-client-order-id='{second.client_order_id}'" in ticket.status.value


def test_order_ticket_double_click_within_the_guard_is_one_order(ui_store: EmbeddedStore) -> None:
    clock = _Clock()
    ticket = _clocked(ui_store, clock, symbol="YHOO", quantity="10")
    first = ticket.submit()
    clock.seconds += DOUBLE_CLICK_S - 0.5  # 1.5 s after the first Submit ended: a double click
    again = ticket.submit()
    assert first is not None and again is not None
    assert (again.order_id, again.client_order_id) == (first.order_id, first.client_order_id)
    assert len(list_orders(ui_store, portfolio="desk")) == 1 and _position(ui_store, "YHOO") == 10
    ticket.quantity.value = "11"  # a changed form within the guard: another order
    other = ticket.submit()
    assert other is not None and other.client_order_id != first.client_order_id
    assert len(list_orders(ui_store, portfolio="desk")) == 2 and _position(ui_store, "YHOO") == 21


def test_order_ticket_collar_rejected_form_fixed_and_resubmitted_is_a_new_order_that_passes(
    ui_store: EmbeddedStore,
) -> None:
    clock = _Clock()
    limit = (YHOO_CLOSE * Decimal("1.2")).quantize(Decimal("0.01"))  # 60.61: 20% above the last close
    ticket = _clocked(ui_store, clock, symbol="YHOO", quantity="10", type="limit", limit=str(limit), tif="day")
    rejected = ticket.submit()
    assert rejected is not None and rejected.status is OrderStatus.REJECTED
    assert any("price_collar" in r for r in rejected.reasons), rejected.reasons
    ticket.limit_price.value = "49.00"  # fixed: 3% under the last close, inside the collar
    fixed = ticket.submit()  # at once (inside the guard), but another form: a new order
    assert fixed is not None and fixed.client_order_id != rejected.client_order_id
    assert fixed.status is OrderStatus.ACCEPTED and fixed.reasons == (), fixed.reasons  # resting, as a DAY limit
    assert [r.verdict for r in ticket.rows if r.kind == "price_collar"] == ["pass"]
    assert "data-status='accepted'" in ticket.status.value and rejected.client_order_id not in ticket.status.value
    statuses = list_orders(ui_store, portfolio="desk")["status"].tolist()
    assert sorted(statuses) == ["accepted", "rejected"]


def test_order_ticket_rejected_form_submitted_again_after_the_guard_is_a_new_rejected_order(
    ui_store: EmbeddedStore,
) -> None:
    clock = _Clock()
    ticket = _clocked(ui_store, clock, symbol="YHOO", quantity="10", type="limit", limit="60.61", tif="day")
    first = ticket.submit()
    clock.seconds += 1.0  # a double click of a rejected form: the same rejected order, no new record
    again = ticket.submit()
    assert first is not None and again is not None and again.client_order_id == first.client_order_id
    assert len(list_orders(ui_store, portfolio="desk")) == 1
    clock.seconds += DOUBLE_CLICK_S + 1  # deliberately again: decided again, a new rejected record
    second = ticket.submit()
    assert second is not None and second.status is OrderStatus.REJECTED
    assert second.client_order_id != first.client_order_id and second.order_id != first.order_id
    assert any("price_collar" in r for r in second.reasons), second.reasons
    orders = list_orders(ui_store, portfolio="desk")
    assert orders["status"].tolist() == ["rejected", "rejected"] and _position(ui_store, "YHOO") == 0
    assert load_order(ui_store, second.client_order_id).status is OrderStatus.REJECTED


def test_order_ticket_no_guard_makes_every_submit_a_new_order(ui_store: EmbeddedStore) -> None:
    clock = _Clock()
    manager = OrderManager(ui_store, PaperBroker(ui_store, clock=clock.now), clock=clock.now)
    ticket = OrderTicket(ui_store, "desk", manager=manager, clock=clock, double_click_s=0)
    _fill(ticket, symbol="YHOO", quantity="10")
    first, second = ticket.submit(), ticket.submit()
    assert first is not None and second is not None and second.client_order_id != first.client_order_id
    assert _position(ui_store, "YHOO") == 20


@pytest.mark.parametrize(
    ("guard", "message"),
    [
        (float("nan"), "double_click_s must be a finite number of seconds, got nan"),
        (float("inf"), "double_click_s must be a finite number of seconds, got inf"),
        ("2", "double_click_s must be a finite number of seconds, got '2'"),
        (True, "double_click_s must be a finite number of seconds, got True"),
        (-1.0, "double_click_s must be from 0 to 60 seconds, got -1.0"),
        (61, "double_click_s must be from 0 to 60 seconds, got 61"),
    ],
)
def test_order_ticket_bad_double_click_guard_is_refused_naming_it(
    unchanged_store: EmbeddedStore, guard: object, message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        OrderTicket(unchanged_store, "desk", double_click_s=guard)  # type: ignore[arg-type]
    assert str(raised.value) == message


def test_order_ticket_resting_order_status_follows_a_cancel_by_another_process(ui_store: EmbeddedStore) -> None:
    page = order_ticket(ui_store, portfolio="desk", watch=False)
    ticket = page.components["ticket"]
    assert isinstance(ticket, OrderTicket)
    # a DAY limit 3% under the last close: accepted, resting (no later bar reaches it)
    _fill(ticket, symbol="YHOO", quantity="10", type="limit", limit="49.00", tif="day")
    order = ticket.submit()
    assert order is not None and order.status is OrderStatus.ACCEPTED, ticket.status.value
    assert "data-status='accepted'" in ticket.status.value and "working: watching for its fills" in ticket.status.value
    other = EmbeddedStore(ui_store.home)  # as another process would open it
    try:
        OrderManager(other, PaperBroker(other)).cancel(order.client_order_id)
    finally:
        other.close()
    assert ticket in page.watcher.poll()
    assert "data-status='canceled'" in ticket.status.value and ticket.order is not None
    assert ticket.order.status is OrderStatus.CANCELED == load_order(ui_store, order.client_order_id).status
    assert ticket.cancel_button.layout.display == "none"  # nothing left to cancel


def test_order_ticket_cancel_button_cancels_the_resting_order(ui_store: EmbeddedStore) -> None:
    ticket = _ticket(ui_store, symbol="YHOO", quantity="10", type="limit", limit="49.00", tif="gtc")
    assert ticket.cancel_button.layout.display == "none"
    assert ticket.cancel() is None and "this ticket has sent no order yet" in ticket.error.message
    order = ticket.submit()
    assert order is not None and order.status is OrderStatus.ACCEPTED and _display(ticket.cancel_button) is None
    canceled = ticket.cancel()
    assert canceled is not None and canceled.status is OrderStatus.CANCELED and ticket.error.message == ""
    assert "data-status='canceled'" in ticket.status.value and _display(ticket.cancel_button) == "none"
    again = ticket.cancel()  # canceled already: the manager answers with the order as it is, nothing new
    assert again is not None and again.status is OrderStatus.CANCELED and ticket.error.message == ""


def test_order_ticket_changed_form_dims_the_previous_check_until_checked_again(ui_store: EmbeddedStore) -> None:
    ticket = _ticket(ui_store, symbol="YHOO", quantity="10")
    assert ticket.check() is not None and ticket.stale_note.layout.display == "none"
    ticket.quantity.value = "20"
    assert "bf-stale" in ticket.table._dom_classes and "press <b>Check</b> again" in ticket.stale_note.value
    assert ticket.stale_note.layout.display is None
    assert ticket.check() is not None
    assert "bf-stale" not in ticket.table._dom_classes and ticket.stale_note.layout.display == "none"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantity": "nan"}, "quantity must be a finite number, got 'nan'"),
        ({"quantity": "-5"}, "quantity must be positive, got '-5'"),
        ({"quantity": "0"}, "quantity must be positive"),
        ({"quantity": "ten"}, "quantity"),
        ({"quantity": "1e309"}, "quantity"),
        ({"quantity": ""}, "quantity"),
        ({"symbol": "NOSUCH"}, "unknown symbol 'NOSUCH': the store has no bars for it"),
        ({"symbol": ""}, "symbol"),
        ({"type": "limit", "limit": ""}, "a limit order needs a limit_price"),
        ({"type": "limit", "limit": "nan"}, "limit_price"),
        ({"type": "limit", "limit": "-50"}, "limit_price"),
        ({"type": "limit", "limit": "50.123"}, "limit_price 50.123 is off the tick"),
        ({"type": "stop", "stop": "inf"}, "stop_price"),
    ],
)
def test_order_ticket_bad_input_shows_its_message_and_sends_nothing(
    unchanged_store: EmbeddedStore, fields: dict[str, str], message: str
) -> None:
    ui_store = unchanged_store
    ticket = _ticket(ui_store, **{"symbol": "YHOO", "quantity": "10", **fields})
    before = orders_marker(ui_store)
    assert ticket.check() is None
    assert message in ticket.error.message and "Traceback" not in ticket.error.message
    assert "bf-error-shown" in ticket.error.widget._dom_classes
    assert "Not checked" in ticket.verdict.value and ticket.table.value == "" and ticket.rows == []
    assert ticket.submit() is None and message in ticket.error.message
    assert orders_marker(ui_store) == before and list_orders(ui_store, portfolio="desk").empty
    _fill(ticket, symbol="YHOO", quantity="10", type="market")  # fixed: the message goes
    assert ticket.check() is not None and ticket.error.message == ""


def test_order_ticket_store_without_portfolio_says_so(tmp_path: Path) -> None:
    from tests.ui.conftest import fill_store

    store = fill_store(tmp_path / "home")
    try:
        ticket = OrderTicket(store, "nosuch")
        assert ticket.portfolio == "desk"  # an unknown portfolio: the first by name is picked
        create_portfolio(store, "zeta", inception="2013-01-02")
        page = order_ticket(store, portfolio="zeta", watch=False)
        zeta = page.components["ticket"]
        assert isinstance(zeta, OrderTicket) and zeta.portfolio == "zeta"
        assert "no orders of zeta yet" in page.components["blotter"].note.value  # type: ignore[attr-defined]
    finally:
        store.close()
    empty = EmbeddedStore(tmp_path / "empty")
    try:
        ticket = OrderTicket(empty)
        assert ticket.portfolio is None
        assert ticket.check() is None and "the store has no portfolio yet" in ticket.error.message
        with pytest.raises(InvalidInputError, match="no portfolio"):
            ticket.fields()
    finally:
        empty.close()


def test_order_ticket_page_is_components_refreshed_by_the_watcher(ui_store: EmbeddedStore) -> None:
    page = order_ticket(ui_store, watch=False)
    assert "bf-page-order_ticket" in page._dom_classes
    assert set(page.components) == {"picker", "ticket", "blotter", "fills"}
    assert all(isinstance(c, Component) and c.refreshed >= 1 for c in page.components.values())
    assert page.watcher.poll() == []  # nothing changed since it was drawn
    with pytest.raises(InvalidInputError, match="interval_s"):
        order_ticket(ui_store, watch=False, interval_s=0)


@pytest.mark.postgres
def test_order_ticket_on_postgres_checks_submits_and_fills(pg_url: str, pg_schema: str, tmp_path: Path) -> None:
    from bifrost.data import CsvSource, ingest
    from bifrost.data._postgres import PostgresStore
    from bifrost.portfolio import CashFlow, CashKind, record_transactions
    from tests.conftest import YHOO

    store = PostgresStore(pg_url, home=tmp_path / "home", schema=pg_schema, timescale=False)
    try:
        ingest(store, CsvSource(YHOO, symbol="YHOO"), start="2014-10-01")
        deposit = CashFlow(txn_id="d", ts=pd.Timestamp("2014-10-01", tz="UTC"), kind=CashKind.DEPOSIT,
                           amount=Decimal(100_000))  # fmt: skip
        record_transactions(store, "pg", [deposit], create=True)
        page = order_ticket(store, portfolio="pg", watch=False)
        ticket = page.components["ticket"]
        assert isinstance(ticket, OrderTicket)
        _fill(ticket, symbol="YHOO", quantity="10", type="limit", limit="60.61", tif="day")
        rows = ticket.check()
        assert rows is not None and [r.verdict for r in rows if r.kind == "price_collar"] == ["block"]
        _fill(ticket, type="market", tif="ioc")
        order = ticket.submit()
        assert order is not None and order.status is OrderStatus.FILLED and order.avg_fill_price == YHOO_CLOSE
        assert page.components["blotter"] in page.watcher.poll()
        assert f"data-key='{order.client_order_id}'" in page.components["blotter"].html.value  # type: ignore[attr-defined]
    finally:
        store.close()
