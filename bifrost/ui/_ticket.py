"""The order ticket: enter an order, see every pre-trade check's verdict, send it to the paper broker, watch it.

`OrderTicket` is a form over `bifrost.execution.OrderManager`: **Check** runs the manager's
pre-trade checks on the order as it would be sent now (the risk limits, the book's trading
state and each compliance rule: pass, warn or block, with the rule's version and reason)
and records nothing; **Submit** sends it through the same manager to the paper broker
(`bifrost.execution.PaperBroker` on the wall clock, as ``bifrost orders submit`` does) and
then shows the order's status as its events arrive (the manager's `OrderBus` in this
process, `bifrost.execution.orders_marker` for what other processes do to it) until it is
terminal (**Cancel order** while it works). Each Submit is a new order (a new client order
id), except a double click: the same form submitted again within ``double_click_s`` (2 s)
of the previous Submit ending is that order again, never a second one. The page `order_ticket` puts the ticket over a
blotter of today's orders and their fills (`OrderBlotter`, `FillsTable`).

How a paper order fills: a **market IOC** order (the ticket's default) fills at once at
the last close in the store (basis "last close"); what cannot fill at once (the volume
cap) is canceled. A DAY market order with no bar after now fills there too; a limit
order that the last close does not reach rests (DAY until its session ends, GTC until
canceled) and fills when a later bar reaches it.

The form's text goes to the library as typed (`bifrost.execution.OrderRequest.create`
parses it); a bad field (not a number, NaN, negative, an unknown symbol or portfolio) is
one line in the ticket's error area, never a traceback.
"""

from __future__ import annotations

import contextlib
import html
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import ipywidgets as W
import pandas as pd

from bifrost.data import Store
from bifrost.errors import BifrostError, InvalidInputError
from bifrost.execution import (
    CheckResult,
    Filled,
    Order,
    OrderEvent,
    OrderManager,
    OrderStatus,
    OrderType,
    Rejected,
    Side,
    TimeInForce,
    fill_basis,
    load_order,
)
from bifrost.ui._base import Column, Component, ErrorArea, Marker, card, describe_error, html_table
from bifrost.ui._orders import FillsTable, OrderBlotter
from bifrost.ui._pages import Page, _check_interval, _row
from bifrost.ui._portfolio import PortfolioPicker

__all__ = ["DOUBLE_CLICK_S", "PAPER_NOTE", "CheckRow", "OrderTicket", "check_rows", "order_ticket", "paper_manager"]

_NEEDS_LIMIT = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_NEEDS_STOP = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_RANK = {"pass": 0, "warn": 1, "block": 2}
_BASIS = {"next_open": "next open", "last_close": "last close", "bar_range": "bar range", "quote": "quote"}

PAPER_NOTE = (
    "Paper broker: a <b>market IOC</b> order (the default) fills at once at the last close in the store "
    "(priced at “last close”); what cannot fill at once is canceled. A DAY market order with no later bar fills "
    "there too; a limit order the last close does not reach rests until a later bar reaches it (DAY: its "
    "session; GTC: until canceled). <b>Check</b> runs every pre-trade check without sending anything. Each "
    "<b>Submit</b> sends a new order; the same order submitted again within 2 s (a double click) is not sent twice."
)
DOUBLE_CLICK_S = 2.0  # a second Submit of the same form this soon after the first is a double click: the same order

