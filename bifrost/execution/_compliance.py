"""The compliance rules as a pre-trade check of the order manager: `ComplianceCheck`, and `dry_run`.

`ComplianceCheck` turns what the order manager gives every check (the `OrderRequest`, its
`BookView`, the `MarketView` at the manager's clock) into what the rule engine judges (a
`bifrost.compliance.ProposedOrder` and a `bifrost.compliance.BookState`), asks
`bifrost.compliance.ComplianceEngine.evaluate`, and returns the decision as a `CheckResult`
whose inputs are every rule's result (rule, kind, version, verdict, reason, inputs) and the
rules' hash: the manager stores them in ``pretrade_decisions`` and the audit trail
(``pretrade.decision``), which `bifrost.compliance.replay_decisions` replays.

What the book state holds, and where it comes from (the store is read only for what the
rules of the set read, and what does not change between orders is kept):

- positions, working orders (pending), cash, equity and prices: the manager's book and
  market, as floats;
- ``ts``: the market's time; its UTC date is the session date (the rules in force, the
  start of the day);
- ``start_of_day_equity``: the book's NAV at the previous session's close: the ledger's
  transactions dated before the session date (00:00 UTC), marked at the last closes before
  it; kept per (portfolio, session date); None when the book had nothing before; with a
  ``daily_loss_limit`` rule in force, plus the day's deposits less its withdrawals up to ``ts``
  (a cash flow is no profit or loss);
- ``sectors``: `bifrost.risk.store_sectors`, kept until the store's ingest marker changes
  (read only when a ``sector_concentration`` rule is in the set); ``issuers``: none known
  yet (each symbol is its own issuer);
- ``recent_orders``: the portfolio's stored orders of the last ``recent_window_s`` seconds
  (the longest window of the set's duplicate and rate rules; no query when there is none),
  with the orders this check passed earlier in the same batch (not stored yet), but never
  the order itself (a replace is no duplicate of itself);
- ``day_trades`` and ``opened_today``: from the portfolio's booked execution fills of the
  last 10 sessions (only for a set with a day-trading rule; fetched incrementally by fill
  id): a closing order that reduces shares opened the same session is one day trade;
- ``long_only``: the portfolio's own setting (``create_portfolio(..., long_only=)``; False
  by default, so the short-sale rule applies to the portfolios created long-only).

A rules file given by path (or found by `bifrost.compliance.load_rules`; with the default
rules, ``<BIFROST_HOME>/compliance.toml`` as soon as it is written) is watched: each check
compares its modification time, size, change time and inode, and re-reads it when they
changed; a file the loader refuses (or too long for the audit trail to keep) keeps the rules
in force and logs an error (logger ``bifrost``). Each rules text first applied is stored
(``compliance_rulesets``) and audited (``compliance.rules``: hash, source, previous_hash,
text) in the order manager's transaction that stores the first decision under it
(`ComplianceCheck.record_in`), ahead of that decision; rules applied again after others
(A, B, then A) are audited again. A change is recorded with the first decision under it: a
rules file edited with no order after it leaves no record.

When a ``daily_loss_limit`` rule blocks, the book is set HALTED (`set_trading_state`,
once: a book already halted or set REDUCING by hand is left alone); a person brings it back
(REDUCING, then ACTIVE).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from bifrost.compliance._engine import ComplianceEngine
from bifrost.compliance._model import BookState, Decision, OrderTypeName, ProposedOrder, RecentOrder
from bifrost.compliance._rules import RULES_FILE_NAME, RuleSet, load_rules
from bifrost.compliance._schema import COMPLIANCE_SCHEMA, RULES_AUDIT_KIND
from bifrost.data import StateDb, Store
from bifrost.data._audit import MAX_PAYLOAD_CHARS, canonical_json
from bifrost.errors import InvalidInputError, NotFoundError, RulesFileError
from bifrost.execution._checks import BookView, CheckResult, MarketView, TradingState, set_trading_state, trading_state
from bifrost.execution._order import OrderRequest, OrderType, RejectReason, Side
from bifrost.execution._schema import EXECUTION_SCHEMA, audit
from bifrost.portfolio import Ledger, load_portfolio
from bifrost.portfolio._schema import PORTFOLIO_SCHEMA
from bifrost.risk import store_sectors

__all__ = ["ComplianceCheck", "dry_run"]

log = logging.getLogger("bifrost")

DAY_TRADE_SESSIONS = 10  # the sessions of fills kept for the day-trading rules (FINRA counts 5)
_ORDER_TYPES: Mapping[OrderType, OrderTypeName] = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP: "stop",
    OrderType.STOP_LIMIT: "stop_limit",
}
_SECTOR_KINDS = frozenset({"sector_concentration"})
_DAILY_LOSS_KIND = "daily_loss_limit"


@dataclass(slots=True)
class _Watched:
    # the rules in force and their engine (made once per rule set)
    rules: RuleSet
    engine: ComplianceEngine

    @classmethod
    def of(cls, rules: RuleSet) -> _Watched:
        return cls(rules=rules, engine=ComplianceEngine(rules))


@dataclass(slots=True)
class _Recent:
    # one portfolio's orders since ``floor``, by client order id (oldest first), fetched from ``newest`` on
    floor: pd.Timestamp | None = None
    newest: pd.Timestamp | None = None
    orders: dict[str, RecentOrder] = field(default_factory=dict)
    # the orders' times never decrease in ``orders``' order (so sorting them by time keeps that order), and the
    # latest of them: kept as they are put in, so that the usual case (every order at or before the decision's
    # time, in time order) is a copy, not a filter and a sort
    in_order: bool = True
    latest: pd.Timestamp | None = None

    def put(self, order: RecentOrder) -> None:
        orders = self.orders
        old = orders.get(order.client_order_id)
        if old is not None:
            if old.ts != order.ts:  # it keeps its place with another time
                self.in_order = False
        elif self.latest is not None and order.ts < self.latest:
            self.in_order = False
        if self.latest is None or order.ts > self.latest:
            self.latest = order.ts
        orders[order.client_order_id] = order


_Fill = tuple[pd.Timestamp, dt.date, str, str, float]  # ts, its session, client order id, symbol, signed shares


@dataclass(slots=True)
class _DayTrades:
    # a walk over fills in time order from the positions before the first: a closing order that reduces
    # shares opened the same session is one day trade (FINRA 4210(f)(8)(B)(i): buy then sell, or sell short
    # then buy back); each fill is walked once
    position: dict[str, float]
    session: dt.date | None = None
    opened: dict[str, float] = field(default_factory=dict)
    trades: list[dt.date] = field(default_factory=list)
    counted: set[tuple[dt.date, str]] = field(default_factory=set)
    last_ts: pd.Timestamp | None = None

    @classmethod
    def before(cls, fills: Sequence[_Fill], positions: Mapping[str, float]) -> _DayTrades:
        position = dict(positions)
        for _, _, _, symbol, q in fills:
            position[symbol] = position.get(symbol, 0.0) - q
        walk = cls(position=position)
        for fill in fills:
            walk.step(fill)
        return walk

    def step(self, fill: _Fill) -> None:
        ts, day, coid, symbol, q = fill
        if day != self.session:
            self.session, self.opened = day, {}
        held = self.position.get(symbol, 0.0)
        fresh = self.opened.get(symbol, 0.0)
        if held == 0 or (held > 0) == (q > 0):  # opens or adds
            self.opened[symbol] = fresh + q
        else:
            closing = min(abs(q), abs(held))
            if fresh and (fresh > 0) == (held > 0):
                closed = min(closing, abs(fresh))
                if closed > 0 and (day, coid) not in self.counted:
                    self.counted.add((day, coid))
                    self.trades.append(day)
                fresh -= closed if fresh > 0 else -closed
            self.opened[symbol] = fresh
            if abs(q) > abs(held):  # crosses zero: the rest opens the other side today
                self.opened[symbol] = q + held
        self.position[symbol] = held + q
        self.last_ts = ts

    def agrees(self, positions: Mapping[str, float]) -> bool:
        # the walk ends where the book is (a ledger entry that is no execution fill would make them differ)
        return all(abs(v - positions.get(s, 0.0)) <= 1e-9 * max(1.0, abs(v)) for s, v in self.position.items())

    def result(self, today: dt.date) -> tuple[list[dt.date], dict[str, float]]:
        opened = {s: v for s, v in self.opened.items() if v} if self.session == today else {}
        return list(self.trades), opened


@dataclass(slots=True)
class _Fills:
    # one portfolio's booked execution fills of the last sessions (fetched by id after ``last_id``) and their walk
    last_id: int = 0
    first: dt.date | None = None  # the window's first session date
    rows: list[_Fill] = field(default_factory=list)
    walk: _DayTrades | None = None
    walked: int = 0  # rows walked


class ComplianceCheck:
    """The compliance rule engine as a `PreTradeCheck` of the order manager (name ``compliance``).

    See the module's docstring for the book state it builds, the rules file it watches and
    what it records.

    Parameters
    ----------
    store
        The store the orders go through: the book's ledger, orders, fills and closes are
        read from it; the rules applied and the halts are written to it.
    rules
        A `bifrost.compliance.RuleSet` (fixed), a rules file's path (read now, then re-read
        when it changes), or None: `bifrost.compliance.load_rules` (the ``compliance_rules``
        setting, else ``<BIFROST_HOME>/compliance.toml``, else the documented default rules).
    halt_on_daily_loss
        Set the book HALTED when a ``daily_loss_limit`` rule blocks one of its orders.

    Raises
    ------
    RulesFileError
        If the rules file is malformed (its line and key named), or longer than the audit
        trail keeps with its record (1,000,000 characters as JSON).
    NotFoundError
        If a rules file given by path does not exist.
    InvalidInputError
        If ``rules`` or ``halt_on_daily_loss`` is of another type.

    Notes
    -----
    `OrderManager`'s default checks end with ``ComplianceCheck(store)``; to run the order
    manager under a rules file of your own::

        checks = [RiskLimitCheck(store), TradingStateCheck(), ComplianceCheck(store, "compliance.toml")]
        manager = OrderManager(store, PaperBroker(store), checks=checks)

    The manager calls `record_in` in the transaction that stores the decisions; a check
    used outside a manager records no rules text (call it yourself in your transaction).
    """

    name = "compliance"

    def __init__(
        self, store: Store, rules: RuleSet | str | os.PathLike[str] | None = None, *, halt_on_daily_loss: bool = True
    ) -> None:
        if not isinstance(halt_on_daily_loss, bool):
            raise InvalidInputError(f"halt_on_daily_loss is True or False, got {halt_on_daily_loss!r}")
        self._store = store
        self._halt = halt_on_daily_loss
        self._path: Path | None = None
        if isinstance(rules, RuleSet):
            loaded = rules
        elif rules is None:
            loaded = load_rules()
            # the default rules apply until <BIFROST_HOME>/compliance.toml exists: watched from the start, so a
            # file written while the manager runs applies (found by QA: it was never seen)
            self._path = Path(loaded.source) if loaded.source != "default" else _home_rules_path()
        elif isinstance(rules, str | os.PathLike):
            self._path = Path(rules)
            loaded = load_rules(self._path)
        else:
            raise InvalidInputError(
                f"rules is a RuleSet, a rules file's path or None (the configured rules), got {type(rules).__name__}"
            )
        self._stat = _stat(self._path) if self._path is not None else None
        self._watched = _Watched.of(_auditable(loaded))
        self._schema_ready = False
        self._pending: dict[str, RuleSet] = {}  # the rules of the decisions not yet recorded (`record_in`)
        self._confirmed: set[str] = set()  # rules hashes seen stored by an earlier transaction
        self._applied: str | None = None  # the hash of the rules last recorded
        self._start: dict[tuple[str, dt.date], float | None] = {}
        self._long_only: dict[str, bool] = {}
        self._memo: dict[Decimal, float] = {}
        self._sectors_marker: str | None = None
        self._sectors: dict[str, str] = {}
        self._fills: dict[str, _Fills] = {}
        self._recent_orders: dict[str, _Recent] = {}
        self._stamps: dict[object, pd.Timestamp] = {}  # stored times as read, parsed (`_utc` is slow)
        # within a batch (`begin_batch` .. `end_batch`): what was read from the store for it, per portfolio
        # (nothing this process stores changes between the checks of one batch: its intents are stored
        # after all are checked, its fills after the broker answered)
        self._batch: dict[tuple[str, object], object] | None = None

    # -- a batch -------------------------------------------------------------------------------
    def begin_batch(self) -> None:
        """Start a batch of checks (the order manager's `submit_many`): the store is read once for all of them.

        Until `end_batch`, the recent orders, the booked fills and the ingest marker are read
        from the store once per portfolio for the batch; the orders checked earlier in the
        batch are among the recent orders of the later ones as without a batch.
        """
        self._batch = {}

    def end_batch(self) -> None:
        """End the batch `begin_batch` started: each check reads the store again."""
        self._batch = None

    # -- the rules -------------------------------------------------------------------------------
    @property
    def rules(self) -> RuleSet:
        """The rules in force now (the watched file's, as last read successfully)."""
        return self._watched.rules

    def _refresh_rules(self) -> None:
        # a watched file that changed (mtime, size) is read again; a refused one keeps the rules in force
        if self._path is None:
            return
        stat = _stat(self._path)
        if stat == self._stat:
            return
        self._stat = stat
        current = self._watched.rules
        try:
            raw = self._path.read_bytes()
        except OSError as exc:
            log.error(
                "compliance rules file %s cannot be read (%s): the rules in force (hash %s) stay in force",
                self._path, exc, current.hash,
            )  # fmt: skip
            return
        if hashlib.sha256(raw).hexdigest() == current.hash:
            return  # touched, not changed (the hash of a UTF-8 text is that of its bytes)
        try:
            loaded = _auditable(load_rules(self._path))
        except (RulesFileError, NotFoundError) as exc:
            log.error(
                "compliance rules file %s refused: %s; the rules in force (hash %s) stay in force",
                self._path, exc, current.hash,
            )  # fmt: skip
            return
        if loaded.hash != current.hash:
            self._watched = _Watched.of(loaded)

    def record_in(self, db: StateDb) -> None:
        """Store and audit, in the caller's transaction, the rules texts of this check's decisions since the last call.

        The order manager calls it in the transaction that stores the decisions (the
        intents of a batch, a replace's decisions): a rules text first applied gets its
        ``compliance_rulesets`` row and its ``compliance.rules`` audit record (hash, source,
        previous_hash, text) in the same transaction, ahead of the first decision under it,
        or neither when that transaction rolls back. A text already stored is not stored again;
        a text this check applied before another, applied again, is audited again (the change
        back, with its ``previous_hash``).
        """
        pending, self._pending = self._pending, {}
        for digest, rules in pending.items():
            # rules this process applied before coming back (A, B, then A again): audited as the change it is
            back = self._applied is not None and self._applied != digest
            if digest in self._confirmed:
                if back:
                    self._audit_rules(db, rules, previous=self._applied)
                self._applied = digest
                continue
            inserted = db.rows(
                "INSERT INTO {t}compliance_rulesets (hash, source, text, ts_first_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (hash) DO NOTHING RETURNING hash",
                (digest, rules.source, rules.text, _wall_clock().isoformat()),
            )
            if inserted:  # first seen: audited with the rules it replaces (this check's, else its source's last)
                previous = self._applied if self._applied != digest else None
                if previous is None:
                    rows = db.rows(
                        "SELECT hash FROM {t}compliance_rulesets WHERE source = ? AND hash <> ? "
                        "ORDER BY ts_first_seen DESC LIMIT 1",
                        (rules.source, digest),
                    )
                    previous = str(rows[0][0]) if rows else None
                self._audit_rules(db, rules, previous=previous)
            else:  # stored and committed before this transaction: no statement for it again
                self._confirmed.add(digest)
                if back:
                    self._audit_rules(db, rules, previous=self._applied)
            self._applied = digest

    @staticmethod
    def _audit_rules(db: StateDb, rules: RuleSet, *, previous: str | None) -> None:
        payload = {"hash": rules.hash, "source": rules.source, "previous_hash": previous, "text": rules.text}
        audit(db, RULES_AUDIT_KIND, rules.hash, payload)

    # -- the check -------------------------------------------------------------------------------
    def check(self, request: OrderRequest, book: BookView, market: MarketView) -> CheckResult:
        """Judge ``request`` by the rules in force on the market's session date (see the module).

        Returns
        -------
        CheckResult
            ``check="compliance"``, the decision's verdict and reason (the blocking, else
            warning, rules: ``"price_collar: ..."``), `RejectReason.COMPLIANCE` when it
            blocks, and inputs ``{"rules_hash", "ts", "portfolio", "rules"}``: the rules'
            hash, the decision's time (UTC, ISO 8601) and portfolio, and each rule's result
            (`bifrost.compliance.RuleResult.to_dict`), which `bifrost.compliance.replay_decisions`
            replays.
        """
        self._refresh_rules()
        watched = self._watched
        if not self._schema_ready:  # the manager records the rules in its own transaction: the tables first
            with self._store.transaction(schema=COMPLIANCE_SCHEMA, read_only=True):
                self._schema_ready = True
        self._pending[watched.rules.hash] = watched.rules
        order, state = self._state(request, book, market, watched)
        decision = watched.engine.evaluate(order, state)
        self._remember(order, state, decision)
        if self._halt and book.trading_state is TradingState.ACTIVE:
            losses = [r for r in decision.blocks if r.kind == _DAILY_LOSS_KIND]
            if losses:
                self._halt_book(book.portfolio, losses[0].rule, losses[0].reason, state, market.ts)
        return _result(decision, book.portfolio)

    def preview(self, request: OrderRequest, book: BookView, market: MarketView) -> Decision:
        """Return the rules' decision on ``request`` without recording or changing anything.

        The same decision `check` makes (the rules file is re-read when it changed), but no
        rules text is stored or audited, no book is halted and the order is not kept among
        the recent ones.
        """
        self._refresh_rules()
        watched = self._watched
        order, state = self._state(request, book, market, watched)
        return watched.engine.evaluate(order, state)

    def preview_check(self, request: OrderRequest, book: BookView, market: MarketView) -> CheckResult:
        """Return the `CheckResult` `check` would return, without its side effects (see `preview`)."""
        return _result(self.preview(request, book, market), book.portfolio)

    # -- the book state ------------------------------------------------------------------------
    def _state(
        self, request: OrderRequest, book: BookView, market: MarketView, watched: _Watched
    ) -> tuple[ProposedOrder, BookState]:
        portfolio = book.portfolio
        ts = market.ts
        day = _session(ts)
        order = ProposedOrder(
            portfolio=portfolio,
            symbol=request.symbol,
            side=request.side,
            quantity=request.quantity,
            order_type=_ORDER_TYPES[request.order_type],
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            client_order_id=request.client_order_id,
        )
        pending: dict[str, float] = {}
        memo = self._memo
        for o in book.open_orders:
            leaves = memo.get(o.leaves_quantity)
            if leaves is None:
                leaves = memo[o.leaves_quantity] = float(o.leaves_quantity)
            pending[o.symbol] = pending.get(o.symbol, 0.0) + (leaves if o.side is Side.BUY else -leaves)
        positions = self._floats(book.positions, nonzero=True)
        rules = watched.rules
        recent: Sequence[RecentOrder] = ()
        window_s = rules.recent_window_s(portfolio, day)
        if window_s > 0:
            recent = self._recent(portfolio, ts, window_s, request.client_order_id)
        day_trades: Sequence[dt.date] = ()
        opened: Mapping[str, float] = {}
        if rules.needs_day_trades(portfolio, day):
            day_trades, opened = self._day_trades(portfolio, day, positions)
        if any(r.kind in _SECTOR_KINDS for r in rules.effective(portfolio, day)):
            marker = self._ingest_marker()
            if marker != self._sectors_marker:
                self._sectors_marker, self._sectors = marker, store_sectors(self._store)
        state = BookState(
            portfolio=portfolio,
            ts=ts,
            positions=positions,
            cash=float(book.cash),
            equity=None if book.equity is None else float(book.equity),
            pending=pending,
            prices=self._floats(market.prices),
            start_of_day_equity=self._start_with_flows(portfolio, day, ts, rules),
            sectors=self._sectors,
            issuers={},
            recent_orders=recent,
            day_trades=day_trades,
            opened_today=opened,
            long_only=self._portfolio_long_only(portfolio),
        )
        return order, state

    def _floats(self, values: Mapping[str, Decimal], *, nonzero: bool = False) -> dict[str, float]:
        # Decimal -> float is slow (through text): the book's quantities and prices repeat from order to order
        memo = self._memo
        if len(memo) > 200_000:
            memo.clear()
        out: dict[str, float] = {}
        for symbol, value in values.items():
            found = memo.get(value)
            if found is None:
                found = memo[value] = float(value)
            if found or not nonzero:
                out[symbol] = found
        return out

    def _ingest_marker(self) -> str:
        batch = self._batch
        if batch is None:
            return self._store.ingest_marker()
        found = batch.get(("", "ingests"))
        if not isinstance(found, str):
            found = batch[("", "ingests")] = self._store.ingest_marker()
        return found

    def _stamp(self, value: object) -> pd.Timestamp:
        stamps = self._stamps
        found = stamps.get(value)
        if found is None:
            if len(stamps) > 100_000:
                stamps.clear()
            found = stamps[value] = _utc(value)
        return found

    def _portfolio_long_only(self, portfolio: str) -> bool:
        found = self._long_only.get(portfolio)
        if found is None:
            with self._store.transaction(schema=PORTFOLIO_SCHEMA, read_only=True) as db:
                rows = db.rows("SELECT long_only FROM {t}portfolios WHERE name = ?", (portfolio,))
            found = self._long_only[portfolio] = bool(rows[0][0]) if rows else False
        return found

    def _start_with_flows(self, portfolio: str, day: dt.date, ts: pd.Timestamp, rules: RuleSet) -> float | None:
        # the start of the day plus today's deposits less withdrawals, so that a cash flow is no profit or loss
        # (a withdrawal of 10% read as "down 10% today" and halted the book: found by QA); read only for a set
        # with a daily loss limit in force
        start = self._start_of_day(portfolio, day)
        if start is None or not any(r.kind == "daily_loss_limit" for r in rules.effective(portfolio, day)):
            return start
        cutoff = pd.Timestamp(day, tz="UTC").isoformat()
        with self._store.transaction(schema=PORTFOLIO_SCHEMA, read_only=True) as db:
            rows = db.rows(
                "SELECT kind, amount FROM {t}transactions WHERE portfolio = ? AND kind IN ('deposit', 'withdrawal') "
                "AND ts >= ? AND ts <= ?",
                (portfolio, cutoff, ts.isoformat()),
            )
        flows = sum((Decimal(a) if k == "deposit" else -Decimal(a) for k, a in rows), Decimal(0))
        return start + float(flows)

    def _start_of_day(self, portfolio: str, day: dt.date) -> float | None:
        key = (portfolio, day)
        if key in self._start:
            return self._start[key]
        if len(self._start) > 10_000:  # one per portfolio and session: a long-running process forgets old days
            self._start.clear()
        value = _start_of_day_equity(self._store, portfolio, day)
        self._start[key] = value
        return value

    def _recent(
        self, portfolio: str, ts: pd.Timestamp, window_s: float, client_order_id: str | None
    ) -> list[RecentOrder]:
        # the stored orders are fetched once each: from the newest already fetched on (its time again, for the
        # orders stored at the same time since); an order's status is as it was when fetched
        since = ts - pd.Timedelta(seconds=window_s)
        cache = self._recent_orders.setdefault(portfolio, _Recent())
        if cache.floor is None or since < cache.floor:
            cache.floor, cache.newest = since, None
        start = since if cache.newest is None else max(since, cache.newest)
        batch = self._batch
        rows: list[tuple[Any, ...]] = []
        if batch is None or batch.get((portfolio, "recent")) != start:  # once a batch (from the same start)
            with self._store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
                rows = db.rows(
                    "SELECT ts_created, client_order_id, symbol, side, quantity, order_type, limit_price, status "
                    "FROM {t}orders WHERE portfolio = ? AND ts_created >= ? ORDER BY ts_created, order_id",
                    (portfolio, start.isoformat()),
                )
            if batch is not None:
                batch[(portfolio, "recent")] = start
        orders = cache.orders
        for created, coid, symbol, side, quantity, order_type, limit_price, status in rows:
            stamp = self._stamp(created)
            cache.put(RecentOrder(
                ts=stamp,
                client_order_id=str(coid),
                symbol=str(symbol),
                side=Side(side),
                quantity=Decimal(quantity),
                order_type=order_type,
                limit_price=None if limit_price is None else Decimal(limit_price),
                status=str(status),
            ))  # fmt: skip
            if cache.newest is None or stamp > cache.newest:
                cache.newest = stamp
        while orders:
            oldest = next(iter(orders))
            if orders[oldest].ts >= since:
                break
            del orders[oldest]
        if not orders:
            cache.in_order, cache.latest = True, None
        cache.floor = since
        if cache.in_order and (cache.latest is None or cache.latest <= ts):  # in time order, none after ``ts``
            if client_order_id is not None and client_order_id in orders:
                return [o for o in orders.values() if o.client_order_id != client_order_id]
            return list(orders.values())
        chosen = [o for o in orders.values() if o.client_order_id != client_order_id and o.ts <= ts]
        chosen.sort(key=lambda o: o.ts)
        return chosen

    def _remember(self, order: ProposedOrder, state: BookState, decision: Decision) -> None:
        # an order checked here is a recent order of the next one at once (a batch's are stored after all are checked)
        if (
            order.client_order_id is None
            or self._watched.rules.recent_window_s(order.portfolio, _session(state.ts)) <= 0
        ):
            return
        cache = self._recent_orders.get(order.portfolio)
        if cache is None:
            return
        cache.put(RecentOrder(
            ts=state.ts,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            order_type=order.order_type,
            limit_price=order.limit_price,
            status="rejected" if decision.verdict == "block" else "new",
        ))  # fmt: skip

    def _day_trades(
        self, portfolio: str, day: dt.date, positions: Mapping[str, float]
    ) -> tuple[list[dt.date], dict[str, float]]:
        # incremental: each order reads the fills booked since the last one and walks only those
        first = _window_start(day)
        cache = self._fills.setdefault(portfolio, _Fills())
        batch = self._batch
        rows: list[tuple[Any, ...]] = []
        if batch is None or batch.get((portfolio, "fills")) != cache.last_id:  # once a batch
            with self._store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
                rows = db.rows(
                    "SELECT id, ts, client_order_id, symbol, side, quantity FROM {t}execution_fills "
                    "WHERE portfolio = ? AND id > ? AND txn_id IS NOT NULL ORDER BY id",
                    (portfolio, cache.last_id),
                )
        for fill_id, ts, coid, symbol, side, quantity in rows:
            q = float(quantity)
            stamp = self._stamp(ts)
            cache.rows.append((stamp, _session(stamp), str(coid), str(symbol), q if side == Side.BUY.value else -q))
            cache.last_id = max(cache.last_id, int(fill_id))
        if batch is not None:
            batch[(portfolio, "fills")] = cache.last_id
        walk = cache.walk
        fresh = cache.rows[cache.walked :]
        if (
            walk is None
            or cache.first != first
            or (fresh and walk.last_ts is not None and min(f[0] for f in fresh) < walk.last_ts)
        ):
            walk = None  # a new window, or a fill older than those walked: walk the window again
        else:
            for fill in fresh:
                walk.step(fill)
            if not walk.agrees(positions):
                walk = None
        if walk is None:
            cache.first = first
            cache.rows = sorted((r for r in cache.rows if r[1] >= first), key=lambda r: r[0])
            walk = _DayTrades.before(cache.rows, positions)
        cache.walk, cache.walked = walk, len(cache.rows)
        return walk.result(day)

    # -- the kill switch -----------------------------------------------------------------------
    def _halt_book(self, portfolio: str, rule: str, reason: str, state: BookState, ts: pd.Timestamp) -> None:
        # outside the manager's transaction; once: a book halted (or set reducing by hand) meanwhile is left alone
        if trading_state(self._store, portfolio) is not TradingState.ACTIVE:
            return
        loss = ""
        if state.equity is not None and state.start_of_day_equity:
            loss = (
                f"equity {state.equity:,.2f} is {state.equity / state.start_of_day_equity - 1:+.2%} from the "
                f"start of day's {state.start_of_day_equity:,.2f}; "
            )
        text = f"compliance rule {rule!r} (daily loss limit): {loss}{reason}"
        set_trading_state(self._store, portfolio, TradingState.HALTED, reason=text[:500], ts=ts)


def _result(decision: Decision, portfolio: str) -> CheckResult:
    # the inputs a replay needs: the rules' hash, the decision's time and portfolio (the rules in force), each result
    blocked = decision.verdict == "block"
    return CheckResult(
        check=ComplianceCheck.name,
        verdict=decision.verdict,
        reason=decision.reason(),
        reject_reason=RejectReason.COMPLIANCE if blocked else None,
        inputs={
            "rules_hash": decision.rules_hash,
            "ts": _utc(decision.ts).isoformat(),
            "portfolio": portfolio,
            "rules": [r.to_dict() for r in decision.results],
        },
    )


def _auditable(rules: RuleSet) -> RuleSet:
    # the audit trail keeps the whole text with its record: a text it cannot keep is refused like a malformed one
    size = len(canonical_json({"hash": rules.hash, "source": rules.source, "previous_hash": rules.hash,
                               "text": rules.text}))  # fmt: skip
    if size > MAX_PAYLOAD_CHARS:
        raise RulesFileError(
            f"{rules.source}: the rules file is {size:,} characters as the audit trail records it; it keeps at most "
            f"{MAX_PAYLOAD_CHARS:,}: shorten it (comments count too)"
        )
    return rules


def _stat(path: Path) -> tuple[int, int, int, int] | None:
    # the change time and inode too: an edit that keeps the size and restores the mtime (cp -p, rsync -a, two
    # same-size writes in one clock tick) still changes ctime, a file moved into place its inode (found by QA)
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_ino


def _home_rules_path() -> Path:
    # where load_rules() looks when no compliance_rules setting names a file
    from bifrost.config import load_settings

    return load_settings().home / RULES_FILE_NAME


def _wall_clock() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _utc(value: object) -> pd.Timestamp:
    if isinstance(value, pd.Timestamp) and value.tzinfo is dt.UTC:
        return value  # already UTC (what tz_convert would return again)
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@functools.lru_cache(maxsize=64)
def _window_start(day: dt.date) -> dt.date:
    # the first session date of the day-trading rules' window ending on ``day`` (business days: slow in pandas)
    return (pd.Timestamp(day) - pd.offsets.BDay(DAY_TRADE_SESSIONS - 1)).date()


def _session(ts: pd.Timestamp) -> dt.date:
    # the session date of a time: its UTC date (as the rule engine's effective dates take it)
    return _utc(ts).date()


def _start_of_day_equity(store: Store, portfolio: str, day: dt.date) -> float | None:
    # the ledger before the session date, marked at the last closes before it (None: nothing before, or no close)
    cutoff = pd.Timestamp(day, tz="UTC")
    try:
        ledger = load_portfolio(store, portfolio, store_dividends=False)
    except NotFoundError:
        return None
    before = [t for t in ledger.transactions if t.ts < cutoff]
    if not before:
        return None
    then = Ledger.replay(
        portfolio,
        before,
        inception=ledger.inception,
        cost_basis=ledger.cost_basis,
        long_only=ledger.long_only,
        base_currency=ledger.base_currency,
    )
    held = [p.symbol for p in then.positions() if p.quantity]
    marks: dict[str, Decimal] = {}
    if held:
        # the last closes before the cutoff: a recent window first, the whole history for what it misses
        for start in (cutoff - pd.Timedelta(days=14), None):
            wanted = [s for s in held if s not in marks]
            if not wanted:
                break
            bars = store.read_bars(wanted, start=start, end=cutoff, fields=["close"])
            if len(bars):
                last = bars.groupby(level="symbol")["close"].last()
                marks.update({str(s): Decimal(repr(float(c))) for s, c in last.items()})
        if any(s not in marks for s in held):
            return None
    return float(then.equity(marks))


def _count_day_trades(
    fills: Sequence[tuple[pd.Timestamp, str, str, float]], positions: Mapping[str, float], today: dt.date
) -> tuple[list[dt.date], dict[str, float]]:
    # the day trades of fills (ts, client order id, symbol, signed shares, in time order) ending at ``positions``
    walk = _DayTrades.before([(ts, _session(ts), coid, symbol, q) for ts, coid, symbol, q in fills], positions)
    return walk.result(today)


def dry_run(
    store: Store,
    request: OrderRequest,
    *,
    rules: RuleSet | str | os.PathLike[str] | None = None,
    now: pd.Timestamp | None = None,
) -> Decision:
    """Judge ``request`` by the compliance rules as the order manager would now, recording nothing.

    The book (ledger positions and cash, working orders, trading state) and the market (the
    last closes at ``now``) are built as `OrderManager` builds them for its checks; the
    rules' `Decision` is returned, nothing is stored or audited (what ``bifrost compliance
    check`` prints).

    Parameters
    ----------
    store
        The store of the portfolio and the bars.
    request
        The order.
    rules
        As `ComplianceCheck` takes them (None: the configured rules).
    now
        The decision's time (default: now, UTC).

    Raises
    ------
    NotFoundError
        If the portfolio is not stored (or a rules file given by path does not exist).
    RulesFileError
        If the rules file is malformed.
    """
    from bifrost.execution._manager import book_and_market

    check = ComplianceCheck(store, rules, halt_on_daily_loss=False)
    book, market = book_and_market(store, request, now=now)
    return check.preview(request, book, market)
