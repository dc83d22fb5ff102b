"""Pre-trade checks: a small protocol (an order, the book, the market → pass, warn or block).

The order manager runs its checks in order on every new order and records each decision
with its inputs; any ``block`` rejects the order (state REJECTED, the reasons recorded and
returned). The risk limits of `bifrost.risk` are the first check (`RiskLimitCheck`), the
book's trading state the second (`TradingStateCheck`); the compliance rule engine plugs in
as another `PreTradeCheck`.

A book's trading state (after nautilus_trader): ACTIVE; REDUCING (only orders that reduce
the absolute position pass, and they skip size minimums); HALTED (nothing new passes;
cancels always do). It is set by hand (`set_trading_state`) or by the kill switch
(`kill_switch`: a breached drawdown, VaR or ES limit halts the book); each change is kept in
the store with its history and audited (``book.state``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum, auto
from typing import Literal, Protocol

import pandas as pd

from bifrost._checks import as_bounded_decimal, quote
from bifrost.data import Store
from bifrost.errors import InvalidInputError
from bifrost.execution._order import OrderRequest, RejectReason, Side
from bifrost.execution._schema import EXECUTION_SCHEMA, audit
from bifrost.portfolio import require_portfolio
from bifrost.portfolio._ledger import check_portfolio_name
from bifrost.risk import Limit, alerts_marker, get_limits, read_alerts, store_sectors

__all__ = [
    "BookView",
    "CheckResult",
    "MarketView",
    "OpenOrder",
    "PreTradeCheck",
    "RiskLimitCheck",
    "SizeCheck",
    "TradingState",
    "TradingStateCheck",
    "Verdict",
    "kill_switch",
    "reduces",
    "set_trading_state",
    "trading_state",
]

ZERO = Decimal(0)
Verdict = Literal["pass", "warn", "block"]


class TradingState(StrEnum):
    """A book's trading state: what new orders may do."""

    ACTIVE = auto()
    REDUCING = auto()
    HALTED = auto()


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One check's decision on one order; ``inputs`` are the numbers it decided on (recorded)."""

    check: str
    verdict: Verdict
    reason: str = ""
    reject_reason: RejectReason | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenOrder:
    """What a check sees of a working order of the book: its side and the quantity still to fill."""

    client_order_id: str
    symbol: str
    side: Side
    leaves_quantity: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class BookView:
    """The book an order would trade in: positions (signed shares), cash, equity, working orders.

    ``equity`` is cash plus the positions at the market's last prices; None when a held
    symbol has no price.
    """

    portfolio: str
    trading_state: TradingState
    positions: Mapping[str, Decimal]
    cash: Decimal
    equity: Decimal | None
    open_orders: Sequence[OpenOrder] = ()

    def position(self, symbol: str) -> Decimal:
        """The signed shares held in ``symbol`` (0 when flat)."""
        return self.positions.get(symbol, ZERO)

    def pending(self, symbol: str) -> Decimal:
        """The signed shares the working orders of ``symbol`` would still add (buys +, sells -)."""
        signed_leaves = (o.leaves_quantity if o.side is Side.BUY else -o.leaves_quantity for o in self.open_orders
                         if o.symbol == symbol)  # fmt: skip
        return sum(signed_leaves, ZERO)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketView:
    """The market at ``ts``: the last known price of each symbol (None: none known)."""

    ts: pd.Timestamp
    prices: Mapping[str, Decimal] = field(default_factory=dict)

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price of ``symbol`` at ``ts``, or None when the market has none."""
        return self.prices.get(symbol)


class PreTradeCheck(Protocol):
    """Judge one order against the book and the market. Satisfy structurally; do not inherit."""

    name: str

    def check(self, request: OrderRequest, book: BookView, market: MarketView) -> CheckResult:
        """Return pass, warn or block, with the reason and the inputs the decision used."""
        ...


def signed(request: OrderRequest) -> Decimal:
    """The order's quantity signed by its side (buys +, sells -)."""
    return request.quantity if request.side is Side.BUY else -request.quantity


def reduces(request: OrderRequest, book: BookView) -> bool:
    """Whether ``request`` only reduces the absolute position, counting the working orders.

    A sell of at most what a long holds (less what is already being sold), or a buy of at
    most a short's size; an order that would cross zero does not only reduce.
    """
    held = book.position(request.symbol) + book.pending(request.symbol)
    after = held + signed(request)
    # closing to exactly zero reduces from either side (a short covered in full too: found in issue 15)
    return held != 0 and (after == 0 or (held > 0) == (after > 0)) and abs(after) < abs(held)


