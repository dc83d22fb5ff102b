"""The boundary checks every public function uses: numbers, options, timestamps, symbols, prices, decimals.

Each check takes the value and the name of the field it came from, and either returns the
value in its canonical form or raises `InvalidInputError` naming the field, what arrived
(quoted, at most ``QUOTE_CHARS`` characters of it) and what is allowed.

The rules, stated once:

- **Numbers** are real numbers that are not booleans: ``int``, ``float``, `decimal.Decimal`,
  `fractions.Fraction` and numpy's integer and floating scalars. ``True`` is not 1 and text
  is not a number here (parse at the edge that reads text). A *finite float* is such a
  number that converts to a finite float64 (``1e308`` is one, ``1e309``, NaN and ``10**400``
  are not); a *fraction* is a finite float strictly inside ``(0, 1)`` whose complement
  ``1 − x`` is too (``1 − 1e-320`` rounds to 1.0), or in ``[0, 1]`` when the interval is
  closed; a *positive integer* is an ``int`` or numpy integer (never a float, even ``5.0``).
- **Options** that a `typing.Literal` names are one of its values, compared exactly.
- **Float arrays** are 1-D float64 arrays built from anything numpy reads as numbers (not text).
- **Timestamps** are UTC (a naive value means UTC) and lie in ``1678-01-01 … 2261-12-31``,
  the dates a nanosecond timestamp can hold (pandas' range, about 1677-09-21 … 2262-04-11,
  rounded in to whole years).
- **Symbols** are 1–32 characters: ASCII letters, digits and ``. / ^ - = _ : & $ # ! ~ + @``;
  the first is a letter, a digit, or one of ``^ $ . / _ # ! ~ &`` (never ``= + - @``, which
  a spreadsheet runs as a formula). Case is kept as given: ``BRK/B``, ``BRK.B``, ``BF-B``,
  ``^GSPC``, ``ES=F`` are symbols; a space, a TAB, a comma, a quote or a NUL is not.
- **Prices** are finite and in ``[1e-8, 1e9]`` (sub-penny crypto to hyperinflation
  quotes; BRK.A is about 7e5); **volumes** finite and in ``[0, 1e15]`` shares.
- **Decimals** (quantities, prices, cash amounts on a ledger entry) are finite, zero or
  between ``1e-18`` and ``1e15`` in magnitude, with at most 28 significant digits (the
  decimal context's precision, so sums and products of them are exact). Products and
  quotients of such numbers stay far inside the context's exponent range, so the ledger's
  arithmetic never raises `decimal.Overflow`.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar, cast

import numpy as np
import pandas as pd

from bifrost.errors import InvalidInputError

if TYPE_CHECKING:
    from bifrost._typing import FloatArray

__all__ = [
    "DECIMAL_MAX",
    "DECIMAL_MIN",
    "PRICE_MAX",
    "PRICE_MIN",
    "QUOTE_CHARS",
    "SYMBOL_MAX_LEN",
    "TS_MAX",
    "TS_MIN",
    "VOLUME_MAX",
    "as_bounded_decimal",
    "as_choice",
    "as_finite_float",
    "as_float_array_1d",
    "as_fraction",
    "as_positive_int",
    "as_price",
    "as_utc_index",
    "as_utc_ns",
    "as_utc_timestamp",
    "as_volume",
    "check_symbol",
    "check_symbols",
    "compatible_positional",
    "deprecated_positional",
    "escape_csv_cell",
    "finite_in_range",
    "is_number",
    "quote",
    "symbol_problem",
]

QUOTE_CHARS: Final = 80
TS_MIN: Final = pd.Timestamp("1678-01-01", tz="UTC")
TS_MAX: Final = pd.Timestamp("2261-12-31 23:59:59.999999999", tz="UTC")
_TS_RANGE_TEXT: Final = "1678-01-01 to 2261-12-31"
_TS_MAX_TEXT_LEN: Final = 64  # the longest ISO 8601 timestamp with a zone is ~35 characters

SYMBOL_MAX_LEN: Final = 32
_SYMBOL_FIRST: Final = "A-Za-z0-9^$./_#!~&"
_SYMBOL_REST: Final = _SYMBOL_FIRST + r"\-=:+@"
_SYMBOL_RE: Final = re.compile(rf"[{_SYMBOL_FIRST}][{_SYMBOL_REST}]{{0,{SYMBOL_MAX_LEN - 1}}}")
_SYMBOL_RULE: Final = (
    f"1-{SYMBOL_MAX_LEN} characters: ASCII letters, digits and . / ^ - = _ : & $ # ! ~ + @, "
    "not starting with = + - @ (e.g. BRK.B, BRK/B, ^GSPC)"
)

PRICE_MIN: Final = 1e-8
PRICE_MAX: Final = 1e9
VOLUME_MAX: Final = 1e15
DECIMAL_MAX: Final = Decimal("1e15")
DECIMAL_MIN: Final = Decimal("1e-18")
_DECIMAL_DIGITS: Final = 28
_DECIMAL_TEXT_LEN: Final = 64

_T = TypeVar("_T")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters with an ellipsis, for messages."""
    text = value if isinstance(value, str) else None
    if text is not None and len(text) > limit:
        # cut before repr so that a 5 MB string is never copied whole
        return repr(text[:limit]) + f"… ({len(text):,} characters)"
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


