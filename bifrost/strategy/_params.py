"""Strategy parameters written as text: ``name=value`` pairs and sweep grids.

A command line, a notebook widget or a job file gives parameters as text; this module
reads them once, typed by what the strategy declares (its annotations, else its
defaults), and hands typed values on: an ``int`` parameter takes only an integer literal
(``10``, never ``1e1``, ``10.0`` or ``1_000``), a ``float`` one a finite decimal number,
a ``bool`` one ``true``/``false`` (``yes``/``no``, ``1``/``0``), a ``Literal`` one of its
values. A grid is ``start:stop:step`` (stop included) or ``a,b,c``; an integer range stays
a lazy `range` and a float range a lazy `FloatRange`, so that a sweep counts a huge grid
before it runs it. Bounds (``MAX_PERIOD``, ``MAX_INT_PARAM``, a positive ``size``) are
not checked here: `backtest` and `sweep` check every parameter set once, before any work.

>>> parse_params("sma_cross", ["fast=10", "slow=30"])
{'fast': 10, 'slow': 30}
>>> parse_grid("sma_cross", ["fast=5:15:5", "size=100,200.5"])
{'fast': range(5, 16, 5), 'size': [100.0, 200.5]}
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from bifrost._checks import quote
from bifrost.errors import InvalidInputError
from bifrost.strategy._optimize import FloatRange
from bifrost.strategy._strategies import Strategy, _hints, resolve_strategy, strategy_params

__all__ = ["parse_grid", "parse_params", "parse_value"]

MAX_DIGITS: Final = 100
"""The most digits a number given as text may have (an integer parameter is at most 1e9 anyway)."""

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")

Kind = Literal["int", "float", "bool", "choice", "other"]


def parse_params(strategy: str | Strategy, pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``name=value`` pairs into the strategy's parameters, each of its declared type.

    Parameters
    ----------
    strategy
        A built-in's name (``"sma_cross"``) or a strategy function.
    pairs
        Texts such as ``"fast=10"``; each parameter at most once.

    Returns
    -------
    dict
        Parameter name → typed value (``int``, ``float``, ``bool`` or one of a ``Literal``'s values).

    Raises
    ------
    InvalidInputError
        For a text without ``=``, a parameter the strategy does not take, one given twice,
        or a value that is not of the parameter's type; the message names the parameter.
    """
    name, fn = resolve_strategy(strategy)
    accepted = strategy_params(fn)
    out: dict[str, Any] = {}
    for pair in pairs:
        key, text = _split(name, pair, accepted, what="a parameter is name=value")
        if key in out:
            raise InvalidInputError(f"{name}: parameter {key} is given twice; give each parameter once")
        out[key] = parse_value(fn, key, text)
    return out


def parse_grid(strategy: str | Strategy, specs: Sequence[str]) -> dict[str, Sequence[Any]]:
    """Parse ``name=start:stop:step`` (stop included) or ``name=a,b,c`` into a sweep's space.

    An integer parameter takes an integer range (a lazy `range`) or a list of integers; a
    float parameter a range of numbers (a lazy `FloatRange`) or a list; a ``bool`` or
    ``Literal`` parameter a list of its values.

    Raises
    ------
    InvalidInputError
        For a parameter the strategy does not take or given twice, a value not of the
        parameter's type (``fast=5.5:9:1`` for an integer), or a range without
        ``step > 0`` and ``stop >= start``.
    """
    name, fn = resolve_strategy(strategy)
    accepted = strategy_params(fn)
    space: dict[str, Sequence[Any]] = {}
    for spec in specs:
        key, text = _split(name, spec, accepted, what="a grid is name=start:stop:step or name=a,b,c")
        if key in space:
            raise InvalidInputError(f"{name}: {key} is given twice in the grid; give it once")
        if ":" in text:
            space[key] = _range(name, fn, key, text)
        else:
            space[key] = [parse_value(fn, key, part) for part in text.split(",")]
    return space