class TradingStateCheck:
    """The book's trading state: HALTED blocks every new order, REDUCING all but reducing ones.

    Cancels never reach a pre-trade check: they always pass.
    """

    name = "trading_state"

    def check(self, request: OrderRequest, book: BookView, market: MarketView) -> CheckResult:
        """Block by the book's trading state (see the class)."""
        state = book.trading_state
        inputs: dict[str, object] = {"state": str(state), "position": str(book.position(request.symbol))}
        if state is TradingState.HALTED:
            return CheckResult(
                check=self.name,
                verdict="block",
                reason=f"book {book.portfolio} is halted: no new orders",
                reject_reason=RejectReason.TRADING_HALTED,
                inputs=inputs,
            )
        if state is TradingState.REDUCING and not reduces(request, book):
            return CheckResult(
                check=self.name,
                verdict="block",
                reason=(
                    f"book {book.portfolio} is reducing: {request.side} {request.quantity} {request.symbol} "
                    f"does not reduce the position {book.position(request.symbol)}"
                ),
                reject_reason=RejectReason.REDUCE_ONLY,
                inputs=inputs,
            )
        return CheckResult(check=self.name, verdict="pass", inputs=inputs)


class SizeCheck:
    """A size minimum: an order worth less than ``min_notional`` at the last price is blocked.

    A reducing order in a REDUCING book skips it (it must be able to close what is left).
    """

    name = "size"

    def __init__(self, *, min_notional: object) -> None:
        self.min_notional = as_bounded_decimal(min_notional, "min_notional")
        if self.min_notional <= 0:
            raise InvalidInputError(f"min_notional must be positive, got {quote(min_notional)}")

    def check(self, request: OrderRequest, book: BookView, market: MarketView) -> CheckResult:
        """Block an order worth less than the minimum (see the class)."""
        if book.trading_state is TradingState.REDUCING and reduces(request, book):
            return CheckResult(check=self.name, verdict="pass", reason="reducing: size minimum skipped")
        price = market.last_price(request.symbol) or request.limit_price or request.stop_price
        if price is None:
            return CheckResult(check=self.name, verdict="pass", reason=f"no price for {request.symbol}")
        notional = request.quantity * price
        inputs = {"notional": str(notional), "min_notional": str(self.min_notional)}
        if notional < self.min_notional:
            return CheckResult(
                check=self.name,
                verdict="block",
                reason=f"order worth {notional} is below the minimum {self.min_notional}",
                reject_reason=RejectReason.RISK_LIMIT,
                inputs=inputs,
            )
        return CheckResult(check=self.name, verdict="pass", inputs=inputs)