# -- numbers and options ---------------------------------------------------------------------
def is_number(value: object) -> bool:
    """Return whether ``value`` is a real number and not a bool (nor a numpy bool).

    Examples
    --------
    >>> [is_number(v) for v in (1, 2.5, Decimal("0.1"), np.int64(3), np.float32(0.5))]
    [True, True, True, True, True]
    >>> [is_number(v) for v in (True, np.bool_(False), "1", None, 1j)]
    [False, False, False, False, False]
    """
    return isinstance(value, numbers.Real | Decimal) and not isinstance(value, bool | np.bool_)


def _float(value: Any) -> float:
    # a number as a float; one too large for float64 (10**400) is infinite
    try:
        return float(value)
    except OverflowError:
        return math.inf


def as_finite_float(value: object, name: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """Return ``value`` as a finite float in ``[minimum, maximum]`` (either bound optional).

    Raises
    ------
    InvalidInputError
        If it is not a number (a bool, text, None), is NaN or infinite (or too large for a
        float: ``10**400``, ``Decimal("1e400")``), or lies outside the bounds.

    Examples
    --------
    >>> as_finite_float(Decimal("0.25"), "threshold", minimum=0.0)
    0.25
    >>> as_finite_float(float("nan"), "threshold")
    Traceback (most recent call last):
    ...
    bifrost.errors.InvalidInputError: threshold must be a finite number, got nan
    """
    if not is_number(value):
        raise InvalidInputError(f"{name} must be a number, got {type(value).__name__} {quote(value)}")
    out = _float(value)
    if not math.isfinite(out):
        raise InvalidInputError(f"{name} must be a finite number, got {quote(value)}")
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        if minimum is not None and maximum is not None:
            rule = f"between {minimum:g} and {maximum:g}"
        else:
            rule = f"at least {minimum:g}" if minimum is not None else f"at most {maximum:g}"
        raise InvalidInputError(f"{name} must be {rule}, got {quote(value)}")
    return out


def as_fraction(value: object, name: str, *, open_interval: bool = True) -> float:
    """Return ``value`` as a float in ``(0, 1)`` (a confidence, a decay), or ``[0, 1]`` if not ``open_interval``.

    In the open interval ``1 − value`` must be in ``(0, 1)`` as well: it is the tail's
    probability, and ``1 − 1e-320`` is 1.0 in floating point.

    Examples
    --------
    >>> as_fraction(0.99, "confidence")
    0.99
    >>> as_fraction(1.0, "confidence")
    Traceback (most recent call last):
    ...
    bifrost.errors.InvalidInputError: confidence must be in (0, 1), got 1.0
    >>> as_fraction(1, "drawdown", open_interval=False)
    1.0
    """
    interval = "(0, 1)" if open_interval else "[0, 1]"
    out = _float(value) if is_number(value) else math.nan
    inside = 0.0 < out < 1.0 and 0.0 < 1.0 - out < 1.0 if open_interval else 0.0 <= out <= 1.0
    if not inside:
        raise InvalidInputError(f"{name} must be in {interval}, got {quote(value)}")
    return out


def as_positive_int(
    value: object,
    name: str,
    *,
    maximum: int | None = None,
    minimum: int = 1,
    unit: str = "",
    why: str = "",
    kind: str = "an integer",
) -> int:
    """Return ``value`` as an ``int`` in ``[minimum, maximum]``: an int or numpy integer, never a bool or a float.

    ``maximum`` None is no upper bound (give one wherever the value sizes memory or time).

    ``unit`` follows the range in the message (``trading days``), ``why`` is said in
    parentheses after it (why the bound is where it is); ``kind`` names what is expected
    (``a whole number of bars``).

    Examples
    --------
    >>> as_positive_int(np.int64(10), "horizon_days", maximum=250)
    10
    >>> as_positive_int(5.0, "window", maximum=1_000, unit="days")
    Traceback (most recent call last):
    ...
    bifrost.errors.InvalidInputError: window must be an integer from 1 to 1,000 days, got 5.0
    """
    out = int(value) if isinstance(value, int | np.integer) and not isinstance(value, bool) else None
    if out is None or out < minimum or (maximum is not None and out > maximum):
        suffix = (f" {unit}" if unit else "") + (f" ({why})" if why else "")
        rule = f">= {minimum:,}" if maximum is None else f"from {minimum:,} to {maximum:,}"
        raise InvalidInputError(f"{name} must be {kind} {rule}{suffix}, got {quote(value)}")
    return out


def as_choice(value: object, name: str, choices: Sequence[_T]) -> _T:
    """Return ``value`` if it is one of ``choices`` (``typing.get_args`` of a ``Literal``).

    Examples
    --------
    >>> as_choice("t", "distribution", ("normal", "t"))
    't'
    >>> as_choice("T", "distribution", ("normal", "t"))
    Traceback (most recent call last):
    ...
    bifrost.errors.InvalidInputError: distribution must be one of 'normal', 't'; got 'T'
    """
    for choice in choices:
        # a str subclass (an Enum of the choices) matches its text; True is not the choice 1
        same_kind = isinstance(value, type(choice)) and isinstance(value, bool) == isinstance(choice, bool)
        if same_kind and value == choice:
            return choice
    listed = ", ".join(repr(c) for c in choices)
    raise InvalidInputError(f"{name} must be one of {listed}; got {quote(value)}")


def as_float_array_1d(values: Any, name: str, *, min_obs: int = 1) -> FloatArray:
    """Convert ``values`` to a 1-D float64 array, or raise InvalidInputError naming ``name``.

    Text is not a number here (``"1"`` is refused: parse at the edge that reads text), and
    an integer beyond float64's range is refused rather than raising OverflowError.
    Non-finite values pass: the caller states whether NaN or inf mean something to it.

    Examples
    --------
    >>> as_float_array_1d([1, 2.5], "returns")
    array([1. , 2.5])
    >>> as_float_array_1d([[1.0]], "returns")
    Traceback (most recent call last):
    ...
    bifrost.errors.InvalidInputError: returns must be 1-D, got shape (1, 1)
    """
    if isinstance(values, str | bytes):
        raise InvalidInputError(f"{name} must be numeric, got {type(values).__name__}")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(f"{name} must be numeric, got {type(values).__name__}") from exc
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_obs:
        raise InvalidInputError(f"{name} needs at least {min_obs} observations, got {arr.size}")
    return arr


# -- keyword-only options ----------------------------------------------------------------------
def deprecated_positional(*names: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Let the keyword-only options ``names`` still be passed by position, with a DeprecationWarning.

    For one release after an option became keyword-only (STYLE.md: options after the
    data argument are keyword-only), a call that passes it by position keeps working and
    warns, naming the options to write as keywords. ``names`` are the options in their
    old positional order.

    Examples
    --------
    >>> @deprecated_positional("confidence")
    ... def f(returns, *, confidence=0.99):
    ...     return confidence
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f([0.01], 0.95), str(caught[0].message)
    (0.95, 'f(): pass confidence by keyword (confidence=0.95); options by position stop working in the next release')
    """

    return _positional(names, warn=True)


def compatible_positional(*names: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Let the keyword-only options ``names`` be passed by position too, silently, as a reference API does.

    For functions whose signature is another library's (``bifrost.analytics`` is a drop-in
    for empyrical, whose options are positional): a call written for that library keeps
    working unchanged, and bifrost's own code still passes them by keyword.

    Examples
    --------
    >>> @compatible_positional("cutoff")
    ... def f(returns, *, cutoff=0.05):
    ...     return cutoff
    >>> f([0.01], 0.1), f([0.01], cutoff=0.2)
    (0.1, 0.2)
    """
    return _positional(names, warn=False)


def _positional(names: tuple[str, ...], *, warn: bool) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        n = sum(1 for p in inspect.signature(func).parameters.values() if p.kind in kinds)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> _R:
            if len(args) > n:
                extra = args[n:]
                if len(extra) > len(names):
                    raise TypeError(
                        f"{func.__name__}() takes {n + len(names)} positional arguments but {len(args)} were given"
                    )
                moved = dict(zip(names, extra, strict=False))
                twice = [k for k in moved if k in kwargs]
                if twice:
                    raise TypeError(f"{func.__name__}() got multiple values for argument {twice[0]!r}")
                if warn:
                    written = ", ".join(f"{k}={v!r}" for k, v in moved.items())
                    warnings.warn(
                        f"{func.__name__}(): pass {', '.join(moved)} by keyword ({written}); "
                        "options by position stop working in the next release",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                args, kwargs = args[:n], {**kwargs, **moved}
            return func(*args, **kwargs)

        return cast("Callable[_P, _R]", wrapper)

    return decorate


# -- timestamps ----------------------------------------------------------------------------
def as_utc_timestamp(value: object, name: str) -> pd.Timestamp:
    """Convert a date-like to a UTC `pandas.Timestamp` in the supported range.

    Parameters
    ----------
    value
        A string (ISO 8601 such as ``2014-01-31`` or ``2014-01-31T09:30:00-05:00``), a
        `datetime`, a `date`, a `pandas.Timestamp` or a `numpy.datetime64`. Naive means UTC.
    name
        The field's name, used in the message (``start``, ``--end``, ``ts``, ...).

    Returns
    -------
    pandas.Timestamp
        Timezone-aware, UTC, between `TS_MIN` and `TS_MAX`.

    Raises
    ------
    InvalidInputError
        If the value is not a date, is NaT, or lies outside 1678-01-01 … 2261-12-31.

    Examples
    --------
    >>> as_utc_timestamp("2014-01-31", "start")
    Timestamp('2014-01-31 00:00:00+0000', tz='UTC')
    >>> as_utc_timestamp("1600-01-01", "start")
    Traceback (most recent call last):
    ...
    bifrost.errors.InvalidInputError: start must be a date from 1678-01-01 to 2261-12-31, got '1600-01-01'
    """
    if isinstance(value, bool) or not isinstance(value, str | datetime | date | np.datetime64):
        raise InvalidInputError(f"{name} must be a date such as 2014-01-31, got {type(value).__name__} {quote(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > _TS_MAX_TEXT_LEN:
            raise InvalidInputError(f"{name} must be a date such as 2014-01-31, got {quote(value)}")
        candidate: object = text
    else:
        candidate = value
    try:
        ts = pd.Timestamp(candidate)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as exc:
        # OutOfBoundsDatetime is a ValueError: the date is well-formed but unrepresentable
        if isinstance(exc, pd.errors.OutOfBoundsDatetime | OverflowError):
            raise InvalidInputError(f"{name} must be a date from {_TS_RANGE_TEXT}, got {quote(value)}") from None
        raise InvalidInputError(f"{name} must be a date such as 2014-01-31, got {quote(value)}") from None
    if pd.isna(ts):
        raise InvalidInputError(f"{name} must be a date such as 2014-01-31, got {quote(value)}")
    try:
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        inside = TS_MIN <= ts <= TS_MAX
    except (ValueError, OverflowError):
        inside = False
    if not inside:
        raise InvalidInputError(f"{name} must be a date from {_TS_RANGE_TEXT}, got {quote(value)}")
    return ts


def as_utc_index(values: pd.Index | pd.Series) -> pd.DatetimeIndex:
    """Return date-times (an index or a column) as a UTC nanosecond `pandas.DatetimeIndex`; naive means UTC.

    The vector form of `as_utc_timestamp` for values already known to be dates (an index
    the caller checked): the same instants, on the UTC clock.

    Examples
    --------
    >>> as_utc_index(pd.DatetimeIndex(["2014-01-31 09:30"], tz="America/New_York"))[0]
    Timestamp('2014-01-31 14:30:00+0000', tz='UTC')
    """
    stamps = pd.DatetimeIndex(values)
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    return stamps.as_unit("ns")


def as_utc_ns(value: object, name: str) -> int:
    """Return `as_utc_timestamp` as int64 nanoseconds since the epoch."""
    return int(as_utc_timestamp(value, name).as_unit("ns").value)


# -- symbols ---------------------------------------------------------------------------------
def symbol_problem(value: object) -> str | None:
    """Return why ``value`` is not a valid symbol, or None if it is one."""
    if not isinstance(value, str):
        return f"a symbol must be text, got {type(value).__name__}"
    if not value:
        return "a symbol must not be empty"
    if len(value) > SYMBOL_MAX_LEN:
        return f"a symbol has at most {SYMBOL_MAX_LEN} characters, got {len(value):,}"
    if _SYMBOL_RE.fullmatch(value) is None:
        return f"a symbol is {_SYMBOL_RULE}"
    return None


def check_symbol(value: object, name: str = "symbol") -> str:
    """Return ``value`` if it is a valid symbol, else raise InvalidInputError naming ``name``.

    Examples
    --------
    >>> check_symbol("BRK/B")
    'BRK/B'
    """
    problem = symbol_problem(value)
    if problem is not None:
        raise InvalidInputError(f"{name} {quote(value)} is not a valid symbol: {problem}")
    return value  # type: ignore[return-value]


def check_symbols(values: object, name: str = "symbols") -> list[str]:
    """Check a string or a sequence of strings; return them as a list."""
    if isinstance(values, str):  # one symbol: named in the singular ("symbol 'X' is not ...")
        return [check_symbol(values, name.removesuffix("s"))]
    if isinstance(values, bytes | bytearray | Mapping) or not isinstance(values, Iterable):
        raise InvalidInputError(f"{name} must be a symbol or a list of symbols, got {type(values).__name__}")
    return [check_symbol(v, name) for v in values]


def escape_csv_cell(value: object) -> object:
    """Prefix ``'`` to text a spreadsheet would run as a formula (OWASP CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# -- floats ------------------------------------------------------------------------------------
def finite_in_range(value: object, name: str, *, lo: float, hi: float, unit: str = "") -> float:
    """Return ``value`` as a float if it is finite and in ``[lo, hi]``; else InvalidInputError."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(f"{name} must be a number, got {quote(value)}") from None
    if not math.isfinite(out):
        raise InvalidInputError(f"{name} must be a finite number, got {quote(value)}")
    if not lo <= out <= hi:
        suffix = f" {unit}" if unit else ""
        raise InvalidInputError(f"{name} must be between {lo:g} and {hi:g}{suffix}, got {quote(value)}")
    return out


def as_price(value: object, name: str = "price") -> float:
    """Return a plausible price: finite, in ``[PRICE_MIN, PRICE_MAX]``."""
    return finite_in_range(value, name, lo=PRICE_MIN, hi=PRICE_MAX)


def as_volume(value: object, name: str = "volume") -> float:
    """Return a plausible volume: finite, in ``[0, VOLUME_MAX]``."""
    return finite_in_range(value, name, lo=0.0, hi=VOLUME_MAX, unit="shares")


# -- decimals ---------------------------------------------------------------------------------
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def as_bounded_decimal(value: object, name: str) -> Decimal:
    """Convert a number to Decimal (floats by their shortest repr) within the ledger's bounds.

    Raises
    ------
    InvalidInputError
        If it is not a number, not finite, not zero and outside ``1e-18 … 1e15`` in
        magnitude, or has more than 28 significant digits.

    Examples
    --------
    >>> as_bounded_decimal("1e999999", "quantity")
    Traceback (most recent call last):
    ...
    bifrost.errors.InvalidInputError: quantity must be at most 1e15 in magnitude, got '1e999999'
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
        out = Decimal(repr(float(value)))
    elif isinstance(value, int | np.integer):
        if abs(int(value)) > DECIMAL_MAX:
            raise InvalidInputError(f"{name} must be at most 1e15 in magnitude, got {quote(value)}")
        out = Decimal(int(value))
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _DECIMAL_TEXT_LEN:
            raise InvalidInputError(
                f"{name} must be a number of at most {_DECIMAL_TEXT_LEN} characters, got {quote(value)}"
            )
        try:
            out = Decimal(text)
        except (InvalidOperation, ValueError):
            raise InvalidInputError(f"{name} must be a number, got {quote(value)}") from None
        if out.is_finite() and not _PLAIN_DECIMAL.fullmatch(text):
            # Decimal also reads other scripts' digits and '_' groups ('١٠', '１０', '1_0'): no market writes those
            raise InvalidInputError(
                f"{name} must be a plain number (digits 0-9, an optional '.' and exponent), got {quote(value)}"
            )
    else:
        raise InvalidInputError(f"{name} must be a number, got {type(value).__name__} {quote(value)}")
    if not out.is_finite():
        raise InvalidInputError(f"{name} must be a finite number, got {quote(value)}")
    if out.is_zero():
        return out
    if out.adjusted() > 15 or abs(out) > DECIMAL_MAX:
        raise InvalidInputError(f"{name} must be at most 1e15 in magnitude, got {quote(value)}")
    if abs(out) < DECIMAL_MIN:
        raise InvalidInputError(f"{name} must be 0 or at least 1e-18 in magnitude, got {quote(value)}")
    if len(out.as_tuple().digits) > _DECIMAL_DIGITS:
        raise InvalidInputError(f"{name} must have at most {_DECIMAL_DIGITS} significant digits, got {quote(value)}")
    return out
