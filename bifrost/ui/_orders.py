"""Order components: the blotter (a day's orders of a portfolio, or the last N) and their fills.

Both read the store through `bifrost.execution` only (`list_orders`, `load_order`,
`fill_basis`) and redraw when `bifrost.execution.orders_marker` moves: an order sent or
filled by another process (the ``paper_rebalance`` job, ``bifrost orders submit``) shows
on an open page at the watcher's next poll.

Which orders: ``last=N`` shows the newest N; otherwise those alive on ``day`` (created
before it ended, updated on or after it began; UTC), by default the newest day that has
orders: today's when trading live, the last trading day of the bars on the paper book.
"""

from __future__ import annotations

import html
from typing import ClassVar

import ipywidgets as W
import pandas as pd

from bifrost._checks import as_positive_int, as_utc_timestamp
from bifrost.data import Store
from bifrost.errors import InvalidInputError
from bifrost.execution import Filled, Order, OrderStatus, fill_basis, list_orders, load_order
from bifrost.ui._base import Column, Marker, PortfolioComponent, html_table, records

__all__ = ["FillsTable", "OrderBlotter"]

MAX_ROWS = 1_000  # orders a blotter shows at most, the newest (a page of HTML, not a report: `bifrost orders list`)

# the blotter's own look (the page's style has no order states): rejected rows stand out, finished ones fade
_CSS = (
    "<style>"
    ".bf-orders tr.bf-rejected td{background:#ffeef0}"
    ".bf-orders tr.bf-rejected .bf-order-status{color:#cb2431;font-weight:700}"
    ".bf-order-status{font-weight:600;text-transform:uppercase;font-size:11px}"
    ".bf-order-filled{color:#22863a}.bf-order-partially_filled{color:#0366d6}"
    ".bf-order-accepted,.bf-order-submitted,.bf-order-pending_cancel,.bf-order-pending_replace{color:#0366d6}"
    ".bf-order-canceled,.bf-order-expired{color:#8a939c}.bf-order-new{color:#586069}"
    ".bf-side-buy{color:#22863a}.bf-side-sell{color:#cb2431}"
    "</style>"
)

_BASIS = {"next_open": "next open", "last_close": "last close"}


def _time(ts: object) -> str:
    return "" if ts is None or ts is pd.NaT else f"{pd.Timestamp(ts):%Y-%m-%d %H:%M:%S}"  # type: ignore[arg-type]


def _fill_row(order: Order, event: Filled) -> dict[str, object]:
    basis = fill_basis(event.trade_id)
    return {
        "key": f"{order.client_order_id}/{event.trade_id}",
        "ts": event.ts.isoformat(),
        "time": _time(event.ts),
        "portfolio": order.request.portfolio,
        "symbol": order.symbol,
        "side": f"<span class='bf-side-{order.side.value}'>{order.side.value}</span>",
        "quantity": float(event.quantity),
        "price": float(event.price),
        "commission": float(event.commission),
        "basis": "" if basis is None else _BASIS.get(basis, basis),
        "trade_id": event.trade_id,
        "client_order_id": order.client_order_id,
    }


class _Orders(PortfolioComponent):
    # the orders one component shows: a portfolio's (None: every portfolio's), of one day or the last N
    markers: ClassVar[tuple[Marker, ...]] = ("orders",)

    def __init__(
        self, store: Store, portfolio: str | None = None, *, day: object = None, last: int | None = None
    ) -> None:
        super().__init__(store, portfolio)
        self.day = None if day is None else as_utc_timestamp(day, "day").normalize()
        self.last = None if last is None else as_positive_int(last, "last", maximum=MAX_ROWS, unit="orders")
        if self.day is not None and self.last is not None:
            raise InvalidInputError("give day or last, not both: a day's orders or the newest N")
        self.shown_day: pd.Timestamp | None = None  # the day shown (None: the last N, or no orders)
        self.total = 0  # the orders chosen (the day's), of which the newest MAX_ROWS are shown

    def _orders(self) -> pd.DataFrame:
        """The orders to show, newest first (`bifrost.execution.list_orders`)."""
        frame = list_orders(self.store, portfolio=self.portfolio)
        self.shown_day = None
        if len(frame) and self.last is None:
            day = self.day if self.day is not None else pd.Timestamp(frame["ts_updated"].max()).normalize()
            self.shown_day = day
            frame = frame[(frame["ts_created"] < day + pd.Timedelta(days=1)) & (frame["ts_updated"] >= day)]
        self.total = len(frame)
        return frame.iloc[::-1].head(self.last or MAX_ROWS).reset_index(drop=True)

    def _what(self, count: int, noun: str, cut: str) -> str:
        # the note over the table: what is shown (``cut`` said when the day had more orders than shown)
        whose = f" of {self.portfolio}" if self.portfolio is not None else ""
        counted = f"{count:,} {noun}{'' if count == 1 else 's'}{whose}"
        if self.last is not None:
            return f"the newest {counted}"
        if self.shown_day is None:
            return f"no {noun}s{whose} yet"
        latest = " (the newest day with orders)" if self.day is None else ""
        return f"{counted} on {self.shown_day:%Y-%m-%d}{latest}{cut if self.total > MAX_ROWS else ''}"


