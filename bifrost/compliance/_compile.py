"""Compliance rules compiled for a backtest: per-bar masks and caps the compiled engine reads.

A backtest checks its orders against the same rules as trading (`bifrost.strategy.backtest`
with ``rules=``). The rules whose inputs depend only on prices, positions, cash and dates
(their kind's ``compilable``) become arrays: which versions are in force on each bar (their
effective dates and portfolios), which symbols a restricted list names, each symbol's sector
and issuer as integer codes, and each version's limit, warning zone, severity and side. The
engine (`bifrost.strategy._kernel`) judges every order when it is created, at the bar's close,
on the book at that close — when the order manager judges a paper order sent at that close.

What the kernel measures, per kind (the kind's ``gather``/``decide`` in
`bifrost.compliance._kinds`, on the book a backtest keeps):

============================  =========================================================
restricted_list               the order's symbol is listed (and its side is ``sides``)
max_order_quantity            the order's shares (> ``max_shares`` trips)
max_order_notional            shares × (the limit price, else the last close)
max_position_pct_nav          \\|position after\\| × price / NAV
sector_concentration          the order's sector's gross after / NAV (no sector: passes)
issuer_concentration          the order's issuer's gross after / NAV (issuer: ``issuers``,
                              else the book's issuers, else the symbol)
gross_exposure                Σ \\|shares × price\\| after / NAV
short_sale                    a sell beyond the long position, in a long-only book
price_collar                  \\|limit / last close − 1\\| of a limit or stop-limit order
daily_loss_limit              1 − NAV / NAV at the previous session's close, for an
                              order that does not only reduce
============================  =========================================================

The others (``duplicate_order``, ``order_rate``, ``pattern_day_trader``, ``intraday_margin``,
``wash_sale``) read the order flow or the intraday trades a bar backtest does not have; they
are listed in `CompiledRules.skipped` with the reason, and the backtest's result says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bifrost._typing import BoolArray, FloatArray, IntArray
from bifrost.compliance._model import Rule
from bifrost.errors import InvalidInputError

if TYPE_CHECKING:
    from bifrost.compliance._rules import RuleSet

__all__ = ["COMPILED_KINDS", "CompiledRules", "compile_rules"]

COMPILED_KINDS: tuple[str, ...] = (
    "restricted_list",
    "max_order_quantity",
    "max_order_notional",
    "max_position_pct_nav",
    "sector_concentration",
    "issuer_concentration",
    "gross_exposure",
    "short_sale",
    "price_collar",
    "daily_loss_limit",
)
"""The kinds a backtest applies, in the order of the kernel's codes (`bifrost.strategy._kernel` ``RK_*``)."""

