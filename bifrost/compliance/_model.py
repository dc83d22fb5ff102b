"""What the compliance rules see and say: the order, the book, a rule, its result, the decision.

The rule engine is pure: a rule is evaluated in two steps, both plain functions of data,

1. ``gather(rule, order, book, measures) -> inputs``: the numbers the rule decides on, a
   JSON-able mapping (str, int, float, bool, None, lists and mappings of those), recorded
   with the decision;
2. ``decide(rule, inputs) -> (verdict, reason)``: pass, warn or block, and why, from the
   inputs alone.

So a recorded decision is replayed by calling ``decide`` again on its recorded inputs under
the rule version of its day (`bifrost.compliance.replay_decisions`), and a compliance-aware
backtest compiles the rules whose inputs depend only on prices, positions, cash and dates
into per-bar masks and caps.

Money on the single order is `Decimal` (as `bifrost.execution.OrderRequest` has it); the
book's bulk numbers (positions, prices, equity) are floats, as the risk kernels have them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

import pandas as pd

from bifrost.portfolio import Side

__all__ = [
    "BookState",
    "Decision",
    "Measures",
    "Param",
    "ProposedOrder",
    "RecentOrder",
    "Rule",
    "RuleKind",
    "RuleResult",
    "Severity",
    "Verdict",
    "worst",
]

Verdict = Literal["pass", "warn", "block"]
Severity = Literal["block", "warn"]  # what a rule does when it trips: block the order, or only warn
OrderTypeName = Literal["market", "limit", "stop", "stop_limit"]
_RANK: dict[str, int] = {"pass": 0, "warn": 1, "block": 2}


def worst(verdicts: Sequence[Verdict]) -> Verdict:
    """The most severe of ``verdicts`` (block > warn > pass; pass when there are none)."""
    best: Verdict = "pass"
    for v in verdicts:
        if _RANK[v] > _RANK[best]:
            best = v
    return best


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposedOrder:
    """An order as the rules see it, before it is sent (or a backtest order when it is created)."""

    portfolio: str
    symbol: str
    side: Side
    quantity: Decimal  # > 0
    order_type: OrderTypeName = "market"
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    client_order_id: str | None = None

    @property
    def signed_quantity(self) -> float:
        """The quantity signed by the side (buys +, sells -), as a float."""
        q = float(self.quantity)
        return q if self.side is Side.BUY else -q


@dataclass(frozen=True, slots=True, kw_only=True)
class RecentOrder:
    """One of the book's recent orders (the duplicate filter and the order-rate throttle read them)."""

    ts: pd.Timestamp
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderTypeName
    limit_price: Decimal | None
    status: str  # the order's status now (bifrost.execution.OrderStatus values)


@dataclass(frozen=True, slots=True, kw_only=True)
class BookState:
    """The book an order would trade in, at the decision's time ``ts`` (UTC).

    Attributes
    ----------
    positions
        Signed shares held, per symbol (flat symbols may be absent).
    pending
        Signed shares the book's working orders would still add, per symbol.
    prices
        The last price of each symbol known at ``ts`` (the held ones and the order's).
    cash
        The book's cash.
    equity
        Its net asset value: cash plus the positions at ``prices``; None when a held symbol
        has no price.
    start_of_day_equity
        The NAV at the previous session's close (the daily loss limit's reference); None
        when unknown (a new book).
    sectors, issuers
        Symbol → sector and symbol → issuer, where known (an issuer defaults to the symbol).
    recent_orders
        The book's orders of the last session and today, oldest first.
    day_trades
        The session dates of the book's day trades (a position opened and closed in the same
        session) over the last 10 sessions, oldest first, one entry per day trade.
    opened_today
        Signed shares bought (+) or sold short (-) today, per symbol: closing them today is a
        day trade.
    long_only
        Whether the book may not sell short (its portfolio's setting).
    """

    portfolio: str
    ts: pd.Timestamp
    positions: Mapping[str, float]
    cash: float
    equity: float | None
    pending: Mapping[str, float] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)
    start_of_day_equity: float | None = None
    sectors: Mapping[str, str] = field(default_factory=dict)
    issuers: Mapping[str, str] = field(default_factory=dict)
    recent_orders: Sequence[RecentOrder] = ()
    day_trades: Sequence[dt.date] = ()
    opened_today: Mapping[str, float] = field(default_factory=dict)
    long_only: bool = True

    def position(self, symbol: str) -> float:
        """The signed shares held in ``symbol`` (0.0 when flat)."""
        return self.positions.get(symbol, 0.0)