class OrderBlotter(_Orders):
    """A portfolio's orders, newest first: time, symbol, side, type, quantity, filled, price, status, reasons.

    Rejected orders are marked (``tr.bf-rejected``) with the checks' reasons; each row's key
    (``data-key``) is the client order id, its status cell ``.bf-order-status``.

    Parameters
    ----------
    store
        The store the orders are in.
    portfolio
        Whose orders (None: every portfolio's, with a portfolio column).
    day
        The day shown (UTC); default: the newest day with orders.
    last
        Show the newest ``last`` orders instead of a day's (a day shows its newest 1,000).

    Raises
    ------
    InvalidInputError
        If ``day`` is not a date, ``last`` not a whole number from 1 to 1,000, or both are given.
    """

    css_class = "bf-blotter-card"

    def __init__(
        self, store: Store, portfolio: str | None = None, *, day: object = None, last: int | None = None
    ) -> None:
        super().__init__(store, portfolio, day=day, last=last)
        self.html = W.HTML(layout=W.Layout(max_height="420px", overflow="auto"))
        self.html.add_class("bf-orders")
        self.note = W.HTML()
        self.orders = pd.DataFrame()
        self.widget = self._root(self.note, self.html, title="orders")

    def _draw(self) -> None:
        orders = self._orders()
        self.orders = orders
        rows = []
        for rec in records(orders):
            status, side = str(rec["status"]), str(rec["side"])
            rows.append(
                {
                    **rec,
                    "time": _time(rec["ts_created"]),
                    "updated": _time(rec["ts_updated"]),
                    "side": f"<span class='bf-side-{html.escape(side)}'>{html.escape(side)}</span>",
                    "status": f"<span class='bf-order-status bf-order-{html.escape(status)}'>"
                    f"{html.escape(status.replace('_', ' '))}</span>",
                    "_status": status,
                }
            )
        columns = [
            Column(field="time", label="time (UTC)", kind="text"),
            *([Column(field="portfolio", kind="text")] if self.portfolio is None else []),
            Column(field="symbol", kind="text"),
            Column(field="side", kind="html"),
            Column(field="order_type", label="type", kind="text"),
            Column(field="quantity", kind="qty"),
            Column(field="filled_quantity", label="filled", kind="qty"),
            Column(field="avg_fill_price", label="avg price", digits=4),
            Column(field="status", kind="html"),
            Column(field="reasons", kind="text", wrap=True),
            Column(field="updated", label="updated (UTC)", kind="text"),
            Column(field="client_order_id", label="client order id", kind="text", truncate=220),
        ]
        rejected = OrderStatus.REJECTED.value
        self.html.value = _CSS + html_table(
            rows,
            columns,
            key="client_order_id",
            row_class=lambda r: f"bf-order{' bf-rejected' if r['_status'] == rejected else ''}",
            empty="no orders: `bifrost orders submit`, or the paper_rebalance job",
        )
        what = self._what(self.total if self.last is None else len(rows), "order", f"; the newest {MAX_ROWS:,} shown")
        self.note.value = f"<div class='bf-note'>{html.escape(what)}</div>"


class FillsTable(_Orders):
    """The fills of the orders a blotter of the same parameters shows, newest first.

    One row per execution (the orders' `bifrost.execution.Filled` events): time, symbol,
    side, quantity, price, commission, how a paper fill was priced (next open or last close),
    the trade and client order ids (``data-key``: ``<client order id>/<trade id>``).
    Parameters are `OrderBlotter`'s.
    """

    css_class = "bf-fills-card"

    def __init__(
        self, store: Store, portfolio: str | None = None, *, day: object = None, last: int | None = None
    ) -> None:
        super().__init__(store, portfolio, day=day, last=last)
        self.html = W.HTML(layout=W.Layout(max_height="420px", overflow="auto"))
        self.html.add_class("bf-fills")
        self.note = W.HTML()
        self.fills: list[dict[str, object]] = []
        self.widget = self._root(self.note, self.html, title="fills")

    def _draw(self) -> None:
        orders = self._orders()
        filled = orders.loc[orders["filled_quantity"] > 0, "order_id"] if len(orders) else ()
        found: list[dict[str, object]] = []
        for order_id in filled:
            order = load_order(self.store, str(order_id))
            found.extend(_fill_row(order, e) for e in order.events if isinstance(e, Filled))
        rows = sorted(found, key=lambda r: (str(r["ts"]), str(r["key"])), reverse=True)
        self.fills = rows
        columns = [
            Column(field="time", label="time (UTC)", kind="text"),
            *([Column(field="portfolio", kind="text")] if self.portfolio is None else []),
            Column(field="symbol", kind="text"),
            Column(field="side", kind="html"),
            Column(field="quantity", kind="qty"),
            Column(field="price", digits=4),
            Column(field="commission", kind="money"),
            Column(field="basis", label="priced at", kind="text"),
            Column(field="trade_id", label="trade id", kind="text", truncate=200),
            Column(field="client_order_id", label="client order id", kind="text", truncate=220),
        ]
        self.html.value = _CSS + html_table(rows, columns, key="key", empty="no fills")
        what = self._what(len(rows), "fill", f", those of its newest {MAX_ROWS:,} orders")
        self.note.value = f"<div class='bf-note'>{html.escape(what)}</div>"