# the parameter holding each kind's limit (None: the kind has no limit)
_LIMIT_PARAM: Mapping[str, str | None] = {
    "restricted_list": None,
    "max_order_quantity": "max_shares",
    "max_order_notional": "max_notional_usd",
    "max_position_pct_nav": "max_fraction",
    "sector_concentration": "max_fraction",
    "issuer_concentration": "max_fraction",
    "gross_exposure": "max_fraction",
    "short_sale": None,
    "price_collar": "max_deviation",
    "daily_loss_limit": "max_loss_fraction",
}
# why a kind that is not compiled cannot be (the result lists each such rule with it)
_WHY_NOT: Mapping[str, str] = {
    "duplicate_order": "it reads the book's recent orders, an order flow a bar backtest does not have",
    "order_rate": "it reads the book's recent orders, an order flow a bar backtest does not have",
    "pattern_day_trader": "it counts intraday round trips (day trades), which a bar backtest does not make",
    "intraday_margin": "it measures intraday exposure, which a bar backtest does not have",
    "wash_sale": "it is a post-trade rule (surveillance), never run before an order",
}
_SIDES = {"both": 0.0, "buy": 1.0, "sell": -1.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledRules:
    """The compilable rule versions of a rule set, laid out per bar and symbol for the kernel.

    Attributes
    ----------
    rules
        The compiled versions, in file order: row ``r`` of every array is ``rules[r]``.
    kinds
        Each version's index in `COMPILED_KINDS`.
    limits, warn_at, blocks, sides
        Each version's limit (shares, money, a fraction or a deviation; NaN: none), the
        fraction of it where it starts to warn (NaN: never), whether it blocks (True) or only
        warns when it trips, and the side it applies to (restricted list: 0 both, +1 buys,
        -1 sells).
    active
        ``(bars, rules)``: whether each version is in force on each bar's session date (its
        effective dates, and the portfolio).
    listed
        ``(rules, symbols)``: the symbols a restricted list names (False for other kinds).
    groups
        ``(rules, symbols)``: each symbol's sector (sector_concentration) or issuer
        (issuer_concentration) as an integer code, -1 where it has none; 0 for other kinds.
    session_start
        ``(bars,)``: whether a bar opens a new session (its UTC date differs from the bar
        before's): the daily loss limit measures from the equity at the close before it.
    skipped
        ``(rule, why)`` for every version in force on some bar that a backtest cannot apply.
    portfolio, sectors, issuers
        What the rules were compiled for (the result rebuilds the rules' books from them).
    rules_hash
        The rule set's hash.
    """

    rules: tuple[Rule, ...]
    kinds: IntArray
    limits: FloatArray
    warn_at: FloatArray
    blocks: BoolArray
    sides: FloatArray
    active: BoolArray
    listed: BoolArray
    groups: IntArray
    session_start: BoolArray
    skipped: tuple[tuple[Rule, str], ...] = ()
    portfolio: str = "backtest"
    sectors: Mapping[str, str] = field(default_factory=dict)
    issuers: Mapping[str, str] = field(default_factory=dict)
    rules_hash: str = ""

    @property
    def n_rules(self) -> int:
        """The compiled versions."""
        return len(self.rules)

    def notes(self) -> list[str]:
        """Return one line per rule version a backtest cannot apply, and why."""
        return [f"rule {r.id!r} ({r.kind}) not applied: {why}" for r, why in self.skipped]

    def subset(self, a: int, b: int) -> CompiledRules:
        """Return the rules compiled for the symbols ``a:b`` only (a sweep's chunk)."""
        return CompiledRules(
            rules=self.rules, kinds=self.kinds, limits=self.limits, warn_at=self.warn_at, blocks=self.blocks,
            sides=self.sides, active=self.active, listed=self.listed[:, a:b], groups=self.groups[:, a:b],
            session_start=self.session_start, skipped=self.skipped, portfolio=self.portfolio, sectors=self.sectors,
            issuers=self.issuers, rules_hash=self.rules_hash,
        )  # fmt: skip


def _is_compilable(kind: str) -> bool:
    from bifrost.compliance._kinds import RULE_KINDS

    known = RULE_KINDS.get(kind)
    return bool(getattr(known, "compilable", False)) and kind in COMPILED_KINDS


def _float(rule: Rule, name: str | None) -> float:
    if name is None:
        return np.nan
    value = rule.params.get(name)
    if value is None:
        return np.nan
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(float(value)):
        raise InvalidInputError(f"rule {rule.id!r} ({rule.kind}): {name} must be a finite number, got {value!r}")
    return float(value)


def _codes(names: Sequence[str | None]) -> IntArray:
    # a code per distinct name, in order of first appearance; -1 for None
    seen: dict[str, int] = {}
    out = np.full(len(names), -1, dtype=np.int64)
    for i, name in enumerate(names):
        if name is not None:
            out[i] = seen.setdefault(name, len(seen))
    return out


def compile_rules(
    rules: RuleSet,
    *,
    portfolio: str,
    symbols: Sequence[str],
    ts: pd.DatetimeIndex,
    sectors: Mapping[str, str] | None = None,
    issuers: Mapping[str, str] | None = None,
) -> CompiledRules:
    """Compile ``rules``' compilable versions for a backtest of ``portfolio`` over ``ts`` × ``symbols``.

    Parameters
    ----------
    rules
        A `bifrost.compliance.RuleSet` (`parse_rules`, `load_rules`).
    portfolio
        The portfolio the backtest stands for: a version that names other portfolios never
        applies.
    symbols
        The panel's symbols, in its column order.
    ts
        The panel's bars (UTC): a version is in force on a bar whose UTC date lies in its
        effective window.
    sectors, issuers
        Symbol → sector and symbol → issuer (an issuer defaults to the symbol itself).

    Returns
    -------
    CompiledRules
        The arrays the kernel reads, and the versions it cannot apply (``skipped``).

    Raises
    ------
    InvalidInputError
        If ``rules`` is not a RuleSet, ``ts`` is not a DatetimeIndex, or a limit is not a
        finite number.
    """
    from bifrost.compliance._rules import RuleSet

    if not isinstance(rules, RuleSet):
        raise InvalidInputError(
            f"rules must be a bifrost.compliance.RuleSet (parse_rules, load_rules), got {type(rules).__name__}"
        )
    if not isinstance(ts, pd.DatetimeIndex):
        raise InvalidInputError(f"ts must be a pandas DatetimeIndex, got {type(ts).__name__}")
    sectors = dict(sectors or {})
    issuers = dict(issuers or {})
    stamps = ts.tz_convert("UTC") if ts.tz is not None else ts.tz_localize("UTC")
    days = np.asarray(stamps.date)
    unique_days = sorted(set(days.tolist()))
    compiled: list[Rule] = []
    columns: list[BoolArray] = []
    skipped: list[tuple[Rule, str]] = []
    for rule in rules.rules:
        in_force = np.array([rule.applies(portfolio, d) for d in unique_days], dtype=bool)
        if not in_force.any():
            continue  # never in force over these bars: nothing to apply, nothing to say
        if not _is_compilable(rule.kind):
            skipped.append((rule, _WHY_NOT.get(rule.kind, "its inputs are not prices, positions, cash and dates")))
            continue
        by_day = dict(zip(unique_days, in_force.tolist(), strict=True))
        compiled.append(rule)
        columns.append(np.fromiter((by_day[d] for d in days.tolist()), dtype=bool, count=len(days)))
    n_r, n_s = len(compiled), len(symbols)
    listed = np.zeros((n_r, n_s), dtype=bool)
    groups = np.zeros((n_r, n_s), dtype=np.int64)
    sides = np.zeros(n_r)
    for r, rule in enumerate(compiled):
        if rule.kind == "restricted_list":
            names = {str(s).upper() for s in _strings(rule.params.get("symbols"))}
            listed[r] = [s.upper() in names for s in symbols]
            sides[r] = _SIDES.get(str(rule.params.get("sides") or "both"), 0.0)
        elif rule.kind == "sector_concentration":
            groups[r] = _codes([sectors.get(s) for s in symbols])
        elif rule.kind == "issuer_concentration":
            extra = rule.params.get("issuers") or {}
            override = dict(extra) if isinstance(extra, Mapping) else {}
            groups[r] = _codes([str(override.get(s, issuers.get(s, s))) for s in symbols])
    session = np.ones(len(days), dtype=bool)
    if len(days) > 1:
        session[1:] = days[1:] != days[:-1]
    return CompiledRules(
        rules=tuple(compiled),
        kinds=np.array([COMPILED_KINDS.index(r.kind) for r in compiled], dtype=np.int64),
        limits=np.array([_float(r, _LIMIT_PARAM[r.kind]) for r in compiled], dtype=np.float64),
        warn_at=np.array([_float(r, "warn_at") if "warn_at" in r.params else np.nan for r in compiled]),
        blocks=np.array([r.severity == "block" for r in compiled], dtype=bool),
        sides=sides,
        active=np.stack(columns, axis=1) if columns else np.zeros((len(days), 0), dtype=bool),
        listed=listed,
        groups=groups,
        session_start=session,
        skipped=tuple(skipped),
        portfolio=portfolio,
        sectors=sectors,
        issuers=issuers,
        rules_hash=str(getattr(rules, "hash", "")),
    )


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value)
    return ()
