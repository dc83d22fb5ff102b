"""Order components in process: the blotter and the fills show the order manager's stored orders, as they change."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.data._postgres import PostgresStore
from bifrost.errors import InvalidInputError
from bifrost.execution import (
    Filled,
    Order,
    OrderManager,
    OrderRequest,
    OrderStatus,
    OrderType,
    PaperBroker,
    Side,
    list_orders,
    load_order,
)
from bifrost.portfolio import CashFlow, CashKind, create_portfolio, record_transactions
from bifrost.ui import MARKERS, ChangeWatcher, FillsTable, OrderBlotter, job_monitor, portfolio_monitor
from tests.conftest import ORCL
from tests.ui.conftest import fill_store

# orcl-1995-2014.txt's last bar, 2014-12-31: close 44.970001 (the paper broker's fill when no later bar exists)
LAST_CLOSE = Decimal("44.970001")


def _request(
    portfolio: str,
    symbol: str,
    side: Side,
    quantity: int,
    *,
    limit: str | None = None,
    client_order_id: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        portfolio=portfolio, symbol=symbol, side=side, quantity=Decimal(quantity),
        order_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
        limit_price=None if limit is None else Decimal(limit), client_order_id=client_order_id,
    )  # fmt: skip


def _clock(ts: pd.Timestamp) -> Callable[[], pd.Timestamp]:
    return lambda: ts


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedStore, dict[str, Order]]]:
    """tests/ui's store, and three orders of 'desk' (1000 ORCL, 2000 NVDA) sent now to the paper broker.

    ``sold`` fills at the last close, ``big`` is rejected by the risk limits (gross exposure),
    ``resting`` is a limit sell above the market (NVDA's last close 20.049999; 21.50 is inside the default
    rules' 10% price collar): accepted, working.
    """
    store = fill_store(tmp_path_factory.mktemp("orders") / "home")
    manager = OrderManager(store, PaperBroker(store))
    orders = {
        "sold": manager.submit(_request("desk", "ORCL", Side.SELL, 100)),
        "big": manager.submit(_request("desk", "ORCL", Side.BUY, 100_000)),
        "resting": manager.submit(_request("desk", "NVDA", Side.SELL, 50, limit="21.50")),
    }
    assert [o.status for o in orders.values()] == [OrderStatus.FILLED, OrderStatus.REJECTED, OrderStatus.ACCEPTED]
    try:
        yield store, orders
    finally:
        store.close()


def _row(html: str, key: str) -> str:
    start = html.index(f"data-key='{key}'")
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


def test_order_blotter_desk_shows_the_stored_orders_newest_first_with_rejections_marked(
    traded: tuple[EmbeddedStore, dict[str, Order]],
) -> None:
    store, orders = traded
    blotter = OrderBlotter(store, "desk")
    blotter.refresh()
    assert blotter.error.message == ""
    stored = list_orders(store, portfolio="desk")
    shown = blotter.html.value
    assert list(blotter.orders["client_order_id"]) == list(stored["client_order_id"])[::-1]
    positions = [shown.index(f"data-key='{o.client_order_id}'") for o in orders.values()]
    assert positions == sorted(positions, reverse=True)  # newest first
    sold = _row(shown, orders["sold"].client_order_id)
    assert "data-col='filled_quantity' data-value='100.0'" in sold
    assert f"data-col='avg_fill_price' data-value='{float(LAST_CLOSE)!r}'" in sold
    assert "bf-order-filled'>filled<" in sold and "bf-side-sell" in sold and "bf-rejected" not in sold
    big = _row(shown, orders["big"].client_order_id)
    assert "class='bf-order bf-rejected'" in big and "bf-order-rejected'>rejected<" in big
    (reason,) = orders["big"].reasons
    assert "gross" in reason and reason.replace("'", "&#x27;") in big
    resting = _row(shown, orders["resting"].client_order_id)
    assert "data-col='order_type'>limit<" in resting and "bf-order-accepted'>accepted<" in resting
    assert "data-col='portfolio'" not in shown  # one portfolio's blotter: no portfolio column
    today = pd.Timestamp.now(tz="UTC")
    assert blotter.note.value.endswith(f"3 orders of desk on {today:%Y-%m-%d} (the newest day with orders)</div>")


def test_fills_table_desk_shows_each_fill_as_its_order_recorded_it(
    traded: tuple[EmbeddedStore, dict[str, Order]],
) -> None:
    store, orders = traded
    fills = FillsTable(store, "desk")
    fills.refresh()
    assert fills.error.message == ""
    (fill,) = [e for e in load_order(store, orders["sold"].client_order_id).events if isinstance(e, Filled)]
    (row,) = fills.fills
    assert row["key"] == f"{orders['sold'].client_order_id}/{fill.trade_id}"
    assert (row["symbol"], row["quantity"], row["price"]) == ("ORCL", 100.0, float(LAST_CLOSE))
    assert row["basis"] == "last close"  # no bar after the clock: the paper broker filled at the last close
    shown = _row(fills.html.value, str(row["key"]))
    assert f"data-col='price' data-value='{float(LAST_CLOSE)!r}'" in shown
    assert f"data-col='commission' data-value='{float(fill.commission)!r}'" in shown


def test_order_blotter_day_and_last_choose_the_orders_shown(
    traded: tuple[EmbeddedStore, dict[str, Order]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = traded
    deposit = CashFlow(txn_id="d", ts=pd.Timestamp("2014-06-02", tz="UTC"), kind=CashKind.DEPOSIT, amount=Decimal(1000))
    record_transactions(store, "days", [deposit], create=True)
    # orders too big for the book: rejected when sent, on their day; one on 2014-06-02, two on 2014-06-03
    for cid, ts in (("a", "2014-06-02 21:00"), ("b", "2014-06-03 20:00"), ("c", "2014-06-03 21:00")):
        clock = _clock(pd.Timestamp(ts, tz="UTC"))
        manager = OrderManager(store, PaperBroker(store, clock=clock), clock=clock)
        assert manager.submit(_request("days", "YHOO", Side.BUY, 1_000, client_order_id=cid)).status.value == "rejected"
    newest = OrderBlotter(store, "days")
    on_first = OrderBlotter(store, "days", day="2014-06-02")
    last_one = OrderBlotter(store, "days", last=1)
    for blotter in (newest, on_first, last_one):
        blotter.refresh()
        assert blotter.error.message == ""
    assert list(newest.orders["client_order_id"]) == ["c", "b"]
    assert "2 orders of days on 2014-06-03 (the newest day with orders)</div>" in newest.note.value
    assert list(on_first.orders["client_order_id"]) == ["a"]
    assert "1 order of days on 2014-06-02</div>" in on_first.note.value
    assert list(last_one.orders["client_order_id"]) == ["c"]
    assert "the newest 1 order of days</div>" in last_one.note.value
    nothing = OrderBlotter(store, "days", day="2014-06-04")
    nothing.refresh()
    assert nothing.orders.empty and "no orders" in nothing.html.value
    monkeypatch.setattr("bifrost.ui._orders.MAX_ROWS", 1)  # a day of more orders than a page shows
    newest.refresh()
    assert list(newest.orders["client_order_id"]) == ["c"]
    assert "2 orders of days on 2014-06-03 (the newest day with orders); the newest 1 shown</div>" in newest.note.value


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"day": "someday"}, "day"),
        ({"last": 0}, "last must be an integer from 1 to 1,000 orders, got 0"),
        ({"last": True}, "last must be"),
        ({"last": 2.0}, "last must be"),
        ({"day": "2014-06-02", "last": 5}, "give day or last, not both"),
    ],
)
def test_order_blotter_bad_choice_of_orders_raises_naming_it(
    traded: tuple[EmbeddedStore, dict[str, Order]], options: dict[str, object], message: str
) -> None:
    store, _ = traded
    for component in (OrderBlotter, FillsTable):
        with pytest.raises(InvalidInputError, match=message):
            component(store, "desk", **options)  # type: ignore[arg-type]


def test_portfolio_monitor_order_from_another_store_object_redraws_the_blotter_and_fills_only(
    traded: tuple[EmbeddedStore, dict[str, Order]],
) -> None:
    store, _ = traded
    page = portfolio_monitor(store, portfolio="desk", watch=False)
    jobs = job_monitor(store, jobs={}, link_base=None, watch=False)
    blotter, fills, every = page.components["blotter"], page.components["fills"], jobs.components["blotter"]
    assert isinstance(blotter, OrderBlotter) and isinstance(fills, FillsTable) and isinstance(every, OrderBlotter)
    assert blotter.portfolio == fills.portfolio == "desk" and every.portfolio is None
    assert "data-col='portfolio'" in every.html.value  # every portfolio's orders, named
    assert page.watcher.poll() == [] and jobs.watcher.poll() == []
    before = MARKERS["orders"](store)
    other = EmbeddedStore(store.home)  # as another process would open it
    try:
        sold = OrderManager(other, PaperBroker(other)).submit(_request("desk", "NVDA", Side.SELL, 20))
    finally:
        other.close()
    assert sold.status is OrderStatus.FILLED and MARKERS["orders"](store) != before
    refreshed = page.watcher.poll()
    assert blotter in refreshed and fills in refreshed
    assert page.components["metrics"] in refreshed  # the fill reached the ledger: the portfolio marker moved too
    for name in ("positions", "metrics"):  # and they drew (a fill dated after the last bar once broke the valuation)
        assert page.components[name].error.message == "", (name, page.components[name].error.message)
    assert f"data-key='{sold.client_order_id}'" in blotter.html.value
    assert "orders changed" in page.status.value
    assert any(str(r["client_order_id"]) == sold.client_order_id and r["quantity"] == 20.0 for r in fills.fills)
    assert every in jobs.watcher.poll() and f"data-key='{sold.client_order_id}'" in every.html.value
    assert page.watcher.poll() == []


def test_portfolio_monitor_picked_portfolio_without_orders_shows_none(
    traded: tuple[EmbeddedStore, dict[str, Order]],
) -> None:
    store, orders = traded
    create_portfolio(store, "empty", inception="2013-01-02")
    page = portfolio_monitor(store, portfolio="desk", watch=False)
    blotter, fills = page.components["blotter"], page.components["fills"]
    assert isinstance(blotter, OrderBlotter) and isinstance(fills, FillsTable)
    assert {o.client_order_id for o in orders.values()} <= set(blotter.orders["client_order_id"])
    page.components["picker"].dropdown.value = "empty"  # type: ignore[attr-defined]
    assert blotter.portfolio == "empty" and len(blotter.orders) == 0 and fills.fills == []
    assert "no orders of empty yet" in blotter.note.value and "no fills" in fills.html.value


@pytest.mark.postgres
def test_order_blotter_on_postgres_redraws_on_another_writers_order(
    pg_url: str, pg_schema: str, tmp_path: Path
) -> None:
    def open_() -> PostgresStore:
        return PostgresStore(pg_url, home=tmp_path / "home", schema=pg_schema, timescale=False)

    store = open_()
    try:
        ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2014-10-01")
        deposit = CashFlow(txn_id="d", ts=pd.Timestamp("2014-10-01", tz="UTC"), kind=CashKind.DEPOSIT,
                           amount=Decimal(100_000))  # fmt: skip
        record_transactions(store, "pg", [deposit], create=True)
        blotter, fills = OrderBlotter(store, "pg"), FillsTable(store, "pg")
        watcher = ChangeWatcher(store, [blotter, fills])
        blotter.refresh()
        assert "no orders of pg yet" in blotter.note.value
        other = open_()
        try:
            bought = OrderManager(other, PaperBroker(other)).submit(_request("pg", "ORCL", Side.BUY, 10))
        finally:
            other.close()
        assert bought.status is OrderStatus.FILLED
        assert watcher.poll() == [blotter, fills]
        assert "bf-order-filled'>filled<" in _row(blotter.html.value, bought.client_order_id)
        assert [(r["symbol"], r["quantity"], r["price"]) for r in fills.fills] == [("ORCL", 10.0, float(LAST_CLOSE))]
    finally:
        store.close()