def parse_value(strategy: str | Strategy, name: str, text: str) -> Any:
    """Parse one parameter's value from text, by the type the strategy declares for it.

    Raises
    ------
    InvalidInputError
        Naming the strategy and the parameter, what it takes and what arrived.
    """
    label, fn = resolve_strategy(strategy)
    accepted = strategy_params(fn)
    if name not in accepted:
        raise InvalidInputError(f"{label} takes no parameter {name!r}; it takes {sorted(accepted)}")
    kind, choices = _kind(fn, name, accepted[name].default)
    raw = text.strip()
    if kind == "choice":
        for choice in choices:
            if raw == str(choice):
                return choice
        raise InvalidInputError(f"{label}: parameter {name} must be one of {list(choices)}, got {quote(text)}")
    if kind == "bool":
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise InvalidInputError(f"{label}: parameter {name} must be bool (true or false), got {quote(text)}")
    if kind == "int":
        return _int(label, name, raw, text)
    if kind == "float":
        return _float(label, name, raw, text)
    raise InvalidInputError(f"{label}: parameter {name} cannot be given as text; pass it from Python")


def _split(strategy: str, text: str, accepted: Mapping[str, Any], *, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InvalidInputError(f"{strategy}: {what}, got {quote(text)}")
    if key not in accepted:
        raise InvalidInputError(f"{strategy} takes no parameter {key!r}; it takes {sorted(accepted)}")
    return key, value


def _kind(fn: Strategy, name: str, default: Any) -> tuple[Kind, tuple[Any, ...]]:
    # the annotation decides; a strategy without resolvable hints falls back on its default
    hint = _hints(fn).get(name)
    members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    members = tuple(m for m in members if m is not type(None))
    choices = tuple(c for m in members if typing.get_origin(m) is Literal for c in typing.get_args(m))
    if choices:
        return "choice", choices
    if bool in members or (hint is None and isinstance(default, bool)):
        return "bool", ()
    if int in members or (hint is None and isinstance(default, int) and not isinstance(default, bool)):
        return "int", ()
    if float in members or (hint is None and (default is None or isinstance(default, float))):
        return "float", ()
    return "other", ()


def _int(strategy: str, name: str, raw: str, text: str) -> int:
    if _INT.fullmatch(raw) is None:
        raise InvalidInputError(f"{strategy}: parameter {name} must be int (digits only), got {quote(text)}")
    if len(raw.lstrip("+-")) > MAX_DIGITS:
        raise InvalidInputError(
            f"{strategy}: parameter {name} must be int of at most {MAX_DIGITS} digits, got {quote(text)}"
        )
    return int(raw)


def _float(strategy: str, name: str, raw: str, text: str) -> float:
    if _FLOAT.fullmatch(raw) is None or len(raw) > MAX_DIGITS:
        raise InvalidInputError(f"{strategy}: parameter {name} must be float (a decimal number), got {quote(text)}")
    value = float(raw)
    if not math.isfinite(value):
        raise InvalidInputError(f"{strategy}: parameter {name} must be a finite number, got {quote(text)}")
    return value


def _range(strategy: str, fn: Strategy, name: str, text: str) -> Sequence[Any]:
    parts = text.split(":")
    if len(parts) != 3:
        raise InvalidInputError(f"{strategy}: a range is start:stop:step, got {name}={quote(text)}")
    kind, _ = _kind(fn, name, strategy_params(fn)[name].default)
    if kind == "int":
        if not all(_INT.fullmatch(p.strip()) for p in parts):
            raise InvalidInputError(f"{strategy}: parameter {name} must be int, got the range {quote(text)}")
        start, stop, step = (_int(strategy, name, p.strip(), text) for p in parts)
        _check_range(strategy, name, text, start, stop, step)
        return range(start, stop + 1, step)  # counted exactly, however long
    if kind != "float":
        raise InvalidInputError(f"{strategy}: parameter {name} takes a list a,b,c, not the range {quote(text)}")
    a, b, step_f = (_float(strategy, name, p.strip(), text) for p in parts)
    _check_range(strategy, name, text, a, b, step_f)
    steps = (b - a) / step_f
    if not math.isfinite(steps):
        raise InvalidInputError(f"{strategy}: the range {name}={quote(text)} has more values than can be counted")
    return FloatRange(a, step_f, math.floor(steps + 1e-9) + 1)


def _check_range(strategy: str, name: str, text: str, start: float, stop: float, step: float) -> None:
    if step <= 0 or stop < start:
        raise InvalidInputError(f"{strategy}: a range needs step > 0 and stop >= start, got {name}={quote(text)}")
