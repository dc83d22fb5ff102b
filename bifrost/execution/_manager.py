"""The order manager: intent → pre-trade checks → broker → events → fills → ledger → audit, written ahead.

The crash story (every step boundary is an ``on_step`` name; a SIGKILL at any of them loses
nothing and doubles nothing):

1. A request is validated (its own rules, the symbol known to the store, prices on the
   tick, the portfolio stored). A bad one raises `InvalidInputError` (or `NotFoundError`)
   and changes nothing but the audit trail (an ``order.refused`` record).
2. Idempotency: a ``client_order_id`` already stored returns that order (the same request)
   or is refused (another request under the same id). Nothing is ever sent twice.
3. The pre-trade checks decide; every decision is stored with its inputs. A block makes
   the order REJECTED with the reasons, stored, audited and returned (never raised).
4. ``intent_durable``: the order and its `Submitted` event are committed *before* the
   broker is called, so that a crash after this point leaves an order that restarting
   asks the broker about, by ``client_order_id``.
5. ``broker_called`` (just before the call), ``broker_answered`` (the answer is in memory
   only). A timeout or a 5xx (`BrokerError`) commits a `SubmitUnknown`: the order is *in
   doubt*; it is resolved by ``broker.get_order(client_order_id)`` in `process_events` and
   `reconcile`, never by sending it again (None from the broker: Rejected NOT_RECEIVED).
6. ``answer_durable``: the answer's events, their fills (an execution fill, a ledger
   `Fill` whose ``txn_id`` is ``<broker>:<client_order_id>:<trade_id>``) and their audit
   records commit in one transaction; only then does `submit` return.
7. `process_events` polls the broker (``events_polled``) and commits what it learnt in one
   transaction (``fill_durable``). Events polled and lost in a crash are learnt again by
   `reconcile` (orders by client order id, fills by trade id).

`reconcile` runs in a fixed order: orders (``reconcile_orders``: every non-terminal order
asked by its client order id and brought up to date), fills (``reconcile_fills``: the
broker's fills not yet applied are applied by trade id, never twice; a fill or a working
order the book does not know is a problem), positions (``reconcile_positions``: the
broker's positions are authoritative; any difference from the ledger is a problem). A
report with problems is audited and raised as `ReconciliationError`, and the manager
refuses to submit until a later `reconcile` finds none.

The portfolio's recorded ledger is kept in memory and appended to in the fill's own
transaction (`bifrost.portfolio.append_in_transaction`: the stored count is checked
first, so another process's appends are seen), never replayed per fill.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pandas as pd

from bifrost._checks import as_utc_timestamp, quote
from bifrost.data import StateDb, Store
from bifrost.errors import (
    BrokerError,
    DuplicateFillError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    ReconciliationError,
    TransactionRejected,
)
from bifrost.execution._broker import Broker, BrokerFill, BrokerOrder
from bifrost.execution._bus import OrderBus, Subscriber, notify
from bifrost.execution._checks import (
    BookView,
    CheckResult,
    MarketView,
    OpenOrder,
    PreTradeCheck,
    RiskLimitCheck,
    TradingState,
    TradingStateCheck,
    inputs_json,
)
from bifrost.execution._compliance import ComplianceCheck
from bifrost.execution._order import (
    WORKING_STATUSES,
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
    PendingReplace,
    Rejected,
    RejectReason,
    ReplaceRejected,
    Side,
    Submitted,
    SubmitUnknown,
    TimeInForce,
    check_client_order_id,
    check_tick,
    event_from_dict,
    event_to_dict,
)
from bifrost.execution._schema import EXECUTION_SCHEMA, audit
from bifrost.portfolio import Fill, Ledger, append_in_transaction, require_portfolio
from bifrost.portfolio._ledger import check_portfolio_name
from bifrost.portfolio._persist import _load as _load_ledger

__all__ = [
    "STEPS",
    "OrderManager",
    "PositionDifference",
    "ReconcileReport",
    "book_and_market",
    "list_orders",
    "load_decisions",
    "load_order",
]

log = logging.getLogger("bifrost.execution")

STEPS: tuple[str, ...] = (
    "intent_durable",
    "broker_called",
    "broker_answered",
    "answer_durable",
    "events_polled",
    "fill_durable",
    "reconcile_orders",
    "reconcile_fills",
    "reconcile_positions",
)
"""The step boundaries at which ``on_step(name)`` is called, in flow order."""

_ORDER_COLUMNS = (
    "order_id", "client_order_id", "portfolio", "broker", "symbol", "side", "order_type", "quantity", "limit_price",
    "stop_price", "time_in_force", "request", "status", "filled_quantity", "avg_fill_price", "commission",
    "broker_order_id", "in_doubt", "reasons", "events", "ts_created", "ts_updated",
)  # fmt: skip
_LIST_COLUMNS = [
    "order_id", "client_order_id", "portfolio", "symbol", "side", "order_type", "quantity", "filled_quantity",
    "avg_fill_price", "status", "ts_created", "ts_updated", "reasons",
]  # fmt: skip
_OPEN = tuple(sorted(s.value for s in WORKING_STATUSES))
_REQUEST_FIELDS = (
    "portfolio", "symbol", "side", "quantity", "order_type", "limit_price", "stop_price", "time_in_force",
    "client_order_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionDifference:
    """One symbol whose ledger position differs from the broker's (the broker is authoritative)."""

    portfolio: str
    symbol: str
    ledger: Decimal
    broker: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileReport:
    """What `OrderManager.reconcile` found and did, in its fixed order: orders, fills, positions.

    ``problems`` lists what no recorded event explains (broker working orders or fills the
    book does not know, position differences); empty means the book and the broker agree.
    """

    ts: pd.Timestamp
    portfolios: tuple[str, ...]
    orders_checked: int
    orders_updated: tuple[str, ...]  # client order ids brought up to date
    fills_applied: tuple[str, ...]  # "<client_order_id>:<trade_id>" applied by this reconcile
    unknown_orders: tuple[str, ...] = ()  # broker working orders the book does not know
    unknown_fills: tuple[str, ...] = ()  # broker fills of orders the book does not know
    position_differences: tuple[PositionDifference, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether the book and the broker agree."""
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict of the report."""
        return {
            "ts": self.ts.isoformat(),
            "ok": self.ok,
            "portfolios": list(self.portfolios),
            "orders_checked": self.orders_checked,
            "orders_updated": list(self.orders_updated),
            "fills_applied": list(self.fills_applied),
            "unknown_orders": list(self.unknown_orders),
            "unknown_fills": list(self.unknown_fills),
            "position_differences": [
                {"portfolio": d.portfolio, "symbol": d.symbol, "ledger": str(d.ledger), "broker": str(d.broker)}
                for d in self.position_differences
            ],
            "problems": list(self.problems),
        }


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _request_dict(request: OrderRequest, client_order_id: str | None) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _REQUEST_FIELDS:
        value = client_order_id if name == "client_order_id" else getattr(request, name)
        out[name] = None if value is None else str(value)
    return out


def _request_from(data: Mapping[str, Any]) -> OrderRequest:
    return OrderRequest(
        portfolio=data["portfolio"],
        symbol=data["symbol"],
        side=Side(data["side"]),
        quantity=Decimal(data["quantity"]),
        order_type=OrderType(data["order_type"]),
        limit_price=None if data["limit_price"] is None else Decimal(data["limit_price"]),
        stop_price=None if data["stop_price"] is None else Decimal(data["stop_price"]),
        time_in_force=TimeInForce(data["time_in_force"]),
        client_order_id=data["client_order_id"],
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dumps(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)


class OrderManager:
    """Send orders through pre-trade checks to a broker, and keep every event durable first.

    See the module's docstring for the flow and its crash story.

    Parameters
    ----------
    store
        Where orders, events, fills, decisions, the ledger and the audit trail are kept.
    broker
        The venue (`PaperBroker`, `AlpacaBroker`, ...).
    checks
        The pre-trade checks, run in order; default: `RiskLimitCheck` (the portfolio's
        `bifrost.risk` limits), `TradingStateCheck`, then `ComplianceCheck` (the compliance
        rules `bifrost.compliance.load_rules` finds: the ``compliance_rules`` setting,
        ``<BIFROST_HOME>/compliance.toml`` or the documented default).
    clock
        The time of new orders and of the market view (default: now, UTC).
    on_step
        Called with each step's name at its boundary (`STEPS`): fault injection for tests
        and the kill soak.
    """

    def __init__(
        self,
        store: Store,
        broker: Broker,
        *,
        checks: Sequence[PreTradeCheck] | None = None,
        clock: Callable[[], pd.Timestamp] | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.broker = broker
        self.checks: tuple[PreTradeCheck, ...] = (
            (RiskLimitCheck(store), TradingStateCheck(), ComplianceCheck(store)) if checks is None else tuple(checks)
        )
        for c in self.checks:
            if not callable(getattr(c, "check", None)) or not isinstance(getattr(c, "name", None), str):
                raise InvalidInputError(f"a pre-trade check has a name and a check method, got {type(c).__name__}")
        self._clock = clock or _now
        self._on_step = on_step
        self._bus = OrderBus()
        self._ledgers: dict[str, Ledger] = {}
        self._orders: dict[str, Order] = {}  # by client order id: the orders this manager touched
        self._symbols: frozenset[str] = frozenset()
        self._closes: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # symbol: (ts ns, close)
        self._ingests: str | None = None
        self._accounts: set[str] = set()
        self._unresolved: str | None = None  # the last reconcile's problems, while unresolved
        # a manager is a restart: it reconciles before it first sends anything (a process killed
        # between the intent and the broker's answer left orders only the broker can settle)
        self._reconciled = False

    # -- the bus -------------------------------------------------------------------------------
    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(order, event)`` after every durable event of this manager; return the unsubscribe."""
        return self._bus.subscribe(fn)

    # -- reading -------------------------------------------------------------------------------
    def order(self, id: str) -> Order:
        """Return the stored order with this order id or client order id (`NotFoundError` if none)."""
        return load_order(self.store, id)

    def orders(self, *, portfolio: str | None = None, open_only: bool = False) -> list[Order]:
        """Return the stored orders (of ``portfolio``; only working ones with ``open_only``), oldest first."""
        where, params = ["broker = ?"], [self.broker.name]
        if portfolio is not None:
            where.append("portfolio = ?")
            params.append(check_portfolio_name(portfolio))
        if open_only:
            where.append(f"status IN ({', '.join('?' * len(_OPEN))})")
            params.extend(_OPEN)
        with self.store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
            return _select_orders(db, " AND ".join(where), params)

    # -- submitting ----------------------------------------------------------------------------
    def submit(self, request: OrderRequest | Mapping[str, object]) -> Order:
        """Check ``request``, write it ahead, send it to the broker and return the order once its answer is durable.

        Parameters
        ----------
        request
            An `OrderRequest`, or its fields as loose input (`OrderRequest.create`'s
            parameters: text, floats, ints), parsed here so that a bad one is audited.

        Returns
        -------
        Order
            The order: REJECTED with its reasons when a pre-trade check blocked it (or the
            broker refused it); in doubt (``in_doubt``) when the broker's answer is unknown;
            otherwise as the broker's answer left it. The same ``client_order_id`` again
            returns the stored order.

        Raises
        ------
        InvalidInputError
            If the request is invalid (a field, an unknown symbol, a price off the tick),
            or its ``client_order_id`` is stored with another request; only an
            ``order.refused`` audit record is written.
        NotFoundError
            If the portfolio is not stored (audited as refused too).
        ReconciliationError
            If the last `reconcile` found differences that are not resolved yet.
        """
        return self.submit_many([request])[0]

    def submit_many(self, requests: Sequence[OrderRequest | Mapping[str, object]]) -> list[Order]:
        """Submit several orders with one write ahead and one answer commit: what a rebalance job sends.

        The same checks, idempotency and audit records as `submit`, order by order, in the
        order given (a later order's checks see the earlier ones of the batch as working
        orders of its book), but grouped: every intent (and every pre-trade rejection) is
        committed in one transaction (``intent_durable`` once), then the broker is called
        for each order (``broker_called`` / ``broker_answered`` each; once for the whole
        batch on a broker with a ``submit_many`` of its own, such as `PaperBroker`, which
        places them in one transaction of its own), then all the answers,
        their fills, ledger entries and audit records commit in one transaction
        (``answer_durable`` once). A crash in between leaves orders that `reconcile` asks
        the broker about by ``client_order_id``, as after a crash in `submit`.

        Parameters
        ----------
        requests
            The orders, each as `submit` takes it. A ``client_order_id`` given twice in the
            batch is one order (the second returns the first, or is refused if it differs).

        Returns
        -------
        list of Order
            One order per request, in the requests' order, each as `submit` returns it.

        Raises
        ------
        InvalidInputError
            If any request is invalid (its place in the batch named) or reuses a stored
            ``client_order_id`` with another request: it is audited as refused and nothing
            of the batch is written or sent.
        NotFoundError
            If a request's portfolio is not stored (audited as refused; nothing sent).
        ReconciliationError
            If the last `reconcile` found differences that are not resolved yet.
        """
        now = self._clock()
        checked: list[OrderRequest] = []
        for i, raw in enumerate(requests):
            try:
                checked.append(self._validated(raw))
            except (InvalidInputError, NotFoundError) as exc:
                self._refuse(raw, exc, now)
                if len(requests) > 1:
                    raise type(exc)(f"order {i} of the batch: {exc}") from exc
                raise
        self._reconcile_first()
        if self._unresolved is not None:
            raise ReconciliationError(f"trading is refused until reconciliation succeeds: {self._unresolved}")
        if not checked:
            return []
        for _ in range(3):  # another process storing one of the ids between our read and write: read again
            try:
                return self._submit_batch(checked, now)
            except _Raced:
                continue
        return self._submit_batch(checked, now)

    def precheck(self, request: OrderRequest | Mapping[str, object]) -> list[CheckResult]:
        """Run every pre-trade check on ``request`` as `submit` would now, recording nothing.

        The same validation, book (positions, cash, working orders, trading state) and
        market (the last closes at the manager's clock) as `submit`; a check with a
        ``preview_check`` method (`ComplianceCheck`) is asked through it, so that nothing is
        stored, audited or halted. What an order ticket shows before it sends.

        Raises
        ------
        InvalidInputError
            If the request is invalid (not audited: nothing was asked of the manager).
        NotFoundError
            If the portfolio is not stored.
        """
        checked = self._validated(request)
        book, market = self._view(checked, self._clock())
        results = []
        for c in self.checks:
            preview = getattr(c, "preview_check", None)
            results.append(preview(checked, book, market) if callable(preview) else c.check(checked, book, market))
        return results

    def _view(self, request: OrderRequest, now: pd.Timestamp) -> tuple[BookView, MarketView]:
        # the book and the market the checks of a new order see (read only)
        with self.store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
            require_portfolio(db, request.portfolio)
            book = self._book(db, request.portfolio)
        market, book = self._market(request, book, now)
        return book, market

    def _submit_batch(self, requests: Sequence[OrderRequest], now: pd.Timestamp) -> list[Order]:
        # 1. what is stored already (idempotency) and the books, in one read
        ids = [(r, r.client_order_id or uuid.uuid4().hex) for r in requests]
        wanted = sorted({coid for _, coid in ids})
        with self.store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
            stored = {o.client_order_id: o for o in _select_orders_in(db, wanted)}
            fresh = [coid for coid in wanted if coid not in stored]
            # an order is found by its order id or its client order id: a new client id that is another
            # order's order id would make the new order unreachable by the id its sender chose (found by QA)
            taken = {r[0] for r in db.rows(
                f"SELECT order_id FROM {{t}}orders WHERE order_id IN ({', '.join('?' * len(fresh))})", fresh
            )} if fresh else set()  # fmt: skip
            books = {r.portfolio: self._book(db, r.portfolio) for r, _ in ids if r.portfolio not in stored}
        for request, coid in ids:
            if coid in taken:
                exc = InvalidInputError(
                    f"client_order_id {coid!r} is the order id of another order: choose another client order id"
                )
                self._refuse(request, exc, now)
                raise exc
        # 2. the checks, order by order; the batch's earlier intents count as working orders
        results: dict[str, Order] = {}
        new: list[tuple[Order, Sequence[CheckResult], OrderEvent]] = []
        self._refresh_closes()  # once for the batch
        batched = [c for c in self.checks if callable(getattr(c, "begin_batch", None))] if len(ids) > 1 else []
        for c in batched:  # a check that reads the store once for a batch (ComplianceCheck)
            c.begin_batch()  # type: ignore[attr-defined]
        try:
            for request, coid in ids:
                if coid in stored:
                    results[coid] = self._same_request(stored[coid], request, now)
                    continue
                if coid in results:  # the same id twice in this batch
                    self._same_request(results[coid], request, now)
                    continue
                book = books[request.portfolio]
                market, book = self._market(request, book, now, refresh=False)
                decided = [c.check(request, book, market) for c in self.checks]
                order = Order(order_id=coid if request.client_order_id is None else uuid.uuid4().hex,
                              request=request, ts_created=now)  # fmt: skip
                blocks = [r for r in decided if r.verdict == "block"]
                if blocks:
                    reason = blocks[0].reject_reason or RejectReason.RISK_LIMIT
                    message = "; ".join(f"{r.check}: {r.reason}" for r in blocks)
                    event: OrderEvent = Rejected(client_order_id=coid, ts=now, reason=reason, message=message)
                else:
                    self._ensure_account(request.portfolio)
                    event = Submitted(client_order_id=coid, ts=now)
                    pending = OpenOrder(client_order_id=coid, symbol=request.symbol, side=request.side,
                                        leaves_quantity=request.quantity)  # fmt: skip
                    books[request.portfolio] = dataclasses.replace(
                        books[request.portfolio], open_orders=(*books[request.portfolio].open_orders, pending)
                    )
                new.append((order, decided, event))
                results[coid] = order
        finally:
            for c in batched:
                end = getattr(c, "end_batch", None)
                if callable(end):
                    end()
        # 3. the intents and the rejections, durable in one transaction
        if new:
            portfolios = {order.portfolio for order, _, _ in new}
            lock = f"portfolio:{next(iter(portfolios))}" if len(portfolios) == 1 else "orders"
            written: list[Order] = []
            with self.store.transaction(schema=EXECUTION_SCHEMA, lock=lock) as db:
                if _select_orders_in(db, [order.client_order_id for order, _, _ in new]):
                    raise _Raced  # another process was first
                self._record_checks(db)
                rows = _Rows()  # each table's rows of the batch in one statement, in the order of the orders
                for order, checks, event in new:
                    rows.orders.append(_order_row(
                        db, order, self.broker.name, _request_dict(order.request, order.request.client_order_id)
                    ))  # fmt: skip
                    rows.decisions += _decision_rows(db, order, checks, now)
                    done = copy.copy(order)
                    done.apply(event)
                    _event_rows(db, done, [(done, event)], rows)
                    written.append(done)
                rows.write(db)
            for done in written:
                self._remember(done, [(done, done.events[-1])])
                results[done.client_order_id] = done
            to_send = [done for done in written if done.status is OrderStatus.SUBMITTED]
            if to_send:
                self._step("intent_durable")
                for order in self._send(to_send):
                    results[order.client_order_id] = order
        return [results[coid] for _, coid in ids]

    def _record_checks(self, db: StateDb) -> None:
        # what a check's decisions rely on, in the transaction that stores them (ComplianceCheck: its rules texts)
        for c in self.checks:
            record = getattr(c, "record_in", None)
            if callable(record):
                record(db)

    def _send(self, orders: Sequence[Order]) -> list[Order]:
        # each order to the broker (a batch in one call where the broker has ``submit_many``);
        # all the answers durable in one transaction
        answers: dict[str, list[OrderEvent]] = {}
        many = getattr(self.broker, "submit_many", None)
        if len(orders) > 1 and callable(many):  # a broker that places a batch in one call (the paper broker)
            self._step("broker_called")
            try:
                for order, events in zip(orders, many(orders), strict=True):
                    answers[order.client_order_id] = list(events)
            except BrokerError as exc:
                answers = {order.client_order_id: [self._unknown(order, exc)] for order in orders}
            except BaseException as exc:
                self._record_many({order.client_order_id: [self._unknown(order, exc)] for order in orders})
                raise
            self._step("broker_answered")
            recorded = self._record_many(answers)
            self._step("answer_durable")
            return recorded
        sending: Order | None = None
        try:
            for order in orders:
                self._step("broker_called")
                sending = order
                try:
                    answers[order.client_order_id] = list(self.broker.submit(order))
                except BrokerError as exc:
                    answers[order.client_order_id] = [self._unknown(order, exc)]
                    sending = None
                    continue
                sending = None
                self._step("broker_answered")
        except BaseException as exc:
            # the order being sent is in doubt; those not sent yet stay SUBMITTED (reconcile asks)
            if sending is not None:
                answers[sending.client_order_id] = [self._unknown(sending, exc)]
            self._record_many(answers)
            raise
        recorded = self._record_many(answers)
        self._step("answer_durable")
        return recorded

    def _unknown(self, order: Order, exc: BaseException) -> SubmitUnknown:
        message = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        log.warning("order %s is in doubt: %s", order.client_order_id, message)
        return SubmitUnknown(client_order_id=order.client_order_id, ts=self._clock(), message=message)

    def _same_request(self, stored: Order, request: OrderRequest, now: pd.Timestamp) -> Order:
        asked = _request_dict(request, stored.client_order_id)
        if _request_dict(stored.request, stored.client_order_id) != asked:
            exc = InvalidInputError(
                f"client_order_id {stored.client_order_id!r} is already order {stored.order_id} with another "
                f"request ({stored.side} {stored.quantity} {stored.symbol} {stored.order_type}); use a new id"
            )
            self._refuse(request, exc, now)
            raise exc
        return stored

    def _validated(self, request: OrderRequest | Mapping[str, object]) -> OrderRequest:
        if isinstance(request, Mapping):
            known = set(_REQUEST_FIELDS)
            unknown = sorted(str(k) for k in request if k not in known)
            if unknown:
                raise InvalidInputError(f"unknown order field(s) {unknown}; known: {sorted(known)}")
            request = OrderRequest.create(**request)  # type: ignore[arg-type]  # create checks each field
        if not isinstance(request, OrderRequest):
            raise InvalidInputError(f"an order is an OrderRequest or a mapping of its fields, got {quote(request)}")
        if request.symbol not in self._symbols:
            self._symbols = frozenset(str(s) for s in self.store.list_symbols()["symbol"])
            if request.symbol not in self._symbols:
                raise InvalidInputError(
                    f"unknown symbol {request.symbol!r}: the store has no bars for it (ingest it first)"
                )
        for name in ("limit_price", "stop_price"):
            price = getattr(request, name)
            if price is not None:
                check_tick(price, name)
        if request.portfolio not in self._ledgers:
            with self.store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
                require_portfolio(db, request.portfolio)
        return request

    def _refuse(self, request: object, exc: Exception, now: pd.Timestamp) -> None:
        if isinstance(request, OrderRequest):
            fields: dict[str, object] = dict(_request_dict(request, request.client_order_id))
        elif isinstance(request, Mapping):
            fields = {str(k)[:100]: _shown(v) for k, v in request.items()}
        else:
            fields = {"request": quote(request)}
        subject = str(fields.get("client_order_id") or fields.get("symbol") or "order")[:100]
        with self.store.transaction(schema=EXECUTION_SCHEMA, lock="order.refused") as db:
            audit(db, "order.refused", subject, {"request": fields, "error": str(exc)})

    # -- cancel and replace --------------------------------------------------------------------
    def cancel(self, order_id_or_client_id: str) -> Order:
        """Ask the broker to cancel an order; return it once the broker's answer is durable.

        Cancels pass whatever the book's trading state. An order already final is
        returned as it is.

        Raises
        ------
        NotFoundError
            If there is no such order.
        BrokerUnavailableError
            If the broker's answer is unknown (the order is left as it was; `reconcile`
            learns what happened; a cancel may be sent again).
        """
        self._reconcile_first()
        order = self._fresh(load_order(self.store, order_id_or_client_id))
        if order.is_terminal:
            return order
        self._step("broker_called")
        answer = self.broker.cancel(order)
        self._step("broker_answered")
        order = self._record(order.client_order_id, answer)
        self._step("answer_durable")
        return order

    def replace(
        self,
        order_id: str,
        *,
        quantity: object = None,
        limit_price: object = None,
        stop_price: object = None,
    ) -> Order:
        """Ask the broker to change a working order's quantity or prices (None: unchanged).

        The changed order passes the pre-trade checks first (as a new order of the
        quantity still to fill); a block refuses the replace (decisions recorded).

        Raises
        ------
        InvalidInputError
            If nothing is changed, a value is invalid or off the tick, the order is not
            working, or a check blocks the change.
        NotFoundError
            If there is no such order.
        """
        self._reconcile_first()
        order = self._fresh(load_order(self.store, order_id))
        if not order.is_working:
            raise InvalidInputError(f"order {order.order_id} is {order.status}: only a working order can be replaced")
        if quantity is None and limit_price is None and stop_price is None:
            raise InvalidInputError("replace needs a new quantity, limit_price or stop_price")
        changed = OrderRequest.create(
            portfolio=order.portfolio,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity if quantity is None else quantity,  # type: ignore[arg-type]
            order_type=order.order_type,
            limit_price=order.limit_price if limit_price is None else limit_price,  # type: ignore[arg-type]
            stop_price=order.stop_price if stop_price is None else stop_price,  # type: ignore[arg-type]
            time_in_force=order.time_in_force,
            client_order_id=order.client_order_id,
        )
        for name in ("limit_price", "stop_price"):
            price = getattr(changed, name)
            if price is not None:
                check_tick(price, name)
        now = self._clock()
        with self.store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
            book = self._book(db, order.portfolio, excluding=order.client_order_id)
        market, book = self._market(changed, book, now)
        results = [c.check(changed, book, market) for c in self.checks]
        with self.store.transaction(schema=EXECUTION_SCHEMA, lock=f"portfolio:{order.portfolio}") as db:
            self._record_checks(db)
            _decisions(db, order, results, now)
        blocks = [r for r in results if r.verdict == "block"]
        if blocks:
            raise InvalidInputError(
                f"replace of order {order.order_id} refused: " + "; ".join(f"{r.check}: {r.reason}" for r in blocks)
            )
        pending = PendingReplace(
            client_order_id=order.client_order_id,
            ts=now,
            quantity=None if quantity is None else changed.quantity,
            limit_price=None if limit_price is None else changed.limit_price,
            stop_price=None if stop_price is None else changed.stop_price,
        )
        order = self._record(order.client_order_id, [pending])  # written ahead: the replace asked
        if order.status is not OrderStatus.PENDING_REPLACE:
            raise InvalidInputError(f"order {order.order_id} cannot be replaced now: it is {order.status}")
        answer = self.broker.replace(
            order,
            quantity=None if quantity is None else changed.quantity,
            limit_price=None if limit_price is None else changed.limit_price,
            stop_price=None if stop_price is None else changed.stop_price,
        )
        return self._record(order.client_order_id, answer)

    # -- events from the broker -------------------------------------------------------------------
    def process_events(self) -> list[Order]:
        """Poll the broker, apply and store what it reports (fills → ledger → audit), resolve orders in doubt.

        Returns
        -------
        list of Order
            The orders that changed, in the order first changed.
        """
        events = self.broker.poll_events()
        self._step("events_polled")
        by_order: dict[str, list[OrderEvent]] = {}
        for event in events:
            by_order.setdefault(event.client_order_id, []).append(event)
        changed: dict[str, Order] = {}
        with self.store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
            known = {
                o.client_order_id: o
                for o in _select_orders(
                    db,
                    f"client_order_id IN ({', '.join('?' * len(by_order))})" if by_order else "1 = 0",
                    list(by_order),
                )
            }
            doubtful = _select_orders(db, "in_doubt = ? AND broker = ?", [True, self.broker.name])
        for coid in by_order:
            if coid not in known:
                log.info("broker %s reported events of order %s, which this book does not know", self.broker.name, coid)
        batch = {coid: evs for coid, evs in by_order.items() if coid in known}
        if batch:
            for order in self._record_many(batch):
                changed[order.client_order_id] = order
            self._step("fill_durable")
        for order in doubtful:
            if order.client_order_id in changed and not changed[order.client_order_id].in_doubt:
                continue
            resolved = self._resolve(order, self._broker_fills(order.portfolio, order.client_order_id))
            if resolved is not None:
                changed[resolved.client_order_id] = resolved
        return list(changed.values())

    def _broker_fills(self, account: str, client_order_id: str | None = None) -> list[BrokerFill]:
        fills = self.broker.fills(account)
        return [f for f in fills if client_order_id is None or f.client_order_id == client_order_id]

    def _resolve(self, order: Order, fills: Sequence[BrokerFill]) -> Order | None:
        # bring ``order`` up to the broker's view of it (asked by client order id); None if unchanged
        order = self._fresh(order)
        seen = self.broker.get_order(order.client_order_id)
        events = _catch_up(order, seen, fills, self._clock())
        if not events:
            return None
        return self._record(order.client_order_id, events)

    # -- reconciliation ----------------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        """Bring the book up to the broker's view, in a fixed order: orders, then fills, then positions.

        Returns
        -------
        ReconcileReport
            What was checked and what changed; audited (``reconcile``).

        Raises
        ------
        ReconciliationError
            If a difference remains that no event explains (a broker working order or fill
            the book does not know, a position that differs from the broker's); the
            message lists them, the report is audited, and `submit` is refused until a
            later reconcile finds none.
        """
        try:
            report = self._reconcile()
            self._reconciled = True
            return report
        except ReconciliationError:
            self._reconciled = True  # it ran to the end: its differences are `_unresolved` until a later one
            raise
        except BaseException as exc:  # an unfinished reconcile proves nothing: trading stays refused
            self._unresolved = f"the last reconcile did not finish ({type(exc).__name__}: {exc})"
            raise

    def _reconcile_first(self) -> None:
        # before this manager first sends anything (see __init__): a difference raises ReconciliationError
        if not self._reconciled:
            self.reconcile()

    def _reconcile(self) -> ReconcileReport:
        now = self._clock()
        with self.store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
            # the portfolios that sent this broker an order (one rejected before it left has no account there)
            portfolios = [r[0] for r in db.rows(
                "SELECT DISTINCT o.portfolio FROM {t}orders o JOIN {t}order_events e ON e.order_id = o.order_id "
                "WHERE o.broker = ? AND e.type = 'submitted' ORDER BY o.portfolio",
                (self.broker.name,),
            )]  # fmt: skip
            pending = _select_orders(
                db, f"broker = ? AND status IN ({', '.join('?' * len(_OPEN))})", [self.broker.name, *_OPEN]
            )
        fills = {p: self.broker.fills(p) for p in portfolios}
        by_order: dict[str, list[BrokerFill]] = {}
        for account_fills in fills.values():
            for f in account_fills:
                by_order.setdefault(f.client_order_id, []).append(f)
        updated: list[str] = []
        # 1. orders: every order not final, asked by its client order id
        for order in pending:
            if self._resolve(order, by_order.get(order.client_order_id, [])) is not None:
                updated.append(order.client_order_id)
        self._step("reconcile_orders")
        # 2. fills: the broker's fills not yet applied, by trade id; working orders we do not know
        problems: list[str] = []
        applied: list[str] = []
        unknown_fills: list[str] = []
        unknown_orders: list[str] = []
        with self.store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
            have = {(r[0], r[1]) for r in db.rows("SELECT client_order_id, trade_id FROM {t}execution_fills")}
            ours = {
                r[0] for r in db.rows("SELECT client_order_id FROM {t}orders WHERE broker = ?", (self.broker.name,))
            }
        missing: dict[str, list[OrderEvent]] = {}
        for portfolio in portfolios:
            for f in fills[portfolio]:
                if (f.client_order_id, f.trade_id) in have:
                    continue
                if f.client_order_id not in ours:
                    unknown_fills.append(f"{f.client_order_id}:{f.trade_id}")
                    continue
                missing.setdefault(f.client_order_id, []).append(_filled(f))
                applied.append(f"{f.client_order_id}:{f.trade_id}")
            for bo in self.broker.open_orders(portfolio):
                if bo.client_order_id not in ours:
                    unknown_orders.append(bo.client_order_id)
        if missing:
            self._record_many(missing)
        for key in unknown_fills:
            problems.append(f"broker fill {key} is of an order this book does not know")
        for coid in unknown_orders:
            problems.append(f"broker working order {coid} is not known to this book")
        self._step("reconcile_fills")
        # 3. positions: the broker's are authoritative
        differences: list[PositionDifference] = []
        with self.store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
            ledgers = {p: _load_ledger(db, p) for p in portfolios}
        for portfolio in portfolios:
            self._ledgers[portfolio] = ledgers[portfolio]
            broker_positions = self.broker.positions(portfolio)
            ledger_positions = {p.symbol: p.quantity for p in ledgers[portfolio].positions() if p.quantity}
            for symbol in sorted(set(broker_positions) | set(ledger_positions)):
                theirs = broker_positions.get(symbol, Decimal(0))
                mine = ledger_positions.get(symbol, Decimal(0))
                if theirs != mine:
                    differences.append(
                        PositionDifference(portfolio=portfolio, symbol=symbol, ledger=mine, broker=theirs)
                    )
                    problems.append(f"{portfolio} {symbol}: the ledger holds {mine}, the broker {theirs}")
        self._step("reconcile_positions")
        report = ReconcileReport(
            ts=now,
            portfolios=tuple(portfolios),
            orders_checked=len(pending),
            orders_updated=tuple(updated),
            fills_applied=tuple(applied),
            unknown_orders=tuple(unknown_orders),
            unknown_fills=tuple(unknown_fills),
            position_differences=tuple(differences),
            problems=tuple(problems),
        )
        if pending or updated or applied or problems:  # a restart with nothing open and nothing to learn is no event
            with self.store.transaction(schema=EXECUTION_SCHEMA, lock="reconcile") as db:
                audit(db, "reconcile", self.broker.name, report.to_dict())
        if problems:
            shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
            self._unresolved = shown
            raise ReconciliationError(
                f"reconciliation with broker {self.broker.name} found {len(problems)} "
                f"unexplained difference(s): {shown}"
            )
        self._unresolved = None
        return report

    # -- storing events ---------------------------------------------------------------------------
    def _record(self, client_order_id: str, events: Sequence[OrderEvent]) -> Order:
        return self._record_many({client_order_id: list(events)})[0]

    def _record_many(self, batch: Mapping[str, Sequence[OrderEvent]]) -> list[Order]:
        # apply each order's events to a copy, store them with their fills, ledger entries and
        # audit records in one transaction; the copies replace the cached orders once committed
        if not batch:
            return []
        portfolios = {self._cached_portfolio(c) for c in batch}
        lock = f"portfolio:{next(iter(portfolios))}" if len(portfolios) == 1 else "orders"
        results: list[tuple[Order, list[tuple[Order, OrderEvent]]]] = []
        ledgers: dict[str, Ledger] = {}
        try:
            with self.store.transaction(schema=EXECUTION_SCHEMA, lock=lock) as db:
                rows = _Rows()  # the events and the orders' rows of the batch in one statement each
                counts = _event_counts(db, list(batch)) if len(batch) > 1 else None
                for coid, events in batch.items():
                    order = copy.copy(self._current(db, coid, counts))
                    applied: list[tuple[Order, OrderEvent]] = []  # each event with the order it made
                    for event in events:
                        try:
                            order.apply(event)
                        except DuplicateFillError:
                            continue  # a fill already applied: the broker told us twice
                        except InvalidTransitionError as exc:
                            log.info("skipped a stale or repeated broker event: %s", exc)
                            continue
                        applied.append((copy.copy(order), event))
                    if applied:
                        _event_rows(db, order, applied, rows)
                        for _, event in applied:
                            if isinstance(event, Filled):
                                self._book_fill(db, order, event, ledgers)
                    results.append((order, applied))
                rows.write(db)
        except BaseException:
            for coid in batch:
                self._orders.pop(coid, None)
            for p in portfolios:
                self._ledgers.pop(p, None)
            raise
        self._ledgers.update(ledgers)
        for order, applied in results:
            self._remember(order, applied)
        return [order for order, _ in results]

    def _book_fill(self, db: StateDb, order: Order, event: Filled, ledgers: dict[str, Ledger]) -> None:
        txn_id = f"{self.broker.name}:{order.client_order_id}:{event.trade_id}"
        fill = Fill(
            txn_id=txn_id,
            ts=event.ts,
            symbol=order.symbol,
            side=order.side,
            quantity=event.quantity,
            price=event.price,
            commission=event.commission,
        )
        portfolio = order.portfolio
        error: str | None = None
        try:
            ledgers[portfolio] = append_in_transaction(
                db, portfolio, [fill], ledger=ledgers.get(portfolio, self._ledgers.get(portfolio))
            )
        except TransactionRejected as exc:
            # the broker made the trade: it is kept; the ledger's refusal is recorded and
            # reconciling the positions reports the difference until a person resolves it
            error = str(exc)
            log.error("fill %s of order %s not booked: %s", event.trade_id, order.client_order_id, exc)
        db.run(
            "INSERT INTO {t}execution_fills (order_id, client_order_id, trade_id, portfolio, ts, symbol, side, "
            "quantity, price, commission, txn_id, ledger_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.order_id, order.client_order_id, event.trade_id, portfolio, event.ts.isoformat(), order.symbol,
                order.side.value, str(event.quantity), str(event.price), str(event.commission),
                None if error else txn_id, error,
            ),
        )  # fmt: skip
        payload: dict[str, object] = {
            "order_id": order.order_id,
            "trade_id": event.trade_id,
            "portfolio": portfolio,
            "symbol": order.symbol,
            "side": order.side.value,
            "quantity": str(event.quantity),
            "price": str(event.price),
            "commission": str(event.commission),
            "txn_id": None if error else txn_id,
            "ledger_error": error,
        }
        audit(db, "fill", order.client_order_id, payload)

    def _current(self, db: StateDb, client_order_id: str, counts: Mapping[str, int] | None = None) -> Order:
        # the cached order when the store holds as many of its events; else the stored one
        # (``counts``: the stored event counts of a batch's orders, read in one statement)
        cached = self._orders.get(client_order_id)
        if counts is None:
            rows = db.rows("SELECT events FROM {t}orders WHERE client_order_id = ?", (client_order_id,))
            stored = int(rows[0][0]) if rows else None
        else:
            stored = counts.get(client_order_id)
        if stored is None:
            raise NotFoundError(f"no order with client_order_id {client_order_id!r}")
        if cached is not None and len(cached.events) == stored:
            return cached
        return _select_orders(db, "client_order_id = ?", [client_order_id])[0]

    def _cached_portfolio(self, client_order_id: str) -> str:
        cached = self._orders.get(client_order_id)
        if cached is not None:
            return cached.portfolio
        return load_order(self.store, client_order_id).portfolio

    def _fresh(self, order: Order) -> Order:
        self._orders.setdefault(order.client_order_id, order)
        return order

    def _remember(self, order: Order, applied: Iterable[tuple[Order, OrderEvent]]) -> None:
        if order.is_terminal:
            self._orders.pop(order.client_order_id, None)  # nothing but a late fill changes it
        else:
            self._orders[order.client_order_id] = order
        for state, event in applied:
            self._bus.publish(state, event)

    def _step(self, name: str) -> None:
        if self._on_step is not None:
            self._on_step(name)

    # -- the book and the market ------------------------------------------------------------------
    def _book(self, db: StateDb, portfolio: str, *, excluding: str | None = None) -> BookView:
        ledger = self._ledger(db, portfolio)
        rows = db.rows("SELECT state FROM {t}book_states WHERE portfolio = ?", (portfolio,))
        state = TradingState(rows[0][0]) if rows else TradingState.ACTIVE
        open_rows = db.rows(
            "SELECT client_order_id, symbol, side, quantity, filled_quantity FROM {t}orders "
            f"WHERE portfolio = ? AND status IN ({', '.join('?' * len(_OPEN))})",
            (portfolio, *_OPEN),
        )
        open_orders = [
            OpenOrder(client_order_id=c, symbol=s, side=Side(side), leaves_quantity=Decimal(q) - Decimal(f))
            for c, s, side, q, f in open_rows
            if c != excluding
        ]
        positions = {p.symbol: p.quantity for p in ledger.positions() if p.quantity}
        return BookView(
            portfolio=portfolio,
            trading_state=state,
            positions=positions,
            cash=ledger.cash,
            equity=None,
            open_orders=tuple(open_orders),
        )

    def _ledger(self, db: StateDb, portfolio: str) -> Ledger:
        cached = self._ledgers.get(portfolio)
        last = db.rows(
            "SELECT seq, txn_id FROM {t}transactions WHERE portfolio = ? ORDER BY seq DESC LIMIT 1", (portfolio,)
        )
        stored = (int(last[0][0]) + 1, str(last[0][1])) if last else (0, None)
        if cached is not None:
            txns = cached.transactions
            if (len(txns), txns[-1].txn_id if txns else None) == stored:
                return cached
        ledger = _load_ledger(db, portfolio)
        self._ledgers[portfolio] = ledger
        return ledger

    def _market(
        self, request: OrderRequest, book: BookView, now: pd.Timestamp, *, refresh: bool = True
    ) -> tuple[MarketView, BookView]:
        # last closes at or before ``now`` of the order's symbol and the book's; the book's equity at them
        # (``refresh``: the cached closes are checked against the ingest marker; a batch checks once)
        if refresh:
            self._refresh_closes()
        prices: dict[str, Decimal] = {}
        stamp = now.value
        for symbol in {request.symbol, *book.positions}:
            if symbol not in self._closes:
                bars = self.store.read_bars([symbol], fields=["close"])
                ts = pd.DatetimeIndex(bars.index.get_level_values("ts")).asi8 if len(bars) else np.empty(0, np.int64)
                self._closes[symbol] = (np.asarray(ts), bars["close"].to_numpy(np.float64))
            ts, close = self._closes[symbol]
            i = int(np.searchsorted(ts, stamp, side="right")) - 1
            if i >= 0:
                prices[symbol] = Decimal(repr(float(close[i])))
        equity: Decimal | None = book.cash
        for symbol, quantity in book.positions.items():
            if equity is None or symbol not in prices:
                equity = None
                break
            equity += quantity * prices[symbol]
        return MarketView(ts=now, prices=prices), dataclasses.replace(book, equity=equity)

    def _refresh_closes(self) -> None:
        # the cached closes hold until the store takes an ingest
        marker = self.store.ingest_marker()
        if marker != self._ingests:
            self._ingests, self._closes = marker, {}

    def _ensure_account(self, portfolio: str) -> None:
        # the first order of a portfolio on a broker that can open accounts (the paper broker)
        # and has none of that name opens it from the recorded ledger: cash and positions
        if portfolio in self._accounts:
            return
        has, opener = getattr(self.broker, "has_account", None), getattr(self.broker, "open_account", None)
        if callable(has) and callable(opener) and not has(portfolio):
            ledger = self._ledgers[portfolio]
            opener(
                portfolio, cash=ledger.cash, positions={p.symbol: p.quantity for p in ledger.positions() if p.quantity}
            )
        self._accounts.add(portfolio)


def book_and_market(
    store: Store, request: OrderRequest, *, now: pd.Timestamp | None = None
) -> tuple[BookView, MarketView]:
    """Return the book and the market an `OrderManager`'s checks would see for ``request`` at ``now``.

    Read only (what `bifrost.execution.dry_run` judges): the portfolio's ledger positions
    and cash, its working orders and trading state; the last closes at or before ``now``
    (default: now, UTC) of the order's symbol and the book's, and the book's equity at them.

    Raises
    ------
    InvalidInputError
        If ``request`` is one `OrderManager.submit` refuses (an unknown symbol, a price off
        the tick).
    NotFoundError
        If the store holds no portfolio ``request.portfolio``.
    """
    # a manager with no broker and no checks: only its book and market reads are used
    manager = OrderManager(store, cast(Broker, _NoBroker()), checks=())
    request = manager._validated(request)  # refused as submit refuses it (symbol, tick, portfolio), not audited
    return manager._view(request, _now() if now is None else as_utc_timestamp(now, "now"))


class _NoBroker:
    name = "none"


class _Raced(Exception):
    """Another process stored the same client order id between our read and our write."""


# -- catching an order up with the broker's view ----------------------------------------------------
def _filled(f: BrokerFill) -> Filled:
    return Filled(
        client_order_id=f.client_order_id,
        ts=f.ts,
        trade_id=f.trade_id,
        quantity=f.quantity,
        price=f.price,
        commission=f.commission,
    )


def _catch_up(
    order: Order, seen: BrokerOrder | None, fills: Sequence[BrokerFill], now: pd.Timestamp
) -> list[OrderEvent]:
    # the events that take ``order`` to the broker's view ``seen`` (None: the broker never got it)
    coid = order.client_order_id
    if seen is None:
        if order.status in (OrderStatus.SUBMITTED,) and not order.filled_quantity:
            return [Rejected(client_order_id=coid, ts=now, reason=RejectReason.NOT_RECEIVED,
                             message="the broker has no such order: it never received it")]  # fmt: skip
        return []
    ts = seen.ts_updated
    events: list[OrderEvent] = []
    status = seen.status
    if order.status is OrderStatus.SUBMITTED and status not in (OrderStatus.SUBMITTED, OrderStatus.REJECTED):
        events.append(Accepted(client_order_id=coid, ts=min(ts, *(f.ts for f in fills)) if fills else ts,
                               broker_order_id=seen.broker_order_id))  # fmt: skip
    for f in fills:
        if f.trade_id not in order.trade_ids:
            events.append(_filled(f))
    if status is OrderStatus.REJECTED and order.status is not OrderStatus.REJECTED:
        events.append(
            Rejected(client_order_id=coid, ts=ts, reason=RejectReason.BROKER, message="rejected by the broker")
        )
    elif status is OrderStatus.CANCELED and order.status is not OrderStatus.CANCELED:
        events.append(Canceled(client_order_id=coid, ts=ts, reason=CancelReason.BROKER,
                               message="canceled at the broker (learnt by reconciliation)"))  # fmt: skip
    elif status is OrderStatus.EXPIRED and order.status is not OrderStatus.EXPIRED:
        events.append(Expired(client_order_id=coid, ts=ts))
    working = status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
    if working and order.status is OrderStatus.PENDING_CANCEL:
        events.append(
            CancelRejected(client_order_id=coid, ts=ts, message="the broker still works it: no cancel arrived")
        )
    elif working and order.status is OrderStatus.PENDING_REPLACE:
        events.append(ReplaceRejected(client_order_id=coid, ts=ts, message="the broker still works it unchanged"))
    if not events and order.in_doubt and status is OrderStatus.SUBMITTED:
        events.append(Accepted(client_order_id=coid, ts=ts, broker_order_id=seen.broker_order_id))
    return events


# -- rows ------------------------------------------------------------------------------------------
def _shown(value: object) -> str | None:
    # a refused request's field as the audit trail keeps it: text as given (capped), None as null
    if value is None:
        return None
    return (value if isinstance(value, str) else str(value))[:200]


_INSERT_ORDER = f"INSERT INTO {{t}}orders ({', '.join(_ORDER_COLUMNS)}) VALUES ({', '.join('?' * len(_ORDER_COLUMNS))})"
_INSERT_EVENTS = "INSERT INTO {t}order_events (order_id, n, client_order_id, type, ts, event) VALUES (?, ?, ?, ?, ?, ?)"
_UPDATE_ORDER = (
    "UPDATE {t}orders SET quantity = ?, limit_price = ?, stop_price = ?, status = ?, filled_quantity = ?, "
    "avg_fill_price = ?, commission = ?, broker_order_id = ?, in_doubt = ?, reasons = ?, events = ?, "
    "ts_updated = ? WHERE order_id = ?"
)
_INSERT_DECISIONS = (
    "INSERT INTO {t}pretrade_decisions (order_id, client_order_id, ts, check_name, verdict, reason, inputs) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@dataclasses.dataclass(slots=True)
class _Rows:
    # a transaction's rows per table, written in one statement each (in this order: a table's rows keep the
    # order they were made in, and every audit record was made in the order of the changes)
    orders: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    decisions: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    events: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    updates: list[tuple[object, ...]] = dataclasses.field(default_factory=list)

    def write(self, db: StateDb) -> None:
        for text, rows in (
            (_INSERT_ORDER, self.orders),
            (_INSERT_DECISIONS, self.decisions),
            (_INSERT_EVENTS, self.events),
            (_UPDATE_ORDER, self.updates),
        ):
            if rows:
                db.many(text, rows)
        self.orders, self.decisions, self.events, self.updates = [], [], [], []


def _insert_order(db: StateDb, order: Order, broker: str, request: Mapping[str, str | None]) -> None:
    db.run(_INSERT_ORDER, _order_row(db, order, broker, request))


def _order_row(db: StateDb, order: Order, broker: str, request: Mapping[str, str | None]) -> tuple[object, ...]:
    # the order as asked for goes into the audit trail with it: an auditor reads what was ordered
    # (symbol, side, type, quantity, prices, time in force) from the chain, not only from this table
    audit(
        db,
        "order.request",
        order.client_order_id,
        {"order_id": order.order_id, "broker": broker, "ts": order.ts_created.isoformat(), "request": dict(request)},
    )
    return (
            order.order_id, order.client_order_id, order.portfolio, broker, order.symbol, order.side.value,
            order.order_type.value, str(order.quantity), _text(order.limit_price), _text(order.stop_price),
            order.time_in_force.value, _dumps(request), order.status.value, str(order.filled_quantity),
            _text(order.avg_fill_price), str(order.commission), order.broker_order_id, order.in_doubt,
            _dumps(list(order.reasons)), 0, order.ts_created.isoformat(), order.ts_updated.isoformat(),
    )  # fmt: skip


def _write_events(db: StateDb, order: Order, applied: Sequence[tuple[Order, OrderEvent]]) -> None:
    # the events (after the stored ones), the order's row, an audit record per event, the notice
    rows = _Rows()
    _event_rows(db, order, applied, rows)
    rows.write(db)


def _event_rows(db: StateDb, order: Order, applied: Sequence[tuple[Order, OrderEvent]], rows: _Rows) -> None:
    # `_write_events`'s rows into ``rows`` (written by the caller, in the same transaction); its audit records
    # and notice now
    first = len(order.events) - len(applied)
    for i, (state, event) in enumerate(applied):
        data = event_to_dict(event)
        rows.events.append(
            (order.order_id, first + i, order.client_order_id, data["type"], event.ts.isoformat(), _dumps(data))
        )
        audit(
            db,
            "order.event",
            order.client_order_id,
            {"order_id": order.order_id, "portfolio": order.portfolio, "status": state.status.value, "event": data},
        )
    rows.updates.append(
        (
            str(order.quantity), _text(order.limit_price), _text(order.stop_price), order.status.value,
            str(order.filled_quantity), _text(order.avg_fill_price), str(order.commission), order.broker_order_id,
            order.in_doubt, _dumps(list(order.reasons)), len(order.events), order.ts_updated.isoformat(),
            order.order_id,
        ),
    )  # fmt: skip
    notify(db, order)


def _decisions(db: StateDb, order: Order, results: Sequence[CheckResult], now: pd.Timestamp) -> None:
    rows = _decision_rows(db, order, results, now)
    if rows:
        db.many(_INSERT_DECISIONS, rows)


def _decision_rows(
    db: StateDb, order: Order, results: Sequence[CheckResult], now: pd.Timestamp
) -> list[tuple[object, ...]]:
    # the decisions' rows (written by the caller, in the same transaction); their audit records now
    stamp = now.isoformat()
    rows: list[tuple[object, ...]] = []
    for r in results:
        inputs = inputs_json(r.inputs)
        rows.append((order.order_id, order.client_order_id, stamp, r.check, r.verdict, r.reason, inputs))
        audit(
            db,
            "pretrade.decision",
            order.client_order_id,
            {"order_id": order.order_id, "check": r.check, "verdict": r.verdict, "reason": r.reason,
             "inputs": json.loads(inputs)},
        )  # fmt: skip
    return rows


def _select_orders(db: StateDb, where: str, params: Sequence[object]) -> list[Order]:
    rows = db.rows(
        f"SELECT order_id, ts_created, request FROM {{t}}orders WHERE {where} ORDER BY ts_created, order_id", params
    )
    if not rows:
        return []
    ids = [r[0] for r in rows]
    events: dict[str, list[OrderEvent]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for order_id, text in db.rows(
            f"SELECT order_id, event FROM {{t}}order_events WHERE order_id IN ({', '.join('?' * len(chunk))}) "
            "ORDER BY order_id, n",
            chunk,
        ):
            events[order_id].append(event_from_dict(json.loads(text)))
    return [
        Order.replay(
            order_id=order_id,
            request=_request_from(json.loads(request)),
            ts_created=as_utc_timestamp(ts_created, "ts_created"),
            events=events[order_id],
        )
        for order_id, ts_created, request in rows
    ]


def _event_counts(db: StateDb, client_order_ids: Sequence[str]) -> dict[str, int]:
    # the stored event count of each of these orders (those stored), in chunks of 500 parameters
    found: dict[str, int] = {}
    for start in range(0, len(client_order_ids), 500):
        chunk = list(client_order_ids[start : start + 500])
        for coid, n in db.rows(
            f"SELECT client_order_id, events FROM {{t}}orders WHERE client_order_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        ):
            found[str(coid)] = int(n)
    return found


def _select_orders_in(db: StateDb, client_order_ids: Sequence[str]) -> list[Order]:
    # the stored orders of these client order ids (any order), in chunks of 500 parameters
    found: list[Order] = []
    for start in range(0, len(client_order_ids), 500):
        chunk = list(client_order_ids[start : start + 500])
        found += _select_orders(db, f"client_order_id IN ({', '.join('?' * len(chunk))})", chunk)
    return found


def load_order(store: Store, id: str) -> Order:
    """Return the stored order whose order id or client order id is ``id``, rebuilt from its events.

    Raises
    ------
    NotFoundError
        If there is none.
    InvalidInputError
        If ``id`` cannot be an order id.
    """
    check_client_order_id(id, "id")
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        found = _select_orders(db, "order_id = ? OR client_order_id = ?", [id, id])
    if not found:
        raise NotFoundError(f"no order with order id or client order id {id!r}")
    return found[0]


DECISION_COLUMNS = ("check", "verdict", "reason", "ts", "inputs")


def load_decisions(store: Store, id: str) -> pd.DataFrame:
    """Return the pre-trade decisions of the order whose order id or client order id is ``id``, in check order.

    Columns: ``check`` (``risk_limits``, ``trading_state``, ``compliance``, ...), ``verdict``
    (pass, warn, block), ``reason``, ``ts`` (UTC), ``inputs`` (the numbers it decided on, as
    recorded; the compliance check's hold each rule's result). A replace's checks follow the
    order's own. An order refused before its checks ran has none.

    Raises
    ------
    NotFoundError
        If there is no such order.
    InvalidInputError
        If ``id`` cannot be an order id.
    """
    check_client_order_id(id, "id")
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        found = db.rows("SELECT order_id FROM {t}orders WHERE order_id = ? OR client_order_id = ?", (id, id))
        if not found:
            raise NotFoundError(f"no order with order id or client order id {id!r}")
        rows = db.rows(
            "SELECT check_name, verdict, reason, ts, inputs FROM {t}pretrade_decisions WHERE order_id = ? ORDER BY id",
            (found[0][0],),
        )
    frame = pd.DataFrame([(c, v, r, t, json.loads(i)) for c, v, r, t, i in rows], columns=list(DECISION_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    return frame


def list_orders(store: Store, *, portfolio: str | None = None, since: object = None) -> pd.DataFrame:
    """Return the stored orders, oldest first, one row each (one small query; no events replayed).

    Columns: ``order_id, client_order_id, portfolio, symbol, side, order_type, quantity,
    filled_quantity, avg_fill_price`` (floats, for display; NaN before a fill), ``status``,
    ``ts_created, ts_updated`` (UTC), ``reasons`` (the Rejected/Canceled messages, ``"; "``
    joined).

    Parameters
    ----------
    portfolio
        Only this portfolio's orders.
    since
        Only orders updated at or after this date/time.

    Raises
    ------
    NotFoundError
        If ``portfolio`` is given and the store holds no such portfolio.
    """
    where, params = [], []
    if portfolio is not None:
        where.append("portfolio = ?")
        params.append(check_portfolio_name(portfolio))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        if portfolio is not None:
            require_portfolio(db, portfolio)  # an unknown portfolio is named, never an empty list
        rows = db.rows(
            "SELECT order_id, client_order_id, portfolio, symbol, side, order_type, quantity, filled_quantity, "
            f"avg_fill_price, status, ts_created, ts_updated, reasons FROM {{t}}orders{clause} "
            "ORDER BY ts_created, order_id",
            params,
        )
    frame = pd.DataFrame(rows, columns=_LIST_COLUMNS)
    for col in ("quantity", "filled_quantity", "avg_fill_price"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    for col in ("ts_created", "ts_updated"):
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
    frame["reasons"] = ["; ".join(json.loads(r)) for r in frame["reasons"]]
    if since is not None:
        frame = frame[frame["ts_updated"] >= as_utc_timestamp(since, "since")].reset_index(drop=True)
    return frame
