"""Technical indicators with backtrader's definitions, warm-ups and rounding, compiled with numba.

Every indicator takes float64 arrays, 1-D (one series) or 2-D (time × symbols, each column
independent), and returns arrays of the same shape with NaN during the warm-up.

Parity with backtrader is bit-for-bit by construction, not by tolerance:

* backtrader sums each moving window with ``math.fsum`` (the correctly rounded sum). A
  running sum drifts by a few ulps, and on real data two moving averages that are exactly
  equal in backtrader come out 2e-14 apart, which moves a crossover by a day. The rolling
  sums here are kept in double-double precision (an error term per sum, Dekker/Knuth
  two-sum), which reproduces ``fsum`` at about four times the cost of a plain sum.
* Recursive averages (EMA, Wilder's smoothing) are seeded with the simple average of the
  first ``period`` values and updated as ``prev * (1 - alpha) + x * alpha`` in that order.

A NaN in the input (a symbol not yet listed, a missing bar) restarts the warm-up after it;
backtrader has no notion of a missing value.

References
----------
backtrader 1.9.78 ``indicators/`` (sma, ema, wma, smma, rsi, atr, bollinger, deviation,
macd, stochastic, crossover); J. W. Wilder, *New Concepts in Technical Trading Systems*
(1978); T. J. Dekker, "A floating-point technique for extending the available precision"
(1971).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

import numpy as np
from numba import prange

from bifrost._checks import as_positive_int
from bifrost._jit import njit, ready
from bifrost._typing import FloatArray
from bifrost.errors import InvalidInputError

__all__ = [
    "atr",
    "bollinger",
    "crossover",
    "crossunder",
    "ema",
    "highest",
    "lowest",
    "macd",
    "memoized",
    "rsi",
    "sma",
    "smma",
    "stddev",
    "stochastic",
    "true_range",
    "wma",
    "zscore",
]

_NAN = np.nan


# --- double-double arithmetic (the exact rolling sums) ------------------------------------


@njit(inline="always")
def _dd_add(hi: float, lo: float, x: float) -> tuple[float, float]:
    # (hi, lo) + x with Knuth's two-sum, renormalised so hi = fl(hi + lo)
    s = hi + x
    bb = s - hi
    err = (hi - (s - bb)) + (x - bb)
    err += lo
    new_hi = s + err
    return new_hi, err - (new_hi - s)


@njit()
def _sma_1d(x: FloatArray, period: int, out: FloatArray) -> None:
    hi = 0.0
    lo = 0.0
    run = 0
    n = x.shape[0]
    for i in range(n):
        v = x[i]
        if np.isnan(v):
            hi = 0.0
            lo = 0.0
            run = 0
            out[i] = _NAN
            continue
        hi, lo = _dd_add(hi, lo, v)
        run += 1
        if run > period:
            hi, lo = _dd_add(hi, lo, -x[i - period])
        if run >= period:
            out[i] = (hi + lo) / period
        else:
            out[i] = _NAN


@njit()
def _sum_sq_1d(x: FloatArray, period: int, out: FloatArray) -> None:
    # rolling fsum(x ** 2) / period, as backtrader's SMA(pow(data, 2))
    hi = 0.0
    lo = 0.0
    run = 0
    for i in range(x.shape[0]):
        v = x[i]
        if np.isnan(v):
            hi = 0.0
            lo = 0.0
            run = 0
            out[i] = _NAN
            continue
        hi, lo = _dd_add(hi, lo, v * v)
        run += 1
        if run > period:
            old = x[i - period]
            hi, lo = _dd_add(hi, lo, -(old * old))
        out[i] = (hi + lo) / period if run >= period else _NAN


@njit()
def _smooth_1d(x: FloatArray, period: int, alpha: float, out: FloatArray) -> None:
    # exponential smoothing seeded with the simple average of the first `period` values
    alpha1 = 1.0 - alpha
    hi = 0.0
    lo = 0.0
    run = 0
    prev = _NAN
    for i in range(x.shape[0]):
        v = x[i]
        if np.isnan(v):
            hi = 0.0
            lo = 0.0
            run = 0
            out[i] = _NAN
            continue
        run += 1
        if run < period:
            hi, lo = _dd_add(hi, lo, v)
            out[i] = _NAN
        elif run == period:
            hi, lo = _dd_add(hi, lo, v)
            prev = (hi + lo) / period
            out[i] = prev
        else:
            prev = prev * alpha1 + v * alpha
            out[i] = prev


@njit()
def _wma_1d(x: FloatArray, period: int, out: FloatArray) -> None:
    coef = 2.0 / (period * (period + 1.0))
    run = 0
    for i in range(x.shape[0]):
        if np.isnan(x[i]):
            run = 0
            out[i] = _NAN
            continue
        run += 1
        if run < period:
            out[i] = _NAN
            continue
        hi = 0.0
        lo = 0.0
        for k in range(period):
            hi, lo = _dd_add(hi, lo, x[i - period + 1 + k] * (k + 1.0))
        out[i] = coef * (hi + lo)


@njit()
def _extreme_1d(x: FloatArray, period: int, want_max: bool, out: FloatArray) -> None:
    run = 0
    for i in range(x.shape[0]):
        if np.isnan(x[i]):
            run = 0
            out[i] = _NAN
            continue
        run += 1
        if run < period:
            out[i] = _NAN
            continue
        best = x[i - period + 1]
        for k in range(i - period + 2, i + 1):
            v = x[k]
            if (v > best) if want_max else (v < best):
                best = v
        out[i] = best


@njit()
def _crossover_1d(a: FloatArray, b: FloatArray, out: FloatArray) -> None:
    # backtrader's CrossOver: the previous *non-zero* difference (NonZeroDifference) must
    # have the opposite sign, so touching and leaving does not count as a cross
    have_prev = False
    prev = 0.0
    for i in range(a.shape[0]):
        d = a[i] - b[i]
        if np.isnan(d):
            have_prev = False
            out[i] = _NAN
            continue
        if not have_prev:
            out[i] = _NAN
            prev = d
            have_prev = True
            continue
        if prev < 0.0 and a[i] > b[i]:
            out[i] = 1.0
        elif prev > 0.0 and a[i] < b[i]:
            out[i] = -1.0
        else:
            out[i] = 0.0
        if d != 0.0:
            prev = d


@njit()
def _updown_1d(x: FloatArray, up: FloatArray, down: FloatArray) -> None:
    up[0] = _NAN
    down[0] = _NAN
    for i in range(1, x.shape[0]):
        d = x[i] - x[i - 1]
        up[i] = max(d, 0.0) if not np.isnan(d) else _NAN
        down[i] = max(x[i - 1] - x[i], 0.0) if not np.isnan(d) else _NAN


@njit()
def _true_range_1d(high: FloatArray, low: FloatArray, close: FloatArray, out: FloatArray) -> None:
    out[0] = _NAN
    for i in range(1, close.shape[0]):
        pc = close[i - 1]
        out[i] = max(high[i], pc) - min(low[i], pc)


# --- 2-D drivers: one compiled loop over columns (in parallel) -------------------------


@njit(parallel=True)
def _sma_2d(x: FloatArray, period: int, out: FloatArray) -> None:
    for j in prange(x.shape[1]):
        _sma_1d(x[:, j], period, out[:, j])


@njit(parallel=True)
def _sum_sq_2d(x: FloatArray, period: int, out: FloatArray) -> None:
    for j in prange(x.shape[1]):
        _sum_sq_1d(x[:, j], period, out[:, j])


@njit(parallel=True)
def _smooth_2d(x: FloatArray, period: int, alpha: float, out: FloatArray) -> None:
    for j in prange(x.shape[1]):
        _smooth_1d(x[:, j], period, alpha, out[:, j])


@njit(parallel=True)
def _wma_2d(x: FloatArray, period: int, out: FloatArray) -> None:
    for j in prange(x.shape[1]):
        _wma_1d(x[:, j], period, out[:, j])


@njit(parallel=True)
def _extreme_2d(x: FloatArray, period: int, want_max: bool, out: FloatArray) -> None:
    for j in prange(x.shape[1]):
        _extreme_1d(x[:, j], period, want_max, out[:, j])


@njit(parallel=True)
def _crossover_2d(a: FloatArray, b: FloatArray, out: FloatArray) -> None:
    for j in prange(a.shape[1]):
        _crossover_1d(a[:, j], b[:, j], out[:, j])


@njit(parallel=True)
def _updown_2d(x: FloatArray, up: FloatArray, down: FloatArray) -> None:
    for j in prange(x.shape[1]):
        _updown_1d(x[:, j], up[:, j], down[:, j])


@njit(parallel=True)
def _true_range_2d(high: FloatArray, low: FloatArray, close: FloatArray, out: FloatArray) -> None:
    for j in prange(close.shape[1]):
        _true_range_1d(high[:, j], low[:, j], close[:, j], out[:, j])


# --- boundary ---------------------------------------------------------------------------


def _series(values: Any, name: str) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric, got {type(values).__name__}") from exc
    if arr.ndim not in (1, 2):
        raise InvalidInputError(f"{name} must be 1-D or 2-D (time × symbols), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InvalidInputError(f"{name} is empty")
    return arr


def _same_shape(**arrays: FloatArray) -> None:
    shapes = {name: a.shape for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise InvalidInputError(f"inputs must have the same shape, got {shapes}")


MAX_PERIOD = 100_000
"""The longest period (bars) an indicator takes: about 400 years of daily bars."""
MAX_DEVFACTOR = 100.0
"""The widest Bollinger band, in standard deviations."""


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:40]}… ({len(text)} characters)"


def _period(value: int, name: str = "period") -> int:
    return as_positive_int(value, name, maximum=MAX_PERIOD, kind="a whole number of bars")


def _apply(kernel_1d: Callable[..., None], kernel_2d: Callable[..., None], *args: Any) -> FloatArray:
    # args: input arrays first (same shape), then scalars; output allocated here
    ready()  # the kernels compile on this first call, cached in the user's cache folder
    first = args[0]
    out = np.empty(first.shape, dtype=np.float64, order="F" if first.ndim == 2 else "C")
    if first.ndim == 1:
        kernel_1d(*args, out)
    elif first.shape[1] == 1:
        # one column: the serial kernel (starting the thread pool costs more than the work)
        kernel_1d(*(a[:, 0] if isinstance(a, np.ndarray) else a for a in args), out[:, 0])
    else:
        kernel_2d(*args, out)
    return out


# --- memo: a sweep calls the same SMA for many parameter sets ---------------------------

_P = ParamSpec("_P")
_R = TypeVar("_R")
_MEMO: ContextVar[dict[tuple[Any, ...], tuple[Any, ...]] | None] = ContextVar("bifrost_indicator_memo", default=None)


@contextmanager
def memoized() -> Iterator[None]:
    """Within the block, reuse an indicator already computed on the same array and arguments.

    Sweeps run a strategy once per parameter set; with the memo, ``sma(close, 10)`` is
    computed once however many ``slow`` periods it is paired with. Results handed out
    under the memo are read-only (they are shared).
    """
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def _memo(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        memo = _MEMO.get()
        if memo is None or not all(isinstance(a, np.ndarray | int | float | str) for a in args) or kwargs:
            return fn(*args, **kwargs)
        key = (fn.__name__, *((id(a), a.shape) if isinstance(a, np.ndarray) else (type(a), a) for a in args))
        hit = memo.get(key)
        if hit is None:
            result = fn(*args, **kwargs)
            for part in result if isinstance(result, tuple) else (result,):
                if isinstance(part, np.ndarray):
                    part.setflags(write=False)
            hit = (result, args)  # holding the inputs keeps their ids from being reused
            memo[key] = hit
        return hit[0]  # type: ignore[no-any-return]

    return wrapper


# --- public indicators ----------------------------------------------------------------


@_memo
def sma(close: Any, period: int = 30) -> FloatArray:
    """Return the simple moving average: the correctly rounded window sum over ``period``.

    Parameters
    ----------
    close : array_like
        Prices, 1-D or 2-D (time × symbols).
    period : int, default 30
        Window length (backtrader's default).

    Returns
    -------
    ndarray
        Same shape as ``close``; NaN for the first ``period - 1`` values.

    Examples
    --------
    >>> sma([1.0, 2.0, 3.0, 4.0], 2)
    array([nan, 1.5, 2.5, 3.5])
    """
    x = _series(close, "close")
    return _apply(_sma_1d, _sma_2d, x, _period(period))


@_memo
def ema(close: Any, period: int = 30) -> FloatArray:
    """Return the exponential moving average, alpha = 2 / (1 + period), seeded with the SMA.

    Examples
    --------
    >>> ema([1.0, 2.0, 3.0, 4.0], 2)
    array([nan, 1.5, 2.5, 3.5])
    """
    x = _series(close, "close")
    p = _period(period)
    return _apply(_smooth_1d, _smooth_2d, x, p, 2.0 / (1.0 + p))


@_memo
def smma(close: Any, period: int = 30) -> FloatArray:
    """Return Wilder's smoothed moving average (alpha = 1 / period), seeded with the SMA."""
    x = _series(close, "close")
    p = _period(period)
    return _apply(_smooth_1d, _smooth_2d, x, p, 1.0 / p)


@_memo
def wma(close: Any, period: int = 30) -> FloatArray:
    """Return the linearly weighted moving average (weights 1 … period, newest heaviest).

    Examples
    --------
    >>> wma([1.0, 2.0, 3.0], 2)
    array([       nan, 1.66666667, 2.66666667])
    """
    x = _series(close, "close")
    return _apply(_wma_1d, _wma_2d, x, _period(period))


@_memo
def highest(values: Any, period: int) -> FloatArray:
    """Return the rolling maximum over ``period`` values (backtrader's Highest)."""
    x = _series(values, "values")
    return _apply(_extreme_1d, _extreme_2d, x, _period(period), True)


@_memo
def lowest(values: Any, period: int) -> FloatArray:
    """Return the rolling minimum over ``period`` values (backtrader's Lowest)."""
    x = _series(values, "values")
    return _apply(_extreme_1d, _extreme_2d, x, _period(period), False)


@_memo
def stddev(close: Any, period: int = 20) -> FloatArray:
    """Return the rolling population standard deviation as backtrader computes it.

    ``sqrt(|SMA(x²) − SMA(x)²|)``: the mean of squares minus the squared mean, each an
    exactly rounded window sum (backtrader's ``StdDev`` with ``safepow=True``).
    """
    x = _series(close, "close")
    p = _period(period)
    mean = _apply(_sma_1d, _sma_2d, x, p)
    meansq = _apply(_sum_sq_1d, _sum_sq_2d, x, p)
    result: FloatArray = np.abs(meansq - mean**2) ** 0.5
    return result


@_memo
def zscore(close: Any, period: int = 20) -> FloatArray:
    """Return ``(x − SMA(x)) / StdDev(x)`` over ``period``; NaN where the deviation is zero."""
    x = _series(close, "close")
    p = _period(period)
    mean = _apply(_sma_1d, _sma_2d, x, p)
    sd = stddev(x, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (x - mean) / sd
    result: FloatArray = np.where(sd > 0.0, z, np.nan)
    return result


@_memo
def bollinger(close: Any, period: int = 20, devfactor: float = 2.0) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return Bollinger Bands ``(mid, upper, lower)``: SMA ± devfactor × StdDev.

    Examples
    --------
    >>> mid, upper, lower = bollinger([1.0, 3.0, 1.0, 3.0], 2, 1.0)
    >>> upper[1:], lower[1:]
    (array([3., 3., 3.]), array([1., 1., 1.]))
    """
    x = _series(close, "close")
    p = _period(period)
    if (
        isinstance(devfactor, bool | np.bool_)
        or not isinstance(devfactor, int | float | np.integer | np.floating)
        or not 0.0 < devfactor <= MAX_DEVFACTOR
    ):
        raise InvalidInputError(
            f"devfactor must be a number of standard deviations in (0, {MAX_DEVFACTOR:g}], got {_short_repr(devfactor)}"
        )
    mid = _apply(_sma_1d, _sma_2d, x, p)
    meansq = _apply(_sum_sq_1d, _sum_sq_2d, x, p)
    dev = float(devfactor) * (np.abs(meansq - mid**2) ** 0.5)
    return mid, mid + dev, mid - dev


@_memo
def rsi(close: Any, period: int = 14) -> FloatArray:
    """Return Wilder's Relative Strength Index (0–100), first value at index ``period``.

    ``100 − 100 / (1 + SMMA(up) / SMMA(down))`` with one-bar up/down moves; where the
    average down move is zero the RSI is 100 (backtrader would raise ZeroDivisionError).
    """
    x = _series(close, "close")
    p = _period(period)
    up = np.empty_like(x)
    down = np.empty_like(x)
    ready()
    (_updown_1d if x.ndim == 1 else _updown_2d)(x, up, down)
    maup = _apply(_smooth_1d, _smooth_2d, up, p, 1.0 / p)
    madown = _apply(_smooth_1d, _smooth_2d, down, p, 1.0 / p)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + maup / madown)
    result: FloatArray = np.where((madown == 0.0) & (maup >= 0.0), 100.0, value)
    return result


@_memo
def true_range(high: Any, low: Any, close: Any) -> FloatArray:
    """Return the true range ``max(high, prev close) − min(low, prev close)`` (NaN at index 0)."""
    h, lo, c = _series(high, "high"), _series(low, "low"), _series(close, "close")
    _same_shape(high=h, low=lo, close=c)
    return _apply(_true_range_1d, _true_range_2d, h, lo, c)


@_memo
def atr(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """Return the Average True Range: Wilder's smoothing of the true range over ``period``."""
    p = _period(period)
    tr = true_range(high, low, close)
    return _apply(_smooth_1d, _smooth_2d, tr, p, 1.0 / p)


@_memo
def macd(close: Any, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(macd, signal, histogram)``: EMA(fast) − EMA(slow), its EMA, and their difference."""
    x = _series(close, "close")
    pf, ps, pg = _period(fast, "fast"), _period(slow, "slow"), _period(signal, "signal")
    line = ema(x, pf) - ema(x, ps)
    sig = ema(line, pg)
    return line, sig, line - sig


@_memo
def stochastic(
    high: Any, low: Any, close: Any, period: int = 14, period_dfast: int = 3, period_dslow: int = 3
) -> tuple[FloatArray, FloatArray]:
    """Return the slow stochastic ``(%K, %D)`` as backtrader's ``Stochastic``.

    The raw ``k = 100 (close − lowest low) / (highest high − lowest low)`` over ``period``;
    %K is its SMA over ``period_dfast`` and %D the SMA of %K over ``period_dslow``. A zero
    range gives NaN (backtrader would raise ZeroDivisionError).
    """
    h, lo, c = _series(high, "high"), _series(low, "low"), _series(close, "close")
    _same_shape(high=h, low=lo, close=c)
    p = _period(period)
    hh = highest(h, p)
    ll = lowest(lo, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 100.0 * ((c - ll) / (hh - ll))
    k = np.where(hh - ll == 0.0, np.nan, k)
    pct_k = sma(k, _period(period_dfast, "period_dfast"))
    pct_d = sma(pct_k, _period(period_dslow, "period_dslow"))
    return pct_k, pct_d


@_memo
def crossover(a: Any, b: Any) -> FloatArray:
    """Return +1 where ``a`` crosses above ``b``, −1 where below, else 0 (backtrader's CrossOver).

    A cross needs the last non-zero difference to have the other sign, so a tie followed
    by a move back counts once, when the sign really changes. NaN until both series have
    two values.

    Examples
    --------
    >>> crossover([1.0, 2.0, 3.0, 2.0], [2.0, 2.0, 2.0, 2.5])
    array([nan,  0.,  1., -1.])
    """
    x, y = _series(a, "a"), _series(b, "b")
    _same_shape(a=x, b=y)
    return _apply(_crossover_1d, _crossover_2d, x, y)


@_memo
def crossunder(a: Any, b: Any) -> FloatArray:
    """Return 1 where ``a`` crosses below ``b``, else 0 (NaN in the warm-up)."""
    c = crossover(a, b)
    result: FloatArray = np.where(np.isnan(c), np.nan, (c < 0).astype(np.float64))
    return result