class RiskLimitCheck:
    """The portfolio's `bifrost.risk` limits, applied to the book as it would be after the order.

    Exposure limits (``gross_exposure``, ``net_exposure``, ``single_name`` of the order's
    symbol, ``sector`` of its sector) are measured after the trade at the last price, as a
    fraction of today's equity: an order that takes a measure above its threshold *and*
    increases it is blocked; one that stays above the warning level passes with a warning.
    VaR and expected shortfall need a return history, which one order does not change: an
    order that increases the absolute position is blocked while the portfolio has an
    **open breach episode** of a ``var`` or ``es`` limit (`bifrost.risk.check_limits`
    records them); a reducing order passes. Drawdown limits are the kill switch's
    (`kill_switch`), not this check's.

    Limits (the portfolio's own or `bifrost.risk.DEFAULT_LIMITS`), open episodes and
    sectors are read from ``store`` and kept until `bifrost.risk.alerts_marker` (limits
    and episodes) or the store's ingest marker (sectors) changes; in a batch
    (`OrderManager.submit_many` calls `begin_batch` and `end_batch`) those markers are read
    once for the batch.
    """

    name = "risk_limits"

    def __init__(self, store: Store) -> None:
        self._store = store
        self._marker: str | None = None
        self._limits: dict[str, tuple[Limit, ...]] = {}
        self._breaches: dict[str, list[str]] = {}
        self._sectors_marker: str | None = None
        self._sectors: dict[str, str] = {}
        self._batch: dict[str, str] | None = None  # the markers read once for a batch (`begin_batch`)

    def begin_batch(self) -> None:
        """Start a batch of checks (`OrderManager.submit_many`): the store's markers are read once for all of them."""
        self._batch = {}

    def end_batch(self) -> None:
        """End the batch `begin_batch` started: each check reads the markers again."""
        self._batch = None

    def _read_marker(self, name: str) -> str:
        # the alerts or the ingest marker: once a batch inside one (nothing a batch's checks do changes either)
        batch = self._batch
        if batch is not None and name in batch:
            return batch[name]
        value = alerts_marker(self._store) if name == "alerts" else self._store.ingest_marker()
        if batch is not None:
            batch[name] = value
        return value

    def _refresh(self, portfolio: str) -> tuple[Limit, ...]:
        marker = self._read_marker("alerts")
        if marker != self._marker:
            self._marker, self._limits, self._breaches = marker, {}, {}
        if portfolio not in self._limits:
            self._limits[portfolio] = get_limits(self._store, portfolio)
            episodes = read_alerts(self._store, portfolio, status="open")
            hot = episodes[(episodes["severity"] == "breach") & episodes["metric"].isin(["var", "es"])]
            self._breaches[portfolio] = [str(m) for m in hot["message"]]
        limits = self._limits[portfolio]
        if any(x.metric == "sector" for x in limits):
            ingests = self._read_marker("ingests")
            if ingests != self._sectors_marker:
                self._sectors_marker, self._sectors = ingests, store_sectors(self._store)
        return limits

    def check(self, request: OrderRequest, book: BookView, market: MarketView) -> CheckResult:
        """Measure the book after the order against each limit (see the class)."""
        limits = self._refresh(book.portfolio)
        symbol = request.symbol
        before = book.position(symbol)
        after = before + signed(request)
        increases = abs(after) > abs(before)
        inputs: dict[str, object] = {"position_before": str(before), "position_after": str(after)}
        breaches = self._breaches[book.portfolio]
        if increases and breaches:
            return CheckResult(
                check=self.name,
                verdict="block",
                reason=f"a VaR/ES limit is breached and the order increases {symbol}: {breaches[0]}",
                reject_reason=RejectReason.RISK_LIMIT,
                inputs=inputs | {"open_breaches": breaches},
            )
        exposure_limits = [x for x in limits if x.metric in ("gross_exposure", "net_exposure", "single_name", "sector")]
        if not exposure_limits:
            return CheckResult(check=self.name, verdict="pass", inputs=inputs)
        price = market.last_price(symbol) or request.limit_price or request.stop_price
        equity = book.equity
        if price is None or equity is None or equity <= 0:
            if not increases:
                return CheckResult(check=self.name, verdict="pass", reason="reduces the position", inputs=inputs)
            why = f"no price for {symbol}" if price is None else f"the book's equity is {equity}"
            return CheckResult(
                check=self.name,
                verdict="block",
                reason=f"cannot measure exposure: {why}",
                reject_reason=RejectReason.RISK_LIMIT,
                inputs=inputs,
            )
        inputs |= {"price": str(price), "equity": str(equity)}
        prices = {s: market.last_price(s) for s in book.positions}
        warnings: list[str] = []
        for limit in exposure_limits:
            pre = _measure(limit, book.positions, prices, equity, symbol, self._sectors, None, price)
            post = _measure(limit, book.positions, prices, equity, symbol, self._sectors, after, price)
            if post is None or pre is None:
                continue
            inputs[limit.name] = {"before": round(pre, 6), "after": round(post, 6), "threshold": limit.threshold}
            if post > limit.threshold and post > pre:
                return CheckResult(
                    check=self.name,
                    verdict="block",
                    reason=(
                        f"limit {limit.name!r} ({limit.metric}): {post:.2%} of equity after the order, above "
                        f"{limit.threshold:.2%}"
                    ),
                    reject_reason=RejectReason.RISK_LIMIT,
                    inputs=inputs,
                )
            if post > limit.threshold * limit.warn_at and post > pre:
                warnings.append(f"limit {limit.name!r} ({limit.metric}) at {post:.2%} of equity after the order")
        if warnings:
            return CheckResult(check=self.name, verdict="warn", reason="; ".join(warnings), inputs=inputs)
        return CheckResult(check=self.name, verdict="pass", inputs=inputs)


def _measure(
    limit: Limit,
    positions: Mapping[str, Decimal],
    prices: Mapping[str, Decimal | None],
    equity: Decimal,
    symbol: str,
    sectors: Mapping[str, str],
    after: Decimal | None,
    price: Decimal,
) -> float | None:
    # one exposure measure of the book (``after``: the order's symbol at its post-trade position)
    held = dict(positions)
    if after is not None:
        held[symbol] = after
    exposure: dict[str, float] = {}
    for s, q in held.items():
        p = price if s == symbol else prices.get(s)
        if p is None:
            return None
        exposure[s] = float(q * p / equity)
    if limit.metric == "gross_exposure":
        return sum(abs(v) for v in exposure.values())
    if limit.metric == "net_exposure":
        return abs(sum(exposure.values()))
    if limit.metric == "single_name":
        return abs(exposure.get(symbol, 0.0))
    sector = sectors.get(symbol)
    if sector is None:
        return None
    return sum(abs(v) for s, v in exposure.items() if sectors.get(s) == sector)


