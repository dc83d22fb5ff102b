"""What a strategy declares about its parameters: the constraints a set must meet, the warm-up it needs.

A strategy function may carry a declaration, made with :func:`declare`:

>>> from bifrost.strategy import Signals
>>> @declare("fast < slow", warmup=lambda p: max(p["fast"], p["slow"]))
... def my_cross(panel, *, fast: int = 10, slow: int = 30) -> Signals:
...     ...
>>> violated_constraints(my_cross, {"fast": 40, "slow": 20})
(Constraint('fast < slow'),)
>>> required_warmup(my_cross, {"slow": 200})
200

A **constraint** is ``name op name`` or ``name op number`` with ``op`` one of ``<``,
``<=``, ``>``, ``>=``, ``!=``, checked on the parameters as the strategy would see them
(its defaults filled in). `backtest` refuses a set that violates one; a sweep skips it and
counts it (`SweepResult.skipped`). The **warm-up** is the number of bars the strategy's
indicators need before its first signal can be trusted (``slow`` bars for an SMA cross):
`walk_forward` feeds that many bars before each out-of-sample window by default. A
strategy that declares nothing has no constraints and a warm-up of 0.
"""

from __future__ import annotations

import inspect
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import numpy as np

from bifrost._checks import is_number
from bifrost.errors import InvalidInputError

__all__ = ["Constraint", "StrategyDeclaration", "declaration", "declare", "required_warmup", "violated_constraints"]

_F = TypeVar("_F", bound=Callable[..., Any])
_ATTRIBUTE: Final = "__bifrost_declaration__"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_RULE = re.compile(rf"\s*({_NAME})\s*(<=|>=|!=|<|>)\s*({_NAME}|{_NUMBER})\s*")
Operator = Literal["<", "<=", ">", ">=", "!="]
_OPS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "!=": operator.ne,
}  # fmt: skip
MAX_WARMUP: Final = 1_000_000
"""The largest warm-up, in bars, a declaration may ask for (as MAX_PERIOD bounds an indicator's period)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraint:
    """``left op right``: a rule a parameter set must meet (``right`` a parameter's name or a number)."""

    left: str
    op: Operator
    right: str | float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Read ``"fast < slow"`` or ``"period >= 2"``.

        Raises
        ------
        InvalidInputError
            If the text is not ``name op name`` or ``name op number``.
        """
        match = _RULE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidInputError(
                f"a constraint is 'name op name' or 'name op number' with op one of < <= > >= !=, got {text!r}"
            )
        left, op, right = match.groups()
        value: str | float = right if re.fullmatch(_NAME, right) else float(right)
        return cls(left=left, op=op, right=value)  # type: ignore[arg-type]  # the pattern admits only these

    @property
    def names(self) -> tuple[str, ...]:
        """The parameters the rule reads."""
        return (self.left, self.right) if isinstance(self.right, str) else (self.left,)

    def holds(self, params: Mapping[str, Any]) -> bool:
        """Return whether ``params`` meet the rule; a rule on a parameter that is not a number holds."""
        a = params.get(self.left)
        b = params.get(self.right) if isinstance(self.right, str) else self.right
        if not (is_number(a) and is_number(b)):
            return True
        return _OPS[self.op](a, b)

    def __str__(self) -> str:
        right = self.right if isinstance(self.right, str) else f"{self.right:g}"
        return f"{self.left} {self.op} {right}"

    def __repr__(self) -> str:
        return f"Constraint({str(self)!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyDeclaration:
    """A strategy's constraints and the warm-up (bars) its parameters need."""

    constraints: tuple[Constraint, ...] = ()
    warmup: Callable[[Mapping[str, Any]], int] | None = None


_NOTHING = StrategyDeclaration()


def declare(*constraints: str, warmup: Callable[[Mapping[str, Any]], int] | None = None) -> Callable[[_F], _F]:
    """Declare a strategy's parameter constraints and warm-up; return the function unchanged otherwise.

    Parameters
    ----------
    *constraints
        Rules such as ``"fast < slow"``, each on the strategy's keyword parameters.
    warmup
        A function of the parameters (a dict, the strategy's defaults filled in) returning
        the bars of history the strategy needs before its first trustworthy signal.

    Raises
    ------
    InvalidInputError
        If a rule is malformed or names a parameter the strategy does not take, or
        ``warmup`` is not callable.
    """
    rules = tuple(Constraint.parse(c) for c in constraints)
    if warmup is not None and not callable(warmup):
        raise InvalidInputError(f"warmup must be a function of the parameters, got {type(warmup).__name__}")

    def decorate(fn: _F) -> _F:
        name = getattr(fn, "__name__", "strategy")
        accepted = _keywords(fn)
        for rule in rules:
            unknown = [n for n in rule.names if n not in accepted]
            if unknown:
                raise InvalidInputError(
                    f"{name}: the constraint {rule} names {', '.join(map(repr, unknown))}, which it does not take; "
                    f"it takes {sorted(accepted)}"
                )
        setattr(fn, _ATTRIBUTE, StrategyDeclaration(constraints=rules, warmup=warmup))
        return fn

    return decorate


def declaration(strategy: Callable[..., Any]) -> StrategyDeclaration:
    """Return what ``strategy`` declares (nothing: no constraints, no warm-up)."""
    found = getattr(strategy, _ATTRIBUTE, None)
    return found if isinstance(found, StrategyDeclaration) else _NOTHING


def _keywords(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    return {n: p for n, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _effective(strategy: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    # the parameters as the strategy sees them: its defaults, then what was given
    defaults = {n: p.default for n, p in _keywords(strategy).items() if p.default is not inspect.Parameter.empty}
    return {**defaults, **params}


def violated_constraints(strategy: Callable[..., Any], params: Mapping[str, Any]) -> tuple[Constraint, ...]:
    """Return the declared constraints ``params`` (with the strategy's defaults) violate."""
    rules = declaration(strategy).constraints
    if not rules:
        return ()
    full = _effective(strategy, params)
    return tuple(rule for rule in rules if not rule.holds(full))


def required_warmup(strategy: Callable[..., Any], params: Mapping[str, Any]) -> int:
    """Return the bars of history ``strategy`` declares it needs with ``params`` (0 if it declares none).

    Raises
    ------
    InvalidInputError
        If the declared warm-up function fails or returns anything but a whole number
        of bars from 0 to ``MAX_WARMUP``.
    """
    found = declaration(strategy).warmup
    if found is None:
        return 0
    name = getattr(strategy, "__name__", "strategy")
    try:
        bars = found(_effective(strategy, params))
    except Exception as exc:  # a user's function: its failure is a bad declaration, named
        raise InvalidInputError(f"{name}: its declared warm-up failed on {dict(params)}: {exc}") from exc
    if isinstance(bars, bool | np.bool_) or not isinstance(bars, int | np.integer) or not 0 <= bars <= MAX_WARMUP:
        raise InvalidInputError(
            f"{name}: its declared warm-up must be a whole number of bars from 0 to {MAX_WARMUP:,}, got {bars!r}"
        )
    return int(bars)