# the ticket's own look: the verdict banner, the check rows' verdicts, the watched order's status
_CSS = (
    "<style>"
    ".bf-ticket-verdict{font-size:14px;font-weight:600;padding:6px 10px;border-radius:3px;margin:4px 0}"
    ".bf-verdict-block{color:#86181d;background:#ffeef0;border:1px solid #cb2431}"
    ".bf-verdict-warn{color:#735c0f;background:#fffbdd;border:1px solid #dbab09}"
    ".bf-verdict-pass{color:#144620;background:#dcffe4;border:1px solid #34d058}"
    ".bf-verdict-word{font-weight:800;letter-spacing:.05em;margin-right:8px}"
    ".bf-checks tr.bf-breach td{background:#ffeef0}.bf-checks tr.bf-warning td{background:#fff8e1}"
    ".bf-checks tr.bf-breach .bf-sev{color:#cb2431}.bf-checks tr.bf-warning .bf-sev{color:#b08800}"
    ".bf-checks tr.bf-ok .bf-sev{color:#22863a}"
    ".bf-ticket-order .bf-order-status{font-weight:800;font-size:14px;text-transform:uppercase}"
    ".bf-order-filled{color:#22863a}.bf-order-rejected{color:#cb2431}"
    ".bf-order-accepted,.bf-order-submitted,.bf-order-partially_filled,.bf-order-pending_cancel,"
    ".bf-order-pending_replace{color:#0366d6}.bf-order-canceled,.bf-order-expired{color:#8a939c}"
    "</style>"
)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def paper_manager(store: Store) -> OrderManager:
    """Return the order manager the ticket sends through: the default checks, the paper broker on the wall clock.

    As ``bifrost orders submit`` makes it with ``broker = "paper"``: a market order with no
    bar after now fills at the last close at once, never at the open of a bar already past.
    """
    from bifrost.execution import PaperBroker

    return OrderManager(store, PaperBroker(store, clock=_now))


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRow:
    """One line of the pre-check: a check's (or one compliance rule's) verdict, version and reason.

    ``check`` is the pre-trade check's name (``risk_limits``, ``trading_state``,
    ``compliance``); for a compliance rule ``rule``, ``kind`` and ``version`` name the rule
    version that decided (empty for the other checks).
    """

    check: str
    rule: str
    kind: str
    version: str
    verdict: str
    reason: str

    @property
    def key(self) -> str:
        """The row's key in the table (``data-key``): ``check`` or ``check:rule``."""
        return f"{self.check}:{self.rule}" if self.rule else self.check


def check_rows(results: Sequence[CheckResult]) -> list[CheckRow]:
    """Return the pre-check's lines: one per check, a compliance check's as one per rule it ran."""
    rows: list[CheckRow] = []
    for r in results:
        rules = r.inputs.get("rules") if isinstance(r.inputs, Mapping) else None
        if isinstance(rules, list | tuple) and rules:
            for rule in rules:
                if not isinstance(rule, Mapping):
                    continue
                rows.append(
                    CheckRow(
                        check=r.check,
                        rule=str(rule.get("rule", "")),
                        kind=str(rule.get("kind", "")),
                        version=str(rule.get("version", "")),
                        verdict=str(rule.get("verdict", "")),
                        reason=str(rule.get("reason", "")),
                    )
                )
            continue
        rows.append(CheckRow(check=r.check, rule="", kind="", version="", verdict=r.verdict,
                             reason=r.reason or _passed(r)))  # fmt: skip
    return rows


def _passed(result: CheckResult) -> str:
    # what a check that passes without a word decided on, from its recorded inputs (never recomputed here)
    inputs = result.inputs
    measured = [
        f"{name} {float(v['after']):.2%} of equity (limit {float(v['threshold']):.2%})"
        for name, v in inputs.items()
        if isinstance(v, Mapping) and {"after", "threshold"} <= set(v)
    ]
    if measured:
        return "after the order: " + ", ".join(measured)
    if "state" in inputs:
        return f"the book is {inputs['state']}"
    return "ok"


def _worst(results: Sequence[CheckResult]) -> str:
    verdict = "pass"
    for r in results:
        if _RANK.get(r.verdict, 0) > _RANK[verdict]:
            verdict = r.verdict
    return verdict


def _blocking(results: Sequence[CheckResult], verdict: str) -> str:
    return "; ".join(f"{r.check}: {r.reason}" for r in results if r.verdict == verdict)


_ROW_CLASS = {"block": "bf-check bf-breach", "warn": "bf-check bf-warning", "pass": "bf-check bf-ok"}
_CHECK_COLUMNS = (
    Column(field="check", kind="text"),
    Column(field="rule", kind="text"),
    Column(field="kind", kind="text"),
    Column(field="version", kind="text", truncate=110),
    Column(field="verdict", kind="html"),
    Column(field="reason", kind="text", wrap=True),
)


