"""Performance metrics on simple returns: empyrical's names, arguments, conventions and answers.

Every function takes one series (a 1-D array or a pandas Series) or many (a 2-D array,
time × series, or a DataFrame) and computes all columns at once with numpy. What comes
back has the kind of what went in, as empyrical answers (and so pyfolio, which calls it):

- a reduction (``sharpe_ratio``, ``max_drawdown``, ...) of one series is a float; of a
  2-D array an array, one value a column; of a DataFrame a Series on its columns;
- a series-valued result (``cum_returns``, ``drawdown_series``, ``simple_returns``, the
  ``roll_*`` functions) of an array is an array; of a Series or DataFrame a Series or
  DataFrame on the input's index (the rolling ones on the index of each window's last row).

A second series (``factor_returns``, a ``risk_free`` or ``required_return`` that varies
by date) pairs with the returns as pandas does: two pandas objects align on their index
(the union of the dates, missing where one side lacks a date); an array pairs by position
and must have the returns' length (an empty series is no observation at all and pairs
with anything). A constant ``risk_free`` or ``required_return`` is a number.

Conventions, as empyrical's:

- returns are simple (0.01 = 1%); NaN marks a missing observation and is skipped, except
  that ``annual_return`` counts every row, NaN or not, in the number of years and
  ``value_at_risk`` is NaN when any return is; ±inf is refused (use NaN for a gap);
- too short a series is NaN, not an error: fewer than one return for the cumulative,
  drawdown, downside and VaR figures, fewer than two for the dispersion-based ones;
- annualisation: 252 (daily), 52 (weekly), 12 (monthly), 4 (quarterly), 1 (yearly);
- standard deviations use ``ddof=1``; a series with no dispersion has std 0 (so a
  constant positive excess return has an infinite Sharpe ratio);
- ``alpha`` is the mean daily excess-of-beta return compounded to a year.

Options after the data may be passed by position, as empyrical's are (a call written for
empyrical runs unchanged, with no warning); bifrost's own code passes them by keyword.
Where bifrost answers differently from empyrical-reloaded 0.7.1, on purpose (README): a
rolling window longer than the series gives no windows (empyrical shrinks the window to
the series); the up/down capture ratios of a 2-D input pair the benchmark with each
column's own missing days; bad input (text, 3-D arrays, ±inf, arrays of different
lengths, a cutoff outside [0, 1]) raises `InvalidInputError` naming it.

References
----------
Quantopian, *empyrical* (Apache 2.0) and its maintained fork *empyrical-reloaded*.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from sys import float_info
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from bifrost._checks import as_finite_float, as_fraction, as_positive_int, compatible_positional
from bifrost._typing import BoolArray, FloatArray
from bifrost.errors import InvalidInputError

__all__ = [
    "ANNUALIZATION_FACTORS",
    "DAILY",
    "MONTHLY",
    "QUARTERLY",
    "WEEKLY",
    "YEARLY",
    "aggregate_returns",
    "alpha",
    "alpha_aligned",
    "alpha_beta",
    "alpha_beta_aligned",
    "annual_return",
    "annual_volatility",
    "batting_average",
    "beta",
    "beta_aligned",
    "beta_fragility_heuristic",
    "beta_fragility_heuristic_aligned",
    "cagr",
    "calmar_ratio",
    "capture",
    "conditional_value_at_risk",
    "cum_returns",
    "cum_returns_final",
    "down_alpha_beta",
    "down_capture",
    "downside_risk",
    "drawdown_series",
    "excess_sharpe",
    "gpd_risk_estimates",
    "gpd_risk_estimates_aligned",
    "max_drawdown",
    "max_drawdown_duration",
    "omega_ratio",
    "roll_alpha",
    "roll_alpha_beta",
    "roll_annual_volatility",
    "roll_beta",
    "roll_down_capture",
    "roll_max_drawdown",
    "roll_sharpe_ratio",
    "roll_sortino_ratio",
    "roll_up_capture",
    "roll_up_down_capture",
    "sharpe_ratio",
    "simple_returns",
    "sortino_ratio",
    "stability_of_timeseries",
    "tail_ratio",
    "up_alpha_beta",
    "up_capture",
    "up_down_capture",
    "value_at_risk",
]

Period = Literal["daily", "weekly", "monthly", "quarterly", "yearly"]
DAILY: Final = "daily"
WEEKLY: Final = "weekly"
MONTHLY: Final = "monthly"
QUARTERLY: Final = "quarterly"
YEARLY: Final = "yearly"
ANNUALIZATION_FACTORS: dict[str, int] = {DAILY: 252, WEEKLY: 52, MONTHLY: 12, QUARTERLY: 4, YEARLY: 1}
# a reduction: float for one series, an array for a 2-D array, a Series for a DataFrame
Result = Any
# a series-valued result: an array, or a Series / DataFrame on the input's index
Rows = Any


# -- the boundary: what arrived, and answering in kind ------------------------------------------
@dataclass(frozen=True, slots=True)
class _Input:
    values: FloatArray  # (rows, series), read-only use: never written in place
    one: bool  # a 1-D input (array or Series)
    index: pd.Index | None = None  # row labels of a pandas input
    columns: pd.Index | None = None  # a DataFrame's columns
    name: Hashable | None = None  # a Series' name

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    @property
    def m(self) -> int:
        return int(self.values.shape[1])

    def reduced(self, out: FloatArray | float) -> Result:
        values = np.broadcast_to(np.asarray(out, dtype=np.float64), (self.m,))
        if self.one:
            return float(values[0])
        if self.columns is not None:
            return pd.Series(values, index=self.columns, dtype=np.float64)
        return np.array(values)

    def nan(self) -> Result:
        return self.reduced(np.nan)

    def rows(self, out: FloatArray, *, skip: int = 0) -> Rows:
        # `out` holds the rows from `skip` on; pandas inputs keep those rows' labels
        flat = out[:, 0] if self.one else out
        if self.index is None:
            return flat
        index = self.index[skip:]
        if self.one:
            return pd.Series(flat, index=index, name=self.name, dtype=np.float64)
        return pd.DataFrame(flat, index=index, columns=self.columns, dtype=np.float64)

    def reindexed(self, index: pd.Index) -> _Input:
        try:
            values = pd.DataFrame(self.values, index=self.index).reindex(index).to_numpy(dtype=np.float64)
        except ValueError as exc:  # duplicate labels cannot be aligned
            raise InvalidInputError(f"cannot align on an index with duplicate labels: {exc}") from None
        return replace(self, values=values, index=index)


def _take(values: object, name: str = "returns") -> _Input:
    index: pd.Index | None = None
    columns: pd.Index | None = None
    series_name: Hashable | None = None
    arr: FloatArray
    try:
        if isinstance(values, pd.DataFrame):
            arr = values.to_numpy(dtype=np.float64)
            index, columns = values.index, values.columns
        elif isinstance(values, pd.Series):
            arr = values.to_numpy(dtype=np.float64)
            index, series_name = values.index, values.name
        elif isinstance(values, str | bytes):
            raise TypeError(name)
        else:
            arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(f"{name} must be numeric, got {type(values).__name__}") from exc
    if arr.ndim not in (1, 2):
        raise InvalidInputError(f"{name} must be 1-D (one series) or 2-D (time × series), got shape {arr.shape}")
    if np.isinf(arr).any():
        row = int(np.flatnonzero(np.isinf(arr).reshape(arr.shape[0], -1).any(axis=1))[0])
        where = f"at {index[row]!r}" if index is not None else f"at row {row}"
        raise InvalidInputError(f"{name} contains ±inf {where}; use NaN for a missing return")
    one = arr.ndim == 1
    return _Input(arr[:, None] if one else arr, one, index, columns, series_name)


def _pair(x: _Input, other: object, name: str, *, constant: bool = False) -> tuple[_Input, FloatArray]:
    # the second series of a metric, on the returns' rows and broadcast to their shape
    if constant and not isinstance(other, pd.Series | pd.DataFrame) and np.ndim(other) == 0:  # type: ignore[arg-type]
        value = as_finite_float(np.asarray(other).item() if isinstance(other, np.ndarray) else other, name)
        return x, np.full(x.values.shape, value)
    y = _take(other, name)
    if x.index is not None and y.index is not None:
        if not x.index.equals(y.index):
            union = x.index.union(y.index)  # as pandas arithmetic: every date either side has
            x, y = x.reindexed(union), y.reindexed(union)
    elif y.n != x.n:
        if x.n == 0:  # an empty series has nothing to misplace: it is missing on every row
            x = replace(x, values=np.full((y.n, x.m), np.nan), index=y.index)
        elif y.n == 0:
            y = replace(y, values=np.full((x.n, y.m), np.nan))
        else:
            raise InvalidInputError(f"{name} has {y.n} rows, returns have {x.n}; align them first")
    if y.m not in (1, x.m):
        raise InvalidInputError(f"{name} must have 1 or {x.m} columns, got {y.m}")
    return x, np.broadcast_to(y.values, x.values.shape)


def _returns(values: object, name: str = "returns") -> tuple[FloatArray, bool]:
    # the plain-array boundary `perf_stats` uses: (rows × series, was it 1-D)
    x = _take(values, name)
    return x.values, x.one


def _factor(values: object, like: FloatArray, name: str = "factor_returns") -> FloatArray:
    f = _take(values, name)
    if f.n != like.shape[0]:
        raise InvalidInputError(f"{name} has {f.n} rows, returns have {like.shape[0]}; align them first")
    if f.m not in (1, like.shape[1]):
        raise InvalidInputError(f"{name} must have 1 or {like.shape[1]} columns, got {f.m}")
    return np.broadcast_to(f.values, like.shape)


def _ann(period: str, annualization: float | None) -> float:
    if annualization is not None:
        return float(annualization)
    try:
        return float(ANNUALIZATION_FACTORS[period])
    except (KeyError, TypeError):
        raise InvalidInputError(f"period must be one of {list(ANNUALIZATION_FACTORS)}, got {period!r}") from None


def _cutoff(cutoff: object) -> float:
    return as_fraction(cutoff, "cutoff", open_interval=False)


def _count(x: FloatArray) -> FloatArray:
    counts: FloatArray = np.sum(~np.isnan(x), axis=0).astype(np.float64)
    return counts


def _nanmean(x: FloatArray) -> FloatArray:
    n = _count(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.nansum(x, axis=0) / n, np.nan)


def _nanstd(x: FloatArray, ddof: int = 1) -> FloatArray:
    n = _count(x)
    centred = x - _nanmean(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > ddof, np.sqrt(np.nansum(centred * centred, axis=0) / (n - ddof)), np.nan)


def _zero_dispersion(x: FloatArray, std: FloatArray) -> FloatArray:
    # a constant series has std 0, not a rounding residue
    if x.shape[0] == 0:
        return std
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        constant = (np.nanmax(x, axis=0) == np.nanmin(x, axis=0)) & np.isfinite(std)
    return np.where(constant, 0.0, std)


def _window(window: object) -> int:
    return as_positive_int(window, "window", kind="a whole number of periods")


def _windows(v: FloatArray, window: int) -> FloatArray:
    # every trailing window of one column becomes a column: (window, n - window + 1)
    return sliding_window_view(v, window).T


# -- prices, cumulative and drawdown ---------------------------------------------------------------
def simple_returns(prices: object) -> Rows:
    """Return the simple returns of a price series: ``p[t] / p[t-1] - 1``, one row fewer.

    Integer prices are differenced exactly before the division (a one-tick move on a
    price near 2**63 survives); a NaN price makes the returns on both its sides NaN (no
    forward fill); a zero price gives ±inf or NaN after it, as numpy divides.
    """
    raw = prices.to_numpy() if isinstance(prices, pd.Series | pd.DataFrame) else np.asarray(prices)
    x = _take(prices, "prices")
    if x.n < 2:
        return x.rows(np.empty((0, x.m)), skip=1)
    if np.issubdtype(raw.dtype, np.integer):
        steps = np.diff(raw.astype(object), axis=0).astype(np.float64)
        base = raw[:-1]
    else:
        steps = np.diff(x.values, axis=0)
        base = x.values[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(steps.reshape(x.n - 1, x.m), np.asarray(base).reshape(x.n - 1, x.m))
    return x.rows(out.astype(np.float64), skip=1)


@compatible_positional("starting_value")
def cum_returns(returns: object, *, starting_value: float = 0) -> Rows:
    """Return cumulative returns (``starting_value=0``) or wealth (``starting_value>0``); NaN counts as 0."""
    x = _take(returns)
    start = as_finite_float(starting_value, "starting_value")
    wealth = np.cumprod(1.0 + np.nan_to_num(x.values, nan=0.0), axis=0, dtype=np.float64)
    return x.rows(wealth - 1.0 if start == 0 else wealth * start)


@compatible_positional("starting_value")
def cum_returns_final(returns: object, *, starting_value: float = 0) -> Result:
    """Return the total return over the whole series (NaN for an empty one)."""
    x = _take(returns)
    start = as_finite_float(starting_value, "starting_value")
    if x.n == 0:
        return x.nan()
    total = np.nanprod(x.values + 1.0, axis=0)
    return x.reduced(total - 1.0 if start == 0 else total * start)


def aggregate_returns(returns: pd.Series | pd.DataFrame, convert_to: Period) -> pd.Series | pd.DataFrame:
    """Compound daily returns into weekly, monthly, quarterly or yearly ones.

    Parameters
    ----------
    returns
        Simple returns on a DatetimeIndex (a Series, or a DataFrame of series).
    convert_to
        ``"weekly"`` (keys: ISO year, ISO week), ``"monthly"`` (year, month),
        ``"quarterly"`` (year, quarter) or ``"yearly"`` (year).

    Returns
    -------
    The compounded return of each period (NaN counts as 0), on those keys.
    """
    if not isinstance(returns, pd.Series | pd.DataFrame) or not isinstance(returns.index, pd.DatetimeIndex):
        raise InvalidInputError("aggregate_returns needs a pandas Series or DataFrame on a DatetimeIndex")
    _take(returns)  # numeric, no ±inf
    index = returns.index
    if convert_to == WEEKLY:
        iso = index.isocalendar()
        keys = [iso["year"].to_numpy(), iso["week"].to_numpy()]
    elif convert_to == MONTHLY:
        keys = [index.year.to_numpy(), index.month.to_numpy()]
    elif convert_to == QUARTERLY:
        keys = [index.year.to_numpy(), index.quarter.to_numpy()]
    elif convert_to == YEARLY:
        keys = [index.year.to_numpy()]
    else:
        raise InvalidInputError(f"convert_to must be one of {[WEEKLY, MONTHLY, QUARTERLY, YEARLY]}, got {convert_to!r}")
    grown = (returns.astype(np.float64).fillna(0.0) + 1.0).groupby(keys).prod()
    return grown - 1.0


def _drawdown(r: FloatArray) -> FloatArray:
    wealth = np.vstack([np.full((1, r.shape[1]), 100.0), 100.0 * np.cumprod(1.0 + np.nan_to_num(r, nan=0.0), axis=0)])
    peak = np.fmax.accumulate(wealth, axis=0)
    out: FloatArray = ((wealth - peak) / peak)[1:]
    return out


def drawdown_series(returns: object) -> Rows:
    """Return the drawdown from the running peak at each date (0 at a peak, negative below)."""
    x = _take(returns)
    return x.rows(_drawdown(x.values))


def _max_drawdown(r: FloatArray) -> FloatArray:
    if r.shape[0] < 1:
        return np.full(r.shape[1], np.nan)
    out: FloatArray = np.nanmin(_drawdown(r), axis=0)
    return out


def max_drawdown(returns: object) -> Result:
    """Return the worst peak-to-trough decline as a negative fraction (NaN for an empty series)."""
    x = _take(returns)
    return x.reduced(_max_drawdown(x.values))


def max_drawdown_duration(returns: object) -> Result:
    """Return the longest stretch, in periods, spent below a previous peak."""
    x = _take(returns)
    under = _drawdown(x.values) < 0
    longest = np.zeros(x.m)
    run = np.zeros(x.m)
    for row in under:  # one pass over time, vectorised across series
        run = np.where(row, run + 1, 0)
        longest = np.maximum(longest, run)
    return x.reduced(longest)


# -- returns and risk --------------------------------------------------------------------------
def _annual_return(r: FloatArray, ann: float) -> FloatArray:
    if r.shape[0] < 1:
        return np.full(r.shape[1], np.nan)
    out: FloatArray = np.nanprod(r + 1.0, axis=0) ** (ann / r.shape[0]) - 1.0
    return out


@compatible_positional("period", "annualization")
def annual_return(returns: object, *, period: Period = "daily", annualization: float | None = None) -> Result:
    """Return the compound annual growth rate (CAGR)."""
    x = _take(returns)
    return x.reduced(_annual_return(x.values, _ann(period, annualization)))


cagr = annual_return


@compatible_positional("period", "alpha", "annualization")
def annual_volatility(
    returns: object, *, period: Period = "daily", alpha: float = 2.0, annualization: float | None = None
) -> Result:
    """Return the annualised standard deviation (``std * ann ** (1 / alpha)``)."""
    x = _take(returns)
    if x.n < 2:
        return x.nan()
    return x.reduced(_nanstd(x.values) * _ann(period, annualization) ** (1.0 / alpha))


def _sharpe(adj: FloatArray, ann: float) -> FloatArray:
    std = _zero_dispersion(adj, _nanstd(adj))
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = _nanmean(adj) / std * np.sqrt(ann)
    return out


@compatible_positional("risk_free", "period", "annualization")
def sharpe_ratio(
    returns: object, *, risk_free: object = 0, period: Period = "daily", annualization: float | None = None
) -> Result:
    """Return the annualised Sharpe ratio of returns in excess of ``risk_free``.

    ``risk_free`` is a rate per period: a number, or a series aligned with the returns.
    """
    x = _take(returns)
    ann = _ann(period, annualization)
    if x.n < 2:
        return x.nan()
    x, rf = _pair(x, risk_free, "risk_free", constant=True)
    return x.reduced(_sharpe(x.values - rf, ann))


def _downside(adj: FloatArray, ann: float) -> FloatArray:
    below = np.clip(adj, -np.inf, 0.0)
    out: FloatArray = np.sqrt(_nanmean(below * below)) * np.sqrt(ann)
    return out


@compatible_positional("required_return", "period", "annualization")
def downside_risk(
    returns: object, *, required_return: object = 0, period: Period = "daily", annualization: float | None = None
) -> Result:
    """Return the annualised root-mean-square of returns below ``required_return``.

    ``required_return`` is a number or a series aligned with the returns (by date for pandas).
    """
    x = _take(returns)
    ann = _ann(period, annualization)
    if x.n < 1:
        return x.nan()
    x, req = _pair(x, required_return, "required_return", constant=True)
    return x.reduced(_downside(x.values - req, ann))


def _sortino(adj: FloatArray, ann: float) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = _nanmean(adj) * ann / _downside(adj, ann)
    return out


@compatible_positional("required_return", "period", "annualization")
def sortino_ratio(
    returns: object, *, required_return: object = 0, period: Period = "daily", annualization: float | None = None
) -> Result:
    """Return the annualised mean excess return over the downside risk (both against ``required_return``)."""
    x = _take(returns)
    ann = _ann(period, annualization)
    if x.n < 2:
        return x.nan()
    x, req = _pair(x, required_return, "required_return", constant=True)
    return x.reduced(_sortino(x.values - req, ann))


@compatible_positional("period", "annualization")
def calmar_ratio(returns: object, *, period: Period = "daily", annualization: float | None = None) -> Result:
    """Return the annual return over the absolute maximum drawdown (NaN without a drawdown)."""
    x = _take(returns)
    mdd = _max_drawdown(x.values)
    ar = _annual_return(x.values, _ann(period, annualization))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mdd < 0, ar / np.abs(mdd), np.nan)
    return x.reduced(np.where(np.isinf(out), np.nan, out))


@compatible_positional("risk_free", "required_return", "annualization")
def omega_ratio(
    returns: object, *, risk_free: object = 0.0, required_return: float = 0.0, annualization: float = 252
) -> Result:
    """Return the probability-weighted ratio of gains to losses around a threshold.

    ``required_return`` is annual, converted to a per-period threshold with
    ``annualization`` (1: already per period); ``risk_free`` is per period, a number or a
    series aligned with the returns.
    """
    x = _take(returns)
    required = as_finite_float(required_return, "required_return")
    if x.n < 2 or (annualization != 1 and required <= -1):
        return x.nan()
    x, rf = _pair(x, risk_free, "risk_free", constant=True)
    threshold = required if annualization == 1 else (1 + required) ** (1.0 / annualization) - 1
    excess = x.values - rf - threshold
    gains = np.sum(np.where(excess > 0, excess, 0.0), axis=0)
    losses = -np.sum(np.where(excess < 0, excess, 0.0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return x.reduced(np.where(losses > 0, gains / losses, np.nan))


def tail_ratio(returns: object) -> Result:
    """Return |95th percentile| / |5th percentile| of returns (NaN skipped)."""
    x = _take(returns)
    if x.n == 0:
        return x.nan()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        hi, lo = np.nanpercentile(x.values, [95, 5], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return x.reduced(np.abs(hi) / np.abs(lo))


def stability_of_timeseries(returns: object) -> Result:
    """Return R² of a straight line fitted to cumulative log returns (NaN skipped)."""
    x = _take(returns)
    if x.n < 2:
        return x.nan()
    r = x.values
    valid = ~np.isnan(r)
    n = valid.sum(axis=0).astype(np.float64)
    t = np.cumsum(valid, axis=0) - 1.0  # position among the valid observations
    y = np.cumsum(np.where(valid, np.log1p(np.where(valid, r, 0.0)), 0.0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tm = np.sum(np.where(valid, t, 0.0), axis=0) / n
        ym = np.sum(np.where(valid, y, 0.0), axis=0) / n
        dt = np.where(valid, t - tm, 0.0)
        dy = np.where(valid, y - ym, 0.0)
        sxy, sxx, syy = (dt * dy).sum(axis=0), (dt * dt).sum(axis=0), (dy * dy).sum(axis=0)
        rho = np.where((sxx == 0) | (syy == 0), 0.0, sxy / np.sqrt(sxx * syy))
    return x.reduced(np.where(n >= 2, np.clip(rho, -1.0, 1.0) ** 2, np.nan))


@compatible_positional("cutoff")
def value_at_risk(returns: object, *, cutoff: float = 0.05) -> Result:
    """Return the ``cutoff`` percentile of returns, interpolated (empyrical's: NaN if any return is NaN).

    ``cutoff`` is in [0, 1]: 0 is the worst return, 1 the best.
    """
    x = _take(returns)
    c = _cutoff(cutoff)
    if x.n == 0:
        return x.nan()
    return x.reduced(np.percentile(x.values, 100 * c, axis=0))


@compatible_positional("cutoff")
def conditional_value_at_risk(returns: object, *, cutoff: float = 0.05) -> Result:
    """Return the mean of the worst ``int((n - 1) * cutoff) + 1`` returns (NaN skipped; ``cutoff`` in [0, 1])."""
    x = _take(returns)
    c = _cutoff(cutoff)
    if x.n == 0:
        return x.nan()
    r = x.values
    n = np.sum(~np.isnan(r), axis=0)
    ordered = np.sort(r, axis=0)  # NaN sorts last
    k = np.maximum(((n - 1) * c).astype(np.int64) + 1, 1)  # how many of the worst returns
    sums = np.cumsum(np.nan_to_num(ordered, nan=0.0), axis=0)
    picked = sums[np.minimum(k, x.n) - 1, np.arange(x.m)]
    return x.reduced(np.where(n > 0, picked / k, np.nan))


# -- against a benchmark ----------------------------------------------------------------------
def excess_sharpe(returns: object, factor_returns: object) -> Result:
    """Return the mean active return over the tracking error (not annualised).

    ``factor_returns`` is the benchmark's series (aligned with the returns) or a constant.
    """
    x = _take(returns)
    if x.n < 2:
        return x.nan()
    x, f = _pair(x, factor_returns, "factor_returns", constant=True)
    active = x.values - f
    std = _zero_dispersion(active, _nanstd(active))
    with np.errstate(divide="ignore", invalid="ignore"):
        return x.reduced(_nanmean(active) / std)


def _beta(r: FloatArray, f: FloatArray) -> FloatArray:
    if r.shape[0] < 2:
        return np.full(r.shape[1], np.nan)
    independent = np.where(np.isnan(r), np.nan, f)
    residual = independent - _nanmean(independent)
    covariance = _nanmean(residual * r)
    variance = _nanmean(residual * residual)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance < 1e-30, np.nan, covariance / variance)


def _alpha(r: FloatArray, f: FloatArray, b: FloatArray, rf: FloatArray | float, ann: float) -> FloatArray:
    if r.shape[0] < 2:
        return np.full(r.shape[1], np.nan)
    out: FloatArray = (_nanmean((r - rf) - b * (f - rf)) + 1.0) ** ann - 1.0
    return out


def _benchmark(returns: object, factor_returns: object, minimum: int) -> tuple[_Input, FloatArray] | _Input:
    # the returns and the benchmark on the same rows; too few rows answer NaN before pairing
    x = _take(returns)
    if x.n < minimum:
        return x
    return _pair(x, factor_returns, "factor_returns")


@compatible_positional("risk_free")
def beta(returns: object, factor_returns: object, *, risk_free: float = 0.0) -> Result:
    """Return the OLS beta of returns on the benchmark's returns.

    ``risk_free`` is accepted for empyrical compatibility; a constant rate subtracted from
    both series leaves their covariance, and so beta, unchanged.
    """
    paired = _benchmark(returns, factor_returns, 1)
    if isinstance(paired, _Input):
        return paired.nan()
    x, f = paired
    return x.reduced(_beta(x.values, f))


@compatible_positional("risk_free", "period", "annualization")
def alpha(
    returns: object,
    factor_returns: object,
    *,
    risk_free: object = 0.0,
    period: Period = "daily",
    annualization: float | None = None,
) -> Result:
    """Return the annualised alpha: the mean return beyond ``beta * benchmark``, compounded."""
    ann = _ann(period, annualization)
    paired = _benchmark(returns, factor_returns, 2)
    if isinstance(paired, _Input):
        return paired.nan()
    x, f = paired
    x, rf = _pair(x, risk_free, "risk_free", constant=True)
    return x.reduced(_alpha(x.values, f, _beta(x.values, f), rf, ann))


def _pairs(x: _Input, alphas: FloatArray, betas: FloatArray) -> FloatArray | pd.DataFrame:
    out = np.column_stack([alphas, betas])
    if x.one:
        one: FloatArray = out[0]
        return one
    if x.columns is not None:
        return pd.DataFrame(out, index=x.columns, columns=["alpha", "beta"])
    return out


@compatible_positional("risk_free", "period", "annualization")
def alpha_beta(
    returns: object,
    factor_returns: object,
    *,
    risk_free: object = 0.0,
    period: Period = "daily",
    annualization: float | None = None,
) -> FloatArray | pd.DataFrame:
    """Return ``[alpha, beta]``: shape ``(2,)`` for one series, ``(n_series, 2)`` for a 2-D array,
    a DataFrame (series × alpha, beta) for a DataFrame."""
    ann = _ann(period, annualization)
    paired = _benchmark(returns, factor_returns, 2)
    if isinstance(paired, _Input):
        return _pairs(paired, np.full(paired.m, np.nan), np.full(paired.m, np.nan))
    x, f = paired
    x, rf = _pair(x, risk_free, "risk_free", constant=True)
    b = _beta(x.values, f)
    return _pairs(x, _alpha(x.values, f, b, rf, ann), b)


# empyrical's *_aligned functions skip its own alignment; bifrost's functions align pandas
# inputs and pair arrays by position, so the two names are one function
alpha_aligned = alpha
beta_aligned = beta
alpha_beta_aligned = alpha_beta


def _side(r: FloatArray, f: FloatArray, sign: int) -> BoolArray:
    # the days both series have a return and the benchmark moved the way asked
    with np.errstate(invalid="ignore"):
        mask: BoolArray = ~np.isnan(r) & ~np.isnan(f) & (np.sign(f) == sign)
    return mask


def _side_alpha_beta(
    returns: object, factor_returns: object, risk_free: float, period: Period, annualization: float | None, sign: int
) -> FloatArray | pd.DataFrame:
    ann = _ann(period, annualization)
    rf = as_finite_float(risk_free, "risk_free")
    x = _take(returns)
    if x.n == 0:
        return _pairs(x, np.full(x.m, np.nan), np.full(x.m, np.nan))
    x, f = _pair(x, factor_returns, "factor_returns")
    mask = _side(x.values, f, sign)
    r_side, f_side = np.where(mask, x.values, np.nan), np.where(mask, f, np.nan)
    enough = mask.sum(axis=0) >= 2
    b = np.where(enough, _beta(r_side, f_side), np.nan)
    a = np.where(enough, _alpha(r_side, f_side, b, rf, ann), np.nan)
    return _pairs(x, a, b)


@compatible_positional("risk_free", "period", "annualization")
def up_alpha_beta(
    returns: object,
    factor_returns: object,
    *,
    risk_free: float = 0.0,
    period: Period = "daily",
    annualization: float | None = None,
) -> FloatArray | pd.DataFrame:
    """Return ``[alpha, beta]`` over the days the benchmark rose (as `alpha_beta`)."""
    return _side_alpha_beta(returns, factor_returns, risk_free, period, annualization, 1)


@compatible_positional("risk_free", "period", "annualization")
def down_alpha_beta(
    returns: object,
    factor_returns: object,
    *,
    risk_free: float = 0.0,
    period: Period = "daily",
    annualization: float | None = None,
) -> FloatArray | pd.DataFrame:
    """Return ``[alpha, beta]`` over the days the benchmark fell (as `alpha_beta`)."""
    return _side_alpha_beta(returns, factor_returns, risk_free, period, annualization, -1)


@compatible_positional("period")
def capture(returns: object, factor_returns: object, *, period: Period = "daily") -> Result:
    """Return the annual return over the benchmark's annual return."""
    ann = _ann(period, None)
    paired = _benchmark(returns, factor_returns, 1)
    if isinstance(paired, _Input):
        return paired.nan()
    x, f = paired
    with np.errstate(divide="ignore", invalid="ignore"):
        return x.reduced(_annual_return(x.values, ann) / _annual_return(np.array(f), ann))


def _conditional_capture(r: FloatArray, f: FloatArray, mask: BoolArray, ann: float) -> FloatArray:
    # annual return of each side over the masked days only (empyrical's up/down filtering)
    n = mask.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ar_r = np.prod(np.where(mask, 1.0 + r, 1.0), axis=0) ** (ann / n) - 1.0
        ar_f = np.prod(np.where(mask, 1.0 + f, 1.0), axis=0) ** (ann / n) - 1.0
        return np.where(n > 0, ar_r / ar_f, np.nan)


def _side_capture(r: FloatArray, f: FloatArray, ann: float, sign: int) -> FloatArray:
    return _conditional_capture(r, f, _side(r, f, sign), ann)


def _up_down(r: FloatArray, f: FloatArray, ann: float) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = _side_capture(r, f, ann, 1) / _side_capture(r, f, ann, -1)
    return out


def _captured(returns: object, factor_returns: object, period: Period, kernel: Callable[..., FloatArray]) -> Result:
    ann = _ann(period, None)
    paired = _benchmark(returns, factor_returns, 1)
    if isinstance(paired, _Input):
        return paired.nan()
    x, f = paired
    return x.reduced(kernel(x.values, f, ann))


@compatible_positional("period")
def up_capture(returns: object, factor_returns: object, *, period: Period = "daily") -> Result:
    """Return the capture ratio over the days the benchmark rose (days either series lacks are skipped)."""
    return _captured(returns, factor_returns, period, lambda r, f, ann: _side_capture(r, f, ann, 1))


@compatible_positional("period")
def down_capture(returns: object, factor_returns: object, *, period: Period = "daily") -> Result:
    """Return the capture ratio over the days the benchmark fell (days either series lacks are skipped)."""
    return _captured(returns, factor_returns, period, lambda r, f, ann: _side_capture(r, f, ann, -1))


@compatible_positional("period")
def up_down_capture(returns: object, factor_returns: object, *, period: Period = "daily") -> Result:
    """Return up capture over down capture."""
    return _captured(returns, factor_returns, period, _up_down)


def batting_average(returns: object, factor_returns: object) -> pd.Series:
    """Return the share of periods the returns beat the benchmark: overall, when it rose, when it fell.

    A Series with ``batting average``, ``up market`` (benchmark ≥ 0) and ``down market``
    (benchmark < 0); periods either series lacks are skipped; NaN where no period counts.
    """
    x = _take(returns)
    if not x.one:
        raise InvalidInputError(f"batting_average takes one series, got {x.m} columns")
    if x.n > 0:
        x, f = _pair(x, factor_returns, "factor_returns")
        r, b = x.values[:, 0], f[:, 0]
    else:
        r = b = np.empty(0)
    valid = ~np.isnan(r) & ~np.isnan(b)
    beat, bench = r[valid] - b[valid] > 0, b[valid]
    up, down = beat[bench >= 0.0], beat[bench < 0.0]
    return pd.Series(
        {
            "batting average": beat.mean() if beat.size else np.nan,
            "up market": up.mean() if up.size else np.nan,
            "down market": down.mean() if down.size else np.nan,
        },
        dtype=np.float64,
    )


def beta_fragility_heuristic(returns: object, factor_returns: object) -> float:
    """Return the IMF's heuristic of fragility to a drop in beta (negative: losses follow volatility in beta).

    On the benchmark's worst, median and best days: the returns of the worst and best
    days, weighted by where the median day's benchmark return lies between theirs, less
    the median day's return (Dattels et al., IMF WP/12/216).
    """
    x = _take(returns)
    if not x.one:
        raise InvalidInputError(f"beta_fragility_heuristic takes one series, got {x.m} columns")
    if x.n < 3:
        return np.nan
    x, f = _pair(x, factor_returns, "factor_returns")
    r, b = x.values[:, 0], f[:, 0]
    keep = ~np.isnan(r) & ~np.isnan(b)
    r, b = r[keep], b[keep]
    if r.size < 3:
        return np.nan
    order = np.argsort(b, kind="quicksort")  # as pandas' sort_values, which empyrical calls
    lo, mid, hi = order[0], order[r.size // 2], order[-1]
    spread = b[hi] - b[lo]
    w_lo, w_hi = (0.5, 0.5) if spread == 0 else ((b[hi] - b[mid]) / spread, (b[mid] - b[lo]) / spread)
    return float(w_lo * r[lo] + w_hi * r[hi] - r[mid])


beta_fragility_heuristic_aligned = beta_fragility_heuristic


# -- extreme value: the generalised Pareto tail ----------------------------------------------------
def _gpd_loglikelihood(params: FloatArray, losses: FloatArray) -> float:
    # the negative log-likelihood Nelder–Mead minimises (Gilli & Kellezi 2006, eq. 7)
    scale, shape = float(params[0]), float(params[1])
    n = losses.size
    worst = -float_info.max
    if shape == 0:
        return -((-n * math.log(scale)) - losses.sum() / scale) if scale > 0 else -worst
    if scale == 0 or shape / scale < 0 or scale < 0:
        return -worst
    return -float((-n * math.log(scale)) - ((1 / shape) + 1) * np.log(shape / scale * losses + 1).sum())


@compatible_positional("var_p")
def gpd_risk_estimates(returns: object, *, var_p: float = 0.01) -> FloatArray | pd.Series:
    """Estimate VaR and ES from a generalised Pareto tail fitted to the losses.

    Returns ``[threshold, scale, shape, var, es]`` (a Series for a Series): the loss
    threshold of the tail, the fitted parameters, and the VaR and ES at tail probability
    ``var_p`` as positive losses; all zero when no fat-tailed fit exists (fewer than three
    returns, or no losses), ES infinite for a shape of 1 or more. The threshold starts at a
    20% loss and halves until the fit has a positive shape and VaR (empyrical's search).

    References
    ----------
    Gilli, M. and Këllezi, E. (2006), *An Application of Extreme Value Theory for
    Measuring Financial Risk*, Computational Economics 27, 207–228.
    """
    x = _take(returns)
    if not x.one:
        raise InvalidInputError(f"gpd_risk_estimates takes one series, got {x.m} columns")
    p = as_fraction(var_p, "var_p")
    result = np.zeros(5)
    losses = -x.values[:, 0]
    losses = losses[losses > 0]  # NaN is not a loss
    threshold = 0.2
    while x.n >= 3 and threshold > 1e-9:
        tail = losses[losses >= threshold]
        if tail.size:
            optimize = importlib.import_module("scipy.optimize")
            fit = optimize.minimize(_gpd_loglikelihood, [1.0, 1.0], args=(tail,), method="Nelder-Mead")
            scale, shape = (float(fit.x[0]), float(fit.x[1])) if fit.success else (0.0, 0.0)
            var = 0.0
            if shape > 0:
                var = threshold + scale / shape * ((losses.size / tail.size * p) ** -shape - 1)
            if shape > 0 and var > 0:
                es = math.inf if shape >= 1 else var / (1 - shape) + (scale - shape * threshold) / (1 - shape)
                result = np.array([threshold, scale, shape, var, es])
                break
        threshold /= 2
    return pd.Series(result) if x.index is not None else result


gpd_risk_estimates_aligned = gpd_risk_estimates


# -- rolling ----------------------------------------------------------------------------------
def _roll(x: _Input, window: int, metric: Callable[[FloatArray], FloatArray]) -> Rows:
    # every window of one series becomes a column: the vectorised metric does the rest
    if x.n < window:
        return x.rows(np.empty((0, x.m)), skip=window - 1)
    out = np.column_stack([metric(_windows(x.values[:, j], window)) for j in range(x.m)])
    return x.rows(out, skip=window - 1)


def _roll_pair(
    returns: object, factor_returns: object, window: object, metric: Callable[[FloatArray, FloatArray], FloatArray]
) -> Rows:
    w = _window(window)
    x, f = _pair(_take(returns), factor_returns, "factor_returns")
    if x.n < w:
        return x.rows(np.empty((0, x.m)), skip=w - 1)
    out = np.column_stack([metric(_windows(x.values[:, j], w), _windows(np.array(f[:, j]), w)) for j in range(x.m)])
    return x.rows(out, skip=w - 1)


@compatible_positional("window", "risk_free", "period")
def roll_sharpe_ratio(
    returns: object,
    *,
    window: int = 10,
    risk_free: float = 0,
    period: Period = "daily",
    annualization: float | None = None,
) -> Rows:
    """Return the Sharpe ratio of each trailing ``window`` (``len - window + 1`` values)."""
    w, ann, rf = _window(window), _ann(period, annualization), as_finite_float(risk_free, "risk_free")
    return _roll(_take(returns), w, lambda v: _sharpe(v - rf, ann) if w >= 2 else np.full(v.shape[1], np.nan))


@compatible_positional("window", "required_return", "period")
def roll_sortino_ratio(
    returns: object,
    *,
    window: int = 10,
    required_return: float = 0,
    period: Period = "daily",
    annualization: float | None = None,
) -> Rows:
    """Return the Sortino ratio of each trailing ``window``."""
    w, ann = _window(window), _ann(period, annualization)
    req = as_finite_float(required_return, "required_return")
    return _roll(_take(returns), w, lambda v: _sortino(v - req, ann) if w >= 2 else np.full(v.shape[1], np.nan))


@compatible_positional("window", "period")
def roll_annual_volatility(
    returns: object, *, window: int = 10, period: Period = "daily", annualization: float | None = None
) -> Rows:
    """Return the annual volatility of each trailing ``window``."""
    w, ann = _window(window), _ann(period, annualization)
    return _roll(_take(returns), w, lambda v: _nanstd(v) * np.sqrt(ann))


@compatible_positional("window")
def roll_max_drawdown(returns: object, *, window: int = 10) -> Rows:
    """Return the maximum drawdown within each trailing ``window``."""
    return _roll(_take(returns), _window(window), _max_drawdown)


@compatible_positional("window")
def roll_beta(returns: object, factor_returns: object, *, window: int = 10) -> Rows:
    """Return the beta of each trailing ``window`` against the benchmark."""
    return _roll_pair(returns, factor_returns, window, _beta)


@compatible_positional("window", "risk_free", "period", "annualization")
def roll_alpha(
    returns: object,
    factor_returns: object,
    *,
    window: int = 10,
    risk_free: float = 0.0,
    period: Period = "daily",
    annualization: float | None = None,
) -> Rows:
    """Return the annualised alpha of each trailing ``window`` against the benchmark."""
    ann, rf = _ann(period, annualization), as_finite_float(risk_free, "risk_free")
    return _roll_pair(returns, factor_returns, window, lambda r, f: _alpha(r, f, _beta(r, f), rf, ann))


@compatible_positional("window", "risk_free", "period", "annualization")
def roll_alpha_beta(
    returns: object,
    factor_returns: object,
    *,
    window: int = 10,
    risk_free: float = 0.0,
    period: Period = "daily",
    annualization: float | None = None,
) -> FloatArray | pd.DataFrame:
    """Return ``[alpha, beta]`` of each trailing ``window`` of one series.

    An array of shape ``(len - window + 1, 2)``; for a Series a DataFrame on the index of
    each window's last date with columns 0 (alpha) and 1 (beta), as empyrical's.
    """
    w, ann, rf = _window(window), _ann(period, annualization), as_finite_float(risk_free, "risk_free")
    x = _take(returns)
    if not x.one:
        raise InvalidInputError(f"roll_alpha_beta takes one series, got {x.m} columns; use roll_alpha and roll_beta")
    x, f = _pair(x, factor_returns, "factor_returns")
    if x.n < w:
        out = np.empty((0, 2))
    else:
        rw, fw = _windows(x.values[:, 0], w), _windows(np.array(f[:, 0]), w)
        b = _beta(rw, fw)
        out = np.column_stack([_alpha(rw, fw, b, rf, ann), b])
    if x.index is None:
        return out
    return pd.DataFrame(out, index=x.index[w - 1 :][: out.shape[0]])


@compatible_positional("window", "period")
def roll_up_capture(returns: object, factor_returns: object, *, window: int = 10, period: Period = "daily") -> Rows:
    """Return the up capture of each trailing ``window``."""
    ann = _ann(period, None)
    return _roll_pair(returns, factor_returns, window, lambda r, f: _side_capture(r, f, ann, 1))


@compatible_positional("window", "period")
def roll_down_capture(returns: object, factor_returns: object, *, window: int = 10, period: Period = "daily") -> Rows:
    """Return the down capture of each trailing ``window``."""
    ann = _ann(period, None)
    return _roll_pair(returns, factor_returns, window, lambda r, f: _side_capture(r, f, ann, -1))


@compatible_positional("window", "period")
def roll_up_down_capture(
    returns: object, factor_returns: object, *, window: int = 10, period: Period = "daily"
) -> Rows:
    """Return up capture over down capture of each trailing ``window``."""
    ann = _ann(period, None)
    return _roll_pair(returns, factor_returns, window, lambda r, f: _up_down(r, f, ann))