def trading_state(store: Store, portfolio: str) -> TradingState:
    """Return the trading state of stored ``portfolio`` (ACTIVE until one is set).

    Raises
    ------
    NotFoundError
        If the store holds no portfolio ``portfolio``.
    """
    check_portfolio_name(portfolio)
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        require_portfolio(db, portfolio)
        rows = db.rows("SELECT state FROM {t}book_states WHERE portfolio = ?", (portfolio,))
    return TradingState(rows[0][0]) if rows else TradingState.ACTIVE


REASON_MAX_CHARS = 500  # a trading state change's reason: a sentence for the audit trail, not a document


def set_trading_state(
    store: Store, portfolio: str, state: TradingState | str, *, reason: str, ts: pd.Timestamp | None = None
) -> None:
    """Set the trading state of stored ``portfolio``, keep it in its history and audit it (``book.state``).

    Parameters
    ----------
    state
        ``active``, ``reducing`` or ``halted``.
    reason
        Why (a person, a rule): recorded with the change.
    ts
        When (default: now, UTC).

    Raises
    ------
    InvalidInputError
        If ``state`` is not a trading state or ``reason`` is empty or longer than ``REASON_MAX_CHARS``.
    NotFoundError
        If the store holds no portfolio ``portfolio``.
    """
    check_portfolio_name(portfolio)
    try:
        new = TradingState(str(state).lower())
    except ValueError:
        raise InvalidInputError(
            f"trading state must be one of {[s.value for s in TradingState]}, got {quote(state)}"
        ) from None
    if not isinstance(reason, str) or not reason.strip() or not reason.isprintable() or len(reason) > REASON_MAX_CHARS:
        raise InvalidInputError(
            f"a trading state change needs a reason (printable text of at most {REASON_MAX_CHARS} characters), "
            f"got {quote(reason)}"
        )
    stamp = (pd.Timestamp.now(tz="UTC") if ts is None else ts).isoformat()
    with store.transaction(schema=EXECUTION_SCHEMA, lock=f"portfolio:{portfolio}") as db:
        require_portfolio(db, portfolio)
        rows = db.rows("SELECT state FROM {t}book_states WHERE portfolio = ?", (portfolio,))
        previous = rows[0][0] if rows else TradingState.ACTIVE.value
        if rows:
            db.run(
                "UPDATE {t}book_states SET state = ?, reason = ?, ts = ? WHERE portfolio = ?",
                (new.value, reason, stamp, portfolio),
            )
        else:
            db.run(
                "INSERT INTO {t}book_states (portfolio, state, reason, ts) VALUES (?, ?, ?, ?)",
                (portfolio, new.value, reason, stamp),
            )
        db.run(
            "INSERT INTO {t}book_state_history (portfolio, state, previous, reason, ts) VALUES (?, ?, ?, ?, ?)",
            (portfolio, new.value, previous, reason, stamp),
        )
        audit(db, "book.state", portfolio, {"state": new.value, "previous": previous, "reason": reason})


def kill_switch(store: Store, portfolio: str, *, metrics: Collection[str] = ("drawdown", "var", "es")) -> TradingState:
    """Halt ``portfolio`` while one of its limits on ``metrics`` has an open breach episode.

    The episodes are those `bifrost.risk.check_limits` recorded (run it first, e.g. in a
    job). A book already halted stays halted; a book with no such breach keeps its state
    (the switch never un-halts: a person does, with `set_trading_state`). The change is
    audited as ``book.state`` with the breach's message as the reason.

    Returns
    -------
    TradingState
        The book's state afterwards.
    """
    check_portfolio_name(portfolio)
    chosen = set(metrics)
    unknown = sorted(chosen - {"drawdown", "var", "es"})
    if unknown or not chosen:
        raise InvalidInputError(f"kill_switch metrics are drawdown, var and es, got {sorted(chosen)}")
    state = trading_state(store, portfolio)
    if state is TradingState.HALTED:
        return state
    episodes = read_alerts(store, portfolio, status="open")
    hot = episodes[(episodes["severity"] == "breach") & episodes["metric"].isin(sorted(chosen))]
    if hot.empty:
        return state
    set_trading_state(store, portfolio, TradingState.HALTED, reason=f"kill switch: {hot['message'].iloc[0]}")
    return TradingState.HALTED


def inputs_json(inputs: Mapping[str, object]) -> str:
    """The canonical JSON of a decision's inputs (Decimals and timestamps as text)."""
    return json.dumps(dict(inputs), sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)
