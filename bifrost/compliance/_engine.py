"""The rule engine: every rule in force judges one order on one book.

For an order and the book it would trade in at ``book.ts``, the engine takes the rule
versions of `RuleSet` in force on the session date of ``book.ts`` (its UTC date) for the
order's portfolio whose kind runs pre-trade, in file order, and for each one::

    inputs = kind.gather(rule, order, book, measures)   # the numbers it decides on
    verdict, reason = judge(rule, inputs)              # kind.decide, then the rule's severity

`judge` is what a replay calls again on the recorded inputs. Severity: the kinds say
``block`` when a rule trips (and ``warn`` in their own ``warn_at`` zone); a rule with
``severity = "warn"`` turns its ``block`` into a ``warn``, so that it never blocks an order.

Cost. The rules in force are found once per (portfolio, session date) and kept; `Measures`
(the book maths several rules share: gross exposure, sector totals, ...) is made once per
order, so 20 rules cost one pass over the book.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final, Literal

import pandas as pd

from bifrost.compliance._kinds import RULE_KINDS
from bifrost.compliance._model import (
    BookState,
    Decision,
    Measures,
    ProposedOrder,
    Rule,
    RuleKind,
    RuleResult,
    Verdict,
)
from bifrost.compliance._rules import RuleSet
from bifrost.errors import InvalidInputError

__all__ = ["ComplianceEngine", "judge", "reference_price"]

_EPOCH: Final = dt.date(1970, 1, 1)
_NS_PER_DAY: Final = 86_400 * 1_000_000_000
_MAX_PLANS: Final = 4096
_MAX_MAGNITUDE: Final = Decimal("1e15")
_VERDICTS: Final = frozenset({"pass", "warn", "block"})
# one rule of a plan: the rule, its kind's gather and decide (bound once), whether its severity is warn
_Step = tuple[
    Rule,
    Callable[[Rule, ProposedOrder, BookState, Measures], dict[str, object]],
    Callable[[Rule, Mapping[str, object]], tuple[Verdict, str]],
    bool,
]


def _kind(rule: Rule) -> RuleKind:
    kind = RULE_KINDS.get(rule.kind)
    if kind is None:
        raise InvalidInputError(
            f"rule {rule.id!r} (version {rule.version}) has kind {rule.kind!r}, which this Bifrost does not know; "
            f"known kinds: {', '.join(RULE_KINDS)}"
        )
    return kind


def judge(rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
    """Decide ``rule`` on ``inputs`` as the engine does: the kind's verdict, then the rule's severity.

    A ``block`` of a rule whose severity is ``warn`` becomes ``warn``; the reason is the
    kind's. This is what `bifrost.compliance.replay_decisions` calls on recorded inputs.

    Parameters
    ----------
    rule
        The rule version (from a `RuleSet`).
    inputs
        What its kind's ``gather`` returned.

    Returns
    -------
    tuple of (verdict, reason)

    Raises
    ------
    InvalidInputError
        If the rule's kind is unknown, or its kind returns something other than pass, warn
        or block.
    """
    verdict, reason = _kind(rule).decide(rule, inputs)
    if verdict not in _VERDICTS:
        raise InvalidInputError(f"rule {rule.id!r} ({rule.kind}): its kind returned the verdict {verdict!r}")
    if verdict == "block" and rule.severity == "warn":
        verdict = "warn"
    return verdict, reason


def reference_price(order: ProposedOrder, book: BookState) -> float | None:
    """Return the order's reference price: the symbol's last price, else its limit, else its stop.

    None when none of them is known (or finite and positive).
    """
    last = book.prices.get(order.symbol)
    if last is not None and math.isfinite(last) and last > 0:
        return float(last)
    for price in (order.limit_price, order.stop_price):
        if price is not None and price.is_finite() and price > 0:
            return float(price)
    return None


def _check_order_numbers(order: ProposedOrder) -> None:
    # once, before any rule runs: the kinds turn these into floats (1e400 would be inf)
    name = order.client_order_id or order.symbol
    for field, value in (
        ("quantity", order.quantity),
        ("limit_price", order.limit_price),
        ("stop_price", order.stop_price),
    ):
        if value is None and field != "quantity":
            continue
        if not isinstance(value, Decimal) or not value.is_finite() or not 0 < value <= _MAX_MAGNITUDE:
            raise InvalidInputError(
                f"order {name}: {field} must be a positive finite Decimal of at most 1e15, got {value!r}"
            )


def _session_ordinal(ts: pd.Timestamp) -> int:
    # days since 1970-01-01 of ts's UTC date (a naive ts is taken as UTC): cheaper than tz_convert
    return int(ts.value // _NS_PER_DAY)


class ComplianceEngine:
    """Judge orders against a rule set.

    Parameters
    ----------
    rules
        The rules (from `parse_rules` or `load_rules`). An engine keeps its rules: to change
        them, make a new engine (a refused rules file never reaches one).

    Raises
    ------
    InvalidInputError
        If ``rules`` is not a `RuleSet`, or one of its rules has a kind this Bifrost does not know.

    Examples
    --------
    >>> from bifrost.compliance._rules import default_rules
    >>> engine = ComplianceEngine(default_rules())
    >>> [r.id for r in engine.rules.effective("paper", dt.date(2026, 12, 2))][:2]
    ['price_collar', 'max_order_notional']
    """

    __slots__ = ("_kinds", "_plans", "rules")

    def __init__(self, rules: RuleSet) -> None:
        if not isinstance(rules, RuleSet):
            raise InvalidInputError(
                f"ComplianceEngine needs a RuleSet (from parse_rules or load_rules), got {type(rules).__name__}"
            )
        self.rules = rules
        self._kinds: dict[str, RuleKind] = {r.kind: _kind(r) for r in rules.rules}
        self._plans: dict[tuple[str, int], tuple[_Step, ...]] = {}

    def __repr__(self) -> str:
        return f"ComplianceEngine({self.rules.describe()})"

    def plan(self, portfolio: str, day: dt.date) -> tuple[Rule, ...]:
        """Return the rule versions `evaluate` runs for ``portfolio`` on session date ``day``, in order."""
        return tuple(step[0] for step in self._plan(portfolio, (day - _EPOCH).days))

    def _plan(self, portfolio: str, ordinal: int) -> tuple[_Step, ...]:
        key = (portfolio, ordinal)
        found = self._plans.get(key)
        if found is None:
            if len(self._plans) >= _MAX_PLANS:  # a long replay: keep the cache bounded
                self._plans.clear()
            day = _EPOCH + dt.timedelta(days=ordinal)
            found = tuple(
                (rule, kind.gather, kind.decide, rule.severity == "warn")
                for rule in self.rules.effective(portfolio, day)
                if (kind := self._kinds[rule.kind]).stage in ("pre_trade", "both")
            )
            self._plans[key] = found
        return found

    def evaluate(self, order: ProposedOrder, book: BookState, *, stage: Literal["pre_trade"] = "pre_trade") -> Decision:
        """Judge ``order`` against every rule in force on ``book``.

        Parameters
        ----------
        order
            The proposed order (its ``portfolio`` picks the rules).
        book
            The book it would trade in, at the decision's time ``book.ts`` (UTC; naive is
            taken as UTC). The session date is ``book.ts``'s UTC date.
        stage
            ``"pre_trade"``: the rules whose kind runs pre-trade (or both).

        Returns
        -------
        Decision
            ``ts=book.ts``, the rules' hash and one `RuleResult` per rule in force, in file
            order (no results, so a pass, when none is in force).

        Raises
        ------
        InvalidInputError
            If the order and the book are of different portfolios, its quantity, limit or
            stop price is not a positive finite Decimal of at most 1e15, ``book.ts`` is not a
            Timestamp, or ``stage`` is not ``"pre_trade"``.
        """
        if stage != "pre_trade":
            raise InvalidInputError(f"stage must be 'pre_trade' (post-trade rules run in surveil), got {stage!r}")
        if order.portfolio != book.portfolio:
            raise InvalidInputError(
                f"the order is for portfolio {order.portfolio!r} but the book is {book.portfolio!r}"
            )
        _check_order_numbers(order)
        ts = book.ts
        if not isinstance(ts, pd.Timestamp):
            raise InvalidInputError(f"book.ts must be a pandas Timestamp (UTC), got {type(ts).__name__}")
        plan = self._plan(order.portfolio, _session_ordinal(ts))
        measures = Measures(order, book, reference_price(order, book))
        results: list[RuleResult] = []
        for rule, gather, decide, downgrade in plan:
            inputs = gather(rule, order, book, measures)
            verdict, reason = decide(rule, inputs)
            if downgrade and verdict == "block":  # a severity = "warn" rule never blocks (as judge)
                verdict = "warn"
            results.append(
                RuleResult(
                    rule=rule.id,
                    kind=rule.kind,
                    version=rule.version,
                    verdict=verdict,
                    reason=reason,
                    inputs=inputs,
                )
            )
        return Decision(ts=ts, rules_hash=self.rules.hash, results=tuple(results))