class OrderTicket(Component):
    """Enter an order, check it against every pre-trade check, send it to the paper broker, watch its status.

    Inputs: the portfolio (``picker``, a dropdown of the stored portfolios), ``symbol``,
    ``side``, ``quantity``, ``order_type``, ``limit_price`` and ``stop_price`` (enabled when
    the type takes them), ``time_in_force``; all passed as typed to the library.
    `check` shows each check's verdict (a compliance check's per rule: verdict, version,
    reason) and the worst of them (a block in red with its reasons), dimmed once the form
    changes; `submit` sends the order and shows its status until it is terminal; `cancel`
    cancels it while it works. Bad input is one line in the error area (``.bf-error``).

    Each `submit` sends a new order with a fresh client order id, so that pressing Submit
    again later sends the order again (the compliance ``duplicate_order`` rule then judges
    it: the default rules warn on an identical order within 5 s), and a form the checks
    rejected, submitted again, is a new decision (a new rejected order, or a new order once
    fixed). The one exception is a double click: the same form values submitted again while
    the previous Submit runs or within ``double_click_s`` seconds after it ends reuse its
    client order id, and the manager returns that order without sending anything (the
    idempotency the client order id gives). Any changed field is a new order.

    Parameters
    ----------
    store
        The store the orders, books and bars are in.
    portfolio
        The portfolio picked first (default: the first by name).
    manager
        The order manager to check and send with (default: `paper_manager`: the default
        checks and the paper broker on the wall clock).
    double_click_s
        The double-click guard, in seconds (default `DOUBLE_CLICK_S`, 2 s; 0 makes every
        Submit a new order).
    clock
        The guard's clock: seconds from any origin, never going back (default
        `time.monotonic`); tests pass their own.

    Raises
    ------
    InvalidInputError
        If ``double_click_s`` is not a finite number of seconds from 0 to 60.
    """

    markers: ClassVar[tuple[Marker, ...]] = ("orders", "bars")  # the watched order; the symbols offered
    css_class = "bf-ticket"

    def __init__(
        self,
        store: Store,
        portfolio: str | None = None,
        *,
        manager: OrderManager | None = None,
        double_click_s: float = DOUBLE_CLICK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.double_click_s = _check_guard(double_click_s)
        self._clock = clock
        super().__init__(store)
        self.manager = paper_manager(store) if manager is None else manager
        self.picker = PortfolioPicker(store)
        self.picker.refresh()
        if portfolio is not None and portfolio in self.picker.dropdown.options:
            self.picker.dropdown.value = portfolio
        # two fields a row, their labels one width, so that the form reads as a column of aligned boxes
        label = {"description_width": "92px"}

        def box() -> W.Layout:
            return W.Layout(width="270px")

        self.picker.dropdown.style.description_width = "92px"
        self.picker.dropdown.layout.width = "270px"
        self.symbol = W.Combobox(options=self._symbols(), description="symbol", placeholder="e.g. ORCL",
                                 ensure_option=False, style=label, layout=box())  # fmt: skip
        self.side = W.Dropdown(options=[s.value for s in Side], value=Side.BUY.value, description="side",
                               style=label, layout=box())  # fmt: skip
        self.quantity = W.Text(value="", description="quantity", placeholder="shares, e.g. 100", style=label,
                               layout=box())  # fmt: skip
        self.order_type = W.Dropdown(options=[t.value for t in OrderType], value=OrderType.MARKET.value,
                                     description="type", style=label, layout=box())  # fmt: skip
        self.limit_price = W.Text(value="", description="limit price", placeholder="for limit, stop_limit",
                                  style=label, layout=box())  # fmt: skip
        self.stop_price = W.Text(value="", description="stop price", placeholder="for stop, stop_limit",
                                 style=label, layout=box())  # fmt: skip
        self.time_in_force = W.Dropdown(options=[t.value for t in TimeInForce], value=TimeInForce.IOC.value,
                                        description="time in force", style=label, layout=box())  # fmt: skip
        self.check_button = W.Button(description="Check", button_style="info", icon="",
                                     layout=W.Layout(width="170px", margin="2px 2px 2px 98px"))  # fmt: skip
        self.submit_button = W.Button(description="Submit to paper broker", button_style="primary", icon="",
                                      layout=W.Layout(width="270px"))  # fmt: skip
        for w, cls in ((self.symbol, "bf-ticket-symbol"), (self.side, "bf-ticket-side"),
                       (self.quantity, "bf-ticket-quantity"), (self.order_type, "bf-ticket-type"),
                       (self.limit_price, "bf-ticket-limit"), (self.stop_price, "bf-ticket-stop"),
                       (self.time_in_force, "bf-ticket-tif"), (self.check_button, "bf-ticket-check"),
                       (self.submit_button, "bf-ticket-submit")):  # fmt: skip
            w.add_class(cls)
        self.picker.dropdown.add_class("bf-ticket-portfolio")
        self.order_type.observe(lambda _: self._prices_enabled(), names="value")
        self._prices_enabled()
        self.check_button.on_click(lambda _: self.check())
        self.submit_button.on_click(lambda _: self.submit())
        # a pre-check shown is of the order as it was checked: any change of the form dims it until checked again
        for w in (self.picker.dropdown, self.symbol, self.side, self.quantity, self.order_type, self.limit_price,
                  self.stop_price, self.time_in_force):  # fmt: skip
            w.observe(lambda _: self._stale(), names="value")
        note = W.HTML(value=f"<div class='bf-note'>{PAPER_NOTE}</div>")
        note.add_class("bf-ticket-note")
        self.form_error = ErrorArea()
        self.error = self.form_error
        form = card(
            "order",
            [
                W.HTML(value=_CSS),
                self.picker.widget,
                W.HBox([self.symbol, self.side]),
                W.HBox([self.quantity, self.order_type]),
                W.HBox([self.limit_price, self.stop_price]),
                W.HBox([self.time_in_force]),
                W.HBox([self.check_button, self.submit_button]),
                self.form_error.widget,
                note,
            ],
        )
        form.add_class("bf-ticket-form")
        self.verdict = W.HTML(value="<div class='bf-hint'>Enter an order and press <b>Check</b>.</div>")
        self.verdict.add_class("bf-ticket-verdict-box")
        self.table = W.HTML()
        self.table.add_class("bf-checks")
        self.rules_note = W.HTML()
        self.rules_note.add_class("bf-ticket-rules")
        self.stale_note = W.HTML(value="", layout=W.Layout(display="none"))
        self.stale_note.add_class("bf-ticket-stale")
        checks = card("pre-trade checks", [self.stale_note, self.verdict, self.table, self.rules_note])
        checks.add_class("bf-ticket-checks")
        self.status = W.HTML(value="<div class='bf-note'>no order sent from this ticket yet</div>")
        self.status.add_class("bf-ticket-order")
        self.cancel_button = W.Button(description="Cancel order", button_style="warning", icon="",
                                      layout=W.Layout(display="none"))  # fmt: skip
        self.cancel_button.add_class("bf-ticket-cancel")
        self.cancel_button.on_click(lambda _: self.cancel())
        order = card("order status", [self.status, self.cancel_button])
        order.add_class("bf-ticket-status")
        self.rows: list[CheckRow] = []  # the last pre-check's lines
        self.results: list[CheckResult] = []  # the last pre-check's results, one per check
        self.order: Order | None = None  # the order this ticket sent last, as last seen
        self._last: _Sent | None = None  # the previous Submit: what a double click of it reuses
        self.manager.subscribe(self._on_event)
        self.form_widget, self.checks_widget, self.status_widget = form, checks, order
        self.widget = W.VBox([W.HBox([form, checks], layout=W.Layout(width="100%")), order])
        form.layout.width, checks.layout.width = "44%", "56%"
        self.widget.add_class(self.css_class)

    # -- the form -------------------------------------------------------------------------
    @property
    def portfolio(self) -> str | None:
        """The portfolio picked."""
        return self.picker.value

    def _symbols(self) -> list[str]:
        return [str(s) for s in self.store.list_symbols()["symbol"]]

    def _prices_enabled(self) -> None:
        kind = OrderType(self.order_type.value)
        self.limit_price.disabled = kind not in _NEEDS_LIMIT
        self.stop_price.disabled = kind not in _NEEDS_STOP

    def fields(self) -> dict[str, object]:
        """Return the order as the form holds it: `OrderRequest.create`'s fields, the text as typed.

        A price box the order type takes no price for is ignored (None); an empty one is None.

        Raises
        ------
        InvalidInputError
            If no portfolio is picked (the store has none).
        """
        if self.portfolio is None:
            raise InvalidInputError("portfolio: the store has no portfolio yet (`bifrost portfolio create`)")
        kind = OrderType(self.order_type.value)
        limit = self.limit_price.value if kind in _NEEDS_LIMIT else ""
        stop = self.stop_price.value if kind in _NEEDS_STOP else ""
        return {
            "portfolio": self.portfolio,
            "symbol": self.symbol.value,
            "side": self.side.value,
            "quantity": self.quantity.value,
            "order_type": kind.value,
            "limit_price": limit if limit != "" else None,
            "stop_price": stop if stop != "" else None,
            "time_in_force": self.time_in_force.value,
        }

    def _client_order_id(self, fields: Mapping[str, object], clicked: float) -> tuple[str, str]:
        # a fresh id per Submit, but for a double click: the same form as the previous Submit, clicked while it
        # ran or within the guard after it ended, is that order again (the manager returns it, sends nothing)
        key = repr(sorted(fields.items()))
        last = self._last
        if last is not None and last.key == key and clicked - last.done < self.double_click_s:
            return key, last.client_order_id
        return key, f"ticket-{uuid.uuid4().hex[:20]}"

    # -- actions --------------------------------------------------------------------------
    def check(self) -> list[CheckRow] | None:
        """Run every pre-trade check on the order as the form holds it; show and return the lines.

        Nothing is sent or recorded. Bad input shows its message and returns None.
        """
        with self.lock:
            self._busy(True)
            try:
                self.form_error.clear()
                self._show_checks(self.manager.precheck(self.fields()))
                return self.rows
            except Exception as exc:  # the form's boundary: the message, never a traceback
                self._refused(exc)
                return None
            finally:
                self._busy(False)

    def submit(self) -> Order | None:
        """Check the order, send it through the order manager to the paper broker; show and return it.

        The pre-check is shown first (what the checks say now); the order then goes through
        `OrderManager.submit`, which runs the same checks and records its decision: a block
        makes it REJECTED with the reasons (shown in red). Bad input shows its message and
        returns None (the manager audits the refused request).

        Each call is a new order (a new client order id), but for a double click: the same
        form as the previous Submit, called while that one runs or within
        ``double_click_s`` after it ended, returns that order and sends nothing.
        """
        clicked = self._clock()  # when the button was pressed: before waiting for a Submit in progress
        with self.lock:
            self._busy(True)
            try:
                self.form_error.clear()
                fields = self.fields()
                # a refused request: the manager refuses (and audits) it below, with the same message
                with contextlib.suppress(BifrostError):
                    self._show_checks(self.manager.precheck(fields))
                self.manager.process_events()  # what the broker reported since (as `bifrost orders submit`)
                key, client_order_id = self._client_order_id(fields, clicked)
                order = self.manager.submit({**fields, "client_order_id": client_order_id})
                self._last = _Sent(key=key, client_order_id=client_order_id, done=self._clock())
                self.order = order
                self._show_order()
                return order
            except Exception as exc:
                self._refused(exc)
                return None
            finally:
                self._busy(False)

    def cancel(self) -> Order | None:
        """Ask the broker to cancel the order this ticket sent last, while it works; show and return it.

        A cancel never goes through the pre-trade checks. An order that is no longer working
        (filled, canceled, rejected) shows the broker's or the manager's message.
        """
        with self.lock:
            try:
                self.form_error.clear()
                if self.order is None:
                    raise InvalidInputError("cancel: this ticket has sent no order yet")
                self.manager.process_events()
                self.order = self.manager.cancel(self.order.client_order_id)
                self._show_order()
                return self.order
            except Exception as exc:  # the form's boundary: the message, never a traceback
                if not isinstance(exc, BifrostError):
                    import logging

                    logging.getLogger("bifrost.ui").exception("order ticket: cancel: %s", type(exc).__name__)
                self.form_error.show(describe_error(exc))
                return None

    def _busy(self, busy: bool) -> None:
        self.check_button.disabled = self.submit_button.disabled = busy

    def _stale(self) -> None:
        # the form changed since the pre-check shown: it no longer says what Submit would send
        if not self.rows:
            return
        self.checks_widget.add_class("bf-stale-checks")
        self.verdict.add_class("bf-stale")
        self.table.add_class("bf-stale")
        self.stale_note.value = (
            "<div class='bf-note bf-stale-text'>The order changed since this check: press <b>Check</b> again "
            "(Submit checks it again too).</div>"
        )
        self.stale_note.layout.display = None

    def _fresh(self) -> None:
        self.checks_widget.remove_class("bf-stale-checks")
        self.verdict.remove_class("bf-stale")
        self.table.remove_class("bf-stale")
        self.stale_note.value = ""
        self.stale_note.layout.display = "none"

    def _refused(self, exc: BaseException) -> None:
        if not isinstance(exc, BifrostError):
            import logging

            logging.getLogger("bifrost.ui").exception("order ticket: %s", type(exc).__name__)
        self.form_error.show(describe_error(exc))
        self.verdict.value = "<div class='bf-note'>Not checked: the order is not valid (see the message).</div>"
        self.table.value = self.rules_note.value = ""
        self.rows, self.results = [], []
        self._fresh()

    def _show_checks(self, results: Sequence[CheckResult]) -> None:
        self.results = list(results)
        self.rows = check_rows(results)
        verdict = _worst(results)
        if verdict == "block":
            head, say = "BLOCKED", f"the order would be rejected: {_blocking(results, 'block')}"
        elif verdict == "warn":
            head, say = "WARN", f"the order may be sent, with warnings: {_blocking(results, 'warn')}"
        else:
            head, say = "PASS", "every check passes: the order may be sent"
        self.verdict.value = (
            f"<div class='bf-ticket-verdict bf-verdict-{verdict}' data-verdict='{verdict}'>"
            f"<span class='bf-verdict-word'>{head}</span><span class='bf-verdict-reason'>{html.escape(say)}</span>"
            "</div>"
        )
        shown = [
            {
                "check": r.check,
                "rule": r.rule or "–",
                "kind": r.kind or "–",
                "version": r.version or "–",
                "verdict": f"<span class='bf-sev bf-sev-{html.escape(r.verdict)}'>{html.escape(r.verdict)}</span>",
                "reason": r.reason or "ok",
                "_verdict": r.verdict,
                "_key": r.key,
            }
            for r in self.rows
        ]
        self.table.value = html_table(
            shown,
            _CHECK_COLUMNS,
            key="_key",
            row_class=lambda rec: _ROW_CLASS.get(str(rec["_verdict"]), "bf-check"),
            empty="no pre-trade checks",
        )
        hashes = [str(r.inputs["rules_hash"]) for r in results if "rules_hash" in r.inputs]
        n_rules = sum(1 for r in self.rows if r.rule)
        self.rules_note.value = (
            f"<div class='bf-note'>compliance: {n_rules} rule{'' if n_rules == 1 else 's'} in force, from the rules "
            f"file of sha256 <span class='bf-num' title='{html.escape(hashes[0], quote=True)}'>"
            f"{html.escape(hashes[0][:16])}…</span> (the audit trail keeps its text)</div>"
            if hashes
            else ""
        )
        self._fresh()

    # -- the order's status -----------------------------------------------------------------
    def _on_event(self, order: Order, event: OrderEvent) -> None:
        # the manager's bus, in this process: each durable event of the order this ticket sent
        if self.order is not None and order.client_order_id == self.order.client_order_id:
            with self.lock:
                self.order = order
                self._show_order()

    def _draw(self) -> None:
        # the orders marker moved (another process, or the broker): read the watched order again
        if self.order is not None:
            self.order = load_order(self.store, self.order.client_order_id)
            self._show_order()
        symbols = self._symbols()
        if list(self.symbol.options) != symbols:
            self.symbol.options = symbols

    def _show_order(self) -> None:
        order = self.order
        if order is None:
            return
        status = order.status.value
        what = f"{order.side.value} {order.quantity} {order.symbol} {order.order_type.value}"
        if order.stop_price is not None:
            what += f" stop {order.stop_price}"
        if order.limit_price is not None:
            what += f" at {order.limit_price}"
        what += f" {order.time_in_force.value}, {order.portfolio}"
        filled = ""
        if order.filled_quantity > 0:
            bases = [fill_basis(e.trade_id) for e in order.events if isinstance(e, Filled)]
            basis = f" ({_BASIS.get(str(bases[-1]), str(bases[-1]))})" if bases and bases[-1] else ""
            of = "" if order.filled_quantity == order.quantity else f" of {order.quantity}"
            quantity, price = float(order.filled_quantity), float(order.avg_fill_price or 0)
            filled = (
                f" <span class='bf-ticket-filled'>filled <b class='bf-num' data-value='{quantity!r}'>"
                f"{order.filled_quantity}</b>{of} at <b class='bf-num' data-value='{price!r}'>"
                f"{order.avg_fill_price}</b>{basis}</span>"
            )
        state = "terminal" if order.is_terminal else "working: watching for its fills"
        self.cancel_button.layout.display = None if order.is_working else "none"
        reasons = ""
        if order.reasons:
            cls = "bf-ticket-reasons bf-error-text" if status == OrderStatus.REJECTED.value else "bf-ticket-reasons"
            reasons = (
                f"<div class='{cls}' style='color:{'#cb2431' if status == 'rejected' else '#586069'}'>"
                f"{html.escape('; '.join(order.reasons))}</div>"
            )
        events = [{"time": f"{e.ts:%Y-%m-%d %H:%M:%S}", "event": _event_name(e), "detail": _event_detail(e)}
                  for e in order.events]  # fmt: skip
        timeline = html_table(
            events,
            (Column(field="time", label="time (UTC)", kind="text"), Column(field="event", kind="text"),
             Column(field="detail", kind="text", wrap=True)),
            empty="no events yet",
        )  # fmt: skip
        self.status.value = (
            f"<div class='bf-ticket-order-line' data-client-order-id='{html.escape(order.client_order_id, quote=True)}'"
            f" data-status='{html.escape(status, quote=True)}'>"
            f"<span class='bf-order-status bf-order-{html.escape(status)}'>{html.escape(status.replace('_', ' '))}"
            f"</span> {html.escape(what)}{filled} <span class='bf-note'>({state}; client order id "
            f"{html.escape(order.client_order_id)})</span></div>{reasons}{timeline}"
        )


@dataclass(frozen=True, slots=True)
class _Sent:
    # a Submit that reached the manager: its form, its client order id, when it ended (the guard's clock)
    key: str
    client_order_id: str
    done: float


def _check_guard(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"double_click_s must be a finite number of seconds, got {value!r}")
    if not 0.0 <= value <= 60.0:
        raise InvalidInputError(f"double_click_s must be from 0 to 60 seconds, got {value!r}")
    return float(value)


def _event_name(event: OrderEvent) -> str:
    return type(event).__name__.lower()


def _event_detail(event: OrderEvent) -> str:
    if isinstance(event, Filled):
        basis = fill_basis(event.trade_id)
        at = f" ({_BASIS.get(basis, basis)})" if basis else ""
        return f"{event.quantity} at {event.price}{at}, commission {event.commission}"
    if isinstance(event, Rejected):
        return f"{event.message} (reason: {event.reason})"
    message = getattr(event, "message", None)
    reason = getattr(event, "reason", None)
    parts = [str(p) for p in (reason, message) if p]
    return ": ".join(parts)


def order_ticket(
    store: Store,
    *,
    portfolio: str | None = None,
    manager: OrderManager | None = None,
    day: object = None,
    watch: bool = True,
    interval_s: float = 1.0,
) -> Page:
    """Build the order ticket: the order form, its pre-trade checks, its status; today's orders and fills.

    The blotter and the fills show the picked portfolio's orders of ``day`` (default: today,
    UTC) and update as orders are sent or filled, here or by another process.

    Parameters
    ----------
    store
        The store to trade in (`bifrost.data.open_store`).
    portfolio
        The portfolio picked first (default: the first by name).
    manager
        The order manager (default: `paper_manager`: the paper broker on the wall clock).
    day
        The day the blotter shows (default: today, UTC).
    watch, interval_s
        Poll the store's change markers every ``interval_s`` seconds from a thread.

    Raises
    ------
    InvalidInputError
        If ``interval_s`` is not a number of seconds from 0.1 to 3600, or ``day`` not a date.
    """
    interval_s = _check_interval(interval_s)
    ticket = OrderTicket(store, portfolio, manager=manager)
    shown_day = _now().normalize() if day is None else day
    blotter = OrderBlotter(store, ticket.portfolio, day=shown_day)
    fills = FillsTable(store, ticket.portfolio, day=shown_day)
    picker = ticket.picker

    def pick(name: str | None) -> None:
        for c in (blotter, fills):
            c.set_portfolio(name)

    picker.on_pick = pick
    rows = [ticket.widget, _row(blotter.widget, fills.widget, widths=("60%", "40%"))]
    components: dict[str, Component] = {"picker": picker, "ticket": ticket, "blotter": blotter, "fills": fills}
    return Page("order_ticket", "Order ticket", store, components, rows, watch=watch, interval_s=interval_s)