class Measures:
    """The book-wide numbers several rules share, computed once per evaluation on first use.

    The engine makes one per order; a rule's ``gather`` reads what it needs. All exposures
    are at the book's prices, the order's symbol at ``price`` (the order's reference price:
    the last price, else its limit, else its stop), after the order when ``after`` is true.
    The engine (`bifrost.compliance._engine`) fills this in; rules only read it.
    """

    __slots__ = ("_cache", "book", "order", "price")

    def __init__(self, order: ProposedOrder, book: BookState, price: float | None) -> None:
        self.order = order
        self.book = book
        self.price = price
        self._cache: dict[str, object] = {}

    def get(self, key: str) -> object | None:
        """A value computed earlier in this evaluation, or None."""
        return self._cache.get(key)

    def put(self, key: str, value: object) -> None:
        """Keep ``value`` for the rest of this evaluation."""
        self._cache[key] = value


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    """One parameter a rule kind takes in the rules file.

    ``type`` is the TOML type it must have: ``"float"`` (an int is taken as a float),
    ``"int"``, ``"bool"``, ``"str"``, ``"date"``, ``"str_list"`` (a list of strings) or
    ``"str_map"`` (a table of string values). ``minimum``/``maximum`` bound a number
    (inclusive unless ``exclusive``); ``choices`` bound a string.
    """

    name: str
    type: Literal["float", "int", "bool", "str", "date", "str_list", "str_map"]
    doc: str
    required: bool = True
    default: object = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive: bool = False
    choices: tuple[str, ...] = ()


class RuleKind(Protocol):
    """One kind of rule (``price_collar``, ``restricted_list``, ...). Satisfy structurally.

    Attributes
    ----------
    name
        The ``kind`` the rules file names it by.
    params
        The parameters it takes (beyond the common ones every rule has).
    stage
        ``pre_trade`` (judges an order before it is sent), ``post_trade`` (surveillance
        only: the wash-sale rule) or ``both``.
    compilable
        Whether its inputs depend only on prices, positions, cash and dates (so that a
        backtest can apply it per bar).
    """

    name: str
    params: tuple[Param, ...]
    stage: Literal["pre_trade", "post_trade", "both"]
    compilable: bool

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the inputs this rule decides on (JSON-able; recorded with the decision)."""
        ...

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Return the verdict and a reason a person can read, from ``inputs`` alone."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule of a rules file, in one dated version.

    Attributes
    ----------
    id
        The rule's name in the file (``collar``); several versions of one rule share it,
        with effective windows that do not overlap.
    kind
        Its kind (``price_collar``).
    params
        Its parameters, validated and with defaults filled in.
    severity
        ``block`` (the default) or ``warn``: what a tripped rule does.
    effective_from, effective_to
        The first and last session dates it applies on (inclusive; None: unbounded).
    portfolios
        The portfolios it applies to (empty: all).
    version
        A digest of its definition (kind, params, severity, dates, portfolios): changes
        whenever the rule does.
    line
        The rules file's line its table starts on (for the built-in default, its line in
        `DEFAULT_RULES_TOML`; a pack's rules carry the pack's line).
    """

    id: str
    kind: str
    params: Mapping[str, object]
    severity: Severity = "block"
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    portfolios: tuple[str, ...] = ()
    version: str = ""
    line: int = 0

    def applies(self, portfolio: str, day: dt.date) -> bool:
        """Whether this version applies to ``portfolio`` on session date ``day``."""
        if self.portfolios and portfolio not in self.portfolios:
            return False
        if self.effective_from is not None and day < self.effective_from:
            return False
        return self.effective_to is None or day <= self.effective_to


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleResult:
    """One rule's verdict on one order: what it said, under which version, on which inputs."""

    rule: str
    kind: str
    version: str
    verdict: Verdict
    reason: str
    inputs: Mapping[str, object]

    def to_dict(self) -> dict[str, object]:
        """The JSON-able form recorded in the audit trail (and read back by the replay)."""
        return {
            "rule": self.rule,
            "kind": self.kind,
            "version": self.version,
            "verdict": self.verdict,
            "reason": self.reason,
            "inputs": dict(self.inputs),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Every applicable rule's result on one order, and the verdict of them all.

    ``rules_hash`` is the SHA-256 of the rules file's text the rules came from (the
    built-in default's text when no file was given).
    """

    ts: pd.Timestamp
    rules_hash: str
    results: tuple[RuleResult, ...]

    @property
    def verdict(self) -> Verdict:
        """block if any rule blocks, else warn if any warns, else pass."""
        return worst([r.verdict for r in self.results])

    @property
    def blocks(self) -> tuple[RuleResult, ...]:
        """The results that block."""
        return tuple(r for r in self.results if r.verdict == "block")

    @property
    def warnings(self) -> tuple[RuleResult, ...]:
        """The results that warn."""
        return tuple(r for r in self.results if r.verdict == "warn")

    def reason(self) -> str:
        """The blocking (else warning) rules and their reasons: ``"collar: ...; restricted: ..."``."""
        chosen = self.blocks or self.warnings
        return "; ".join(f"{r.rule}: {r.reason}" for r in chosen)

    def summary(self) -> pd.DataFrame:
        """One row per rule: ``rule, kind, version, verdict, reason``."""
        return pd.DataFrame(
            [{"rule": r.rule, "kind": r.kind, "version": r.version, "verdict": r.verdict, "reason": r.reason}
             for r in self.results],
            columns=["rule", "kind", "version", "verdict", "reason"],
        )  # fmt: skip
