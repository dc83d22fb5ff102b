"""Performance metrics on simple daily returns: empyrical's names, arguments and conventions.

Every function takes a 1-D array (one series, returns a float) or a 2-D array (time ×
series, returns one value per column) and computes all columns at once with numpy. The
conventions are empyrical's, so results agree with empyrical/pyfolio to rounding:

- returns are simple (0.01 = 1%); NaN marks a missing observation and is skipped, except
  that ``annual_return`` counts every row, NaN or not, in the number of years;
- annualisation: 252 (daily), 52 (weekly), 12 (monthly), 4 (quarterly), 1 (yearly);
- standard deviations use ``ddof=1``; a series with no dispersion has std 0;
- ``alpha`` is the mean daily excess-of-beta return compounded to a year.

References
----------
Quantopian, *empyrical* (Apache 2.0) and its maintained fork *empyrical-reloaded*.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bifrost._checks import deprecated_positional
from bifrost._typing import FloatArray
from bifrost.errors import InvalidInputError

__all__ = [
    "ANNUALIZATION_FACTORS",
    "alpha",
    "alpha_beta",
    "annual_return",
    "annual_volatility",
    "beta",
    "cagr",
    "calmar_ratio",
    "capture",
    "conditional_value_at_risk",
    "cum_returns",
    "cum_returns_final",
    "down_capture",
    "downside_risk",
    "drawdown_series",
    "excess_sharpe",
    "max_drawdown",
    "max_drawdown_duration",
    "omega_ratio",
    "roll_annual_volatility",
    "roll_beta",
    "roll_max_drawdown",
    "roll_sharpe_ratio",
    "sharpe_ratio",
    "sortino_ratio",
    "stability_of_timeseries",
    "tail_ratio",
    "up_capture",
    "up_down_capture",
    "value_at_risk",
]

Period = Literal["daily", "weekly", "monthly", "quarterly", "yearly"]
ANNUALIZATION_FACTORS: dict[str, int] = {"daily": 252, "weekly": 52, "monthly": 12, "quarterly": 4, "yearly": 1}
Result = float | FloatArray


# -- boundary and shape helpers ------------------------------------------------------------
def _returns(values: object, name: str = "returns") -> tuple[FloatArray, bool]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric, got {type(values).__name__}") from exc
    if arr.ndim not in (1, 2):
        raise InvalidInputError(f"{name} must be 1-D (one series) or 2-D (time × series), got shape {arr.shape}")
    if np.isinf(arr).any():
        raise InvalidInputError(f"{name} contains ±inf; use NaN for a missing return")
    return (arr[:, None] if arr.ndim == 1 else arr), arr.ndim == 1


def _factor(values: object, like: FloatArray, name: str = "factor_returns") -> FloatArray:
    f, _ = _returns(values, name)
    if f.shape[0] != like.shape[0]:
        raise InvalidInputError(f"{name} has {f.shape[0]} rows, returns have {like.shape[0]}; align them first")
    if f.shape[1] not in (1, like.shape[1]):
        raise InvalidInputError(f"{name} must have 1 or {like.shape[1]} columns, got {f.shape[1]}")
    return np.broadcast_to(f, like.shape)


def _out(values: FloatArray, one: bool) -> Result:
    return float(values[0]) if one else values


def _ann(period: str, annualization: float | None) -> float:
    if annualization is not None:
        return float(annualization)
    try:
        return float(ANNUALIZATION_FACTORS[period])
    except KeyError:
        raise InvalidInputError(f"period must be one of {list(ANNUALIZATION_FACTORS)}, got {period!r}") from None


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        constant = (np.nanmax(x, axis=0) == np.nanmin(x, axis=0)) & np.isfinite(std)
    return np.where(constant, 0.0, std)


def _nan_if_short(values: FloatArray, r: FloatArray, minimum: int) -> FloatArray:
    return values if r.shape[0] >= minimum else np.full(r.shape[1], np.nan)


# -- cumulative and drawdown -----------------------------------------------------------------
@deprecated_positional("starting_value")
def cum_returns(returns: object, *, starting_value: float = 0) -> FloatArray:
    """Return cumulative returns (``starting_value=0``) or wealth (``starting_value>0``); NaN counts as 0."""
    r, one = _returns(returns)
    wealth = np.cumprod(1.0 + np.nan_to_num(r, nan=0.0), axis=0)
    out: FloatArray = (wealth - 1.0 if starting_value == 0 else wealth * starting_value).astype(np.float64)
    return out[:, 0] if one else out


@deprecated_positional("starting_value")
def cum_returns_final(returns: object, *, starting_value: float = 0) -> Result:
    """Return the total return over the whole series."""
    r, one = _returns(returns)
    if r.shape[0] == 0:
        return np.nan if one else np.full(r.shape[1], np.nan)
    total = np.nanprod(r + 1.0, axis=0)
    return _out(total - 1.0 if starting_value == 0 else total * starting_value, one)


def drawdown_series(returns: object) -> FloatArray:
    """Return the drawdown from the running peak at each date (0 at a peak, negative below)."""
    r, one = _returns(returns)
    wealth = np.vstack([np.full((1, r.shape[1]), 100.0), cum_returns(r, starting_value=100)])
    peak = np.fmax.accumulate(wealth, axis=0)
    out = ((wealth - peak) / peak)[1:]
    return out[:, 0] if one else out


def max_drawdown(returns: object) -> Result:
    """Return the worst peak-to-trough decline as a negative fraction."""
    r, one = _returns(returns)
    if r.shape[0] < 1:
        return _out(np.full(r.shape[1], np.nan), one)
    return _out(np.nanmin(drawdown_series(r), axis=0), one)


def max_drawdown_duration(returns: object) -> Result:
    """Return the longest stretch, in periods, spent below a previous peak."""
    r, one = _returns(returns)
    under = drawdown_series(r) < 0
    longest = np.zeros(r.shape[1])
    run = np.zeros(r.shape[1])
    for row in under:  # one pass over time, vectorised across series
        run = np.where(row, run + 1, 0)
        longest = np.maximum(longest, run)
    return _out(longest, one)


# -- returns and risk --------------------------------------------------------------------------
@deprecated_positional("period", "annualization")
def annual_return(returns: object, *, period: Period = "daily", annualization: float | None = None) -> Result:
    """Return the compound annual growth rate (CAGR)."""
    r, one = _returns(returns)
    if r.shape[0] < 1:
        return _out(np.full(r.shape[1], np.nan), one)
    years = r.shape[0] / _ann(period, annualization)
    return _out(np.nanprod(r + 1.0, axis=0) ** (1.0 / years) - 1.0, one)


cagr = annual_return


@deprecated_positional("period", "alpha", "annualization")
def annual_volatility(
    returns: object, *, period: Period = "daily", alpha: float = 2.0, annualization: float | None = None
) -> Result:
    """Return the annualised standard deviation (``std * ann ** (1 / alpha)``)."""
    r, one = _returns(returns)
    out = _nanstd(r) * _ann(period, annualization) ** (1.0 / alpha)
    return _out(_nan_if_short(out, r, 2), one)


@deprecated_positional("risk_free", "period", "annualization")
def sharpe_ratio(
    returns: object, *, risk_free: float = 0, period: Period = "daily", annualization: float | None = None
) -> Result:
    """Return the annualised Sharpe ratio of returns in excess of ``risk_free`` (per period)."""
    r, one = _returns(returns)
    adj = r - risk_free
    std = _zero_dispersion(adj, _nanstd(adj))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _nanmean(adj) / std * np.sqrt(_ann(period, annualization))
    return _out(_nan_if_short(out, r, 2), one)


@deprecated_positional("required_return", "period", "annualization")
def downside_risk(
    returns: object, *, required_return: float = 0, period: Period = "daily", annualization: float | None = None
) -> Result:
    """Return the annualised root-mean-square of returns below ``required_return``."""
    r, one = _returns(returns)
    below = np.clip(r - required_return, -np.inf, 0.0)
    out = np.sqrt(_nanmean(below * below)) * np.sqrt(_ann(period, annualization))
    return _out(_nan_if_short(out, r, 1), one)


@deprecated_positional("required_return", "period", "annualization")
def sortino_ratio(
    returns: object, *, required_return: float = 0, period: Period = "daily", annualization: float | None = None
) -> Result:
    """Return the annualised mean excess return over the downside risk."""
    r, one = _returns(returns)
    ann = _ann(period, annualization)
    risk = np.atleast_1d(downside_risk(r, required_return=required_return, period=period, annualization=annualization))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _nanmean(r - required_return) * ann / risk
    return _out(_nan_if_short(out, r, 2), one)


@deprecated_positional("period", "annualization")
def calmar_ratio(returns: object, *, period: Period = "daily", annualization: float | None = None) -> Result:
    """Return the annual return over the absolute maximum drawdown (NaN without a drawdown)."""
    r, one = _returns(returns)
    mdd = np.atleast_1d(max_drawdown(r))
    ar = np.atleast_1d(annual_return(r, period=period, annualization=annualization))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mdd < 0, ar / np.abs(mdd), np.nan)
    return _out(np.where(np.isinf(out), np.nan, out), one)


@deprecated_positional("risk_free", "required_return", "annualization")
def omega_ratio(
    returns: object, *, risk_free: float = 0.0, required_return: float = 0.0, annualization: float = 252
) -> Result:
    """Return the probability-weighted ratio of gains to losses around a threshold."""
    r, one = _returns(returns)
    if r.shape[0] < 2 or (annualization != 1 and required_return <= -1):
        return _out(np.full(r.shape[1], np.nan), one)
    threshold = required_return if annualization == 1 else (1 + required_return) ** (1.0 / annualization) - 1
    x = r - risk_free - threshold
    gains = np.sum(np.where(x > 0, x, 0.0), axis=0)
    losses = -np.sum(np.where(x < 0, x, 0.0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.where(losses > 0, gains / losses, np.nan), one)


def tail_ratio(returns: object) -> Result:
    """Return |95th percentile| / |5th percentile| of returns."""
    r, one = _returns(returns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        hi, lo = np.nanpercentile(r, [95, 5], axis=0) if r.shape[0] else (np.nan, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.atleast_1d(np.abs(hi) / np.abs(lo)), one)


def stability_of_timeseries(returns: object) -> Result:
    """Return R² of a straight line fitted to cumulative log returns (NaN skipped)."""
    r, one = _returns(returns)
    valid = ~np.isnan(r)
    n = valid.sum(axis=0).astype(np.float64)
    x = np.cumsum(valid, axis=0) - 1.0  # position among the valid observations
    y = np.cumsum(np.where(valid, np.log1p(np.where(valid, r, 0.0)), 0.0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        xm = np.sum(np.where(valid, x, 0.0), axis=0) / n
        ym = np.sum(np.where(valid, y, 0.0), axis=0) / n
        dx = np.where(valid, x - xm, 0.0)
        dy = np.where(valid, y - ym, 0.0)
        sxy, sxx, syy = (dx * dy).sum(axis=0), (dx * dx).sum(axis=0), (dy * dy).sum(axis=0)
        rho = np.where((sxx == 0) | (syy == 0), 0.0, sxy / np.sqrt(sxx * syy))
    out = np.where(n >= 2, np.clip(rho, -1.0, 1.0) ** 2, np.nan)
    return _out(_nan_if_short(out, r, 2), one)


@deprecated_positional("cutoff")
def value_at_risk(returns: object, *, cutoff: float = 0.05) -> Result:
    """Return the ``cutoff`` percentile of returns (empyrical's: NaN if any return is NaN)."""
    r, one = _returns(returns)
    if not 0.0 < cutoff < 1.0:
        raise InvalidInputError(f"cutoff must be in (0, 1), got {cutoff!r}")
    if r.size == 0:
        return np.nan
    return _out(np.atleast_1d(np.percentile(r, 100 * cutoff, axis=0)), one)


@deprecated_positional("cutoff")
def conditional_value_at_risk(returns: object, *, cutoff: float = 0.05) -> Result:
    """Return the mean of the worst ``cutoff`` share of returns (NaN skipped)."""
    r, one = _returns(returns)
    if not 0.0 < cutoff < 1.0:
        raise InvalidInputError(f"cutoff must be in (0, 1), got {cutoff!r}")
    n = np.sum(~np.isnan(r), axis=0)
    ordered = np.sort(r, axis=0)  # NaN sorts last
    k = ((n - 1) * cutoff).astype(np.int64) + 1  # how many of the worst returns
    sums = np.cumsum(np.nan_to_num(ordered, nan=0.0), axis=0)
    picked = sums[np.maximum(k - 1, 0), np.arange(r.shape[1])] if r.shape[0] else np.zeros(r.shape[1])
    return _out(np.where(n > 0, picked / k, np.nan), one)


# -- against a benchmark ----------------------------------------------------------------------
def excess_sharpe(returns: object, factor_returns: object) -> Result:
    """Return the mean active return over the tracking error (not annualised)."""
    r, one = _returns(returns)
    active = r - _factor(factor_returns, r)
    std = _zero_dispersion(active, _nanstd(active))
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(_nan_if_short(_nanmean(active) / std, r, 2), one)


def _beta(r: FloatArray, f: FloatArray) -> FloatArray:
    if r.shape[0] < 2:
        return np.full(r.shape[1], np.nan)
    independent = np.where(np.isnan(r), np.nan, f)
    residual = independent - _nanmean(independent)
    covariance = _nanmean(residual * r)
    variance = _nanmean(residual * residual)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance < 1e-30, np.nan, covariance / variance)


@deprecated_positional("risk_free")
def beta(returns: object, factor_returns: object, *, risk_free: float = 0.0) -> Result:
    """Return the OLS beta of returns on the benchmark's returns.

    ``risk_free`` is accepted for empyrical compatibility; a constant rate subtracted from
    both series leaves their covariance, and so beta, unchanged.
    """
    r, one = _returns(returns)
    return _out(_beta(r, _factor(factor_returns, r)), one)


def _alpha(r: FloatArray, f: FloatArray, b: FloatArray, risk_free: float, ann: float) -> FloatArray:
    if r.shape[0] < 2:
        return np.full(r.shape[1], np.nan)
    return (_nanmean((r - risk_free) - b * (f - risk_free)) + 1.0) ** ann - 1.0


@deprecated_positional("risk_free", "period", "annualization")
def alpha(
    returns: object,
    factor_returns: object,
    *,
    risk_free: float = 0.0,
    period: Period = "daily",
    annualization: float | None = None,
) -> Result:
    """Return the annualised alpha: the mean return beyond ``beta * benchmark``, compounded."""
    r, one = _returns(returns)
    f = _factor(factor_returns, r)
    return _out(_alpha(r, f, _beta(r, f), risk_free, _ann(period, annualization)), one)


@deprecated_positional("risk_free", "period", "annualization")
def alpha_beta(
    returns: object,
    factor_returns: object,
    *,
    risk_free: float = 0.0,
    period: Period = "daily",
    annualization: float | None = None,
) -> FloatArray:
    """Return ``[alpha, beta]`` (shape ``(2,)``, or ``(n_series, 2)`` for 2-D returns)."""
    r, one = _returns(returns)
    f = _factor(factor_returns, r)
    b = _beta(r, f)
    out = np.column_stack([_alpha(r, f, b, risk_free, _ann(period, annualization)), b])
    return out[0] if one else out


@deprecated_positional("period")
def capture(returns: object, factor_returns: object, *, period: Period = "daily") -> Result:
    """Return the annual return over the benchmark's annual return."""
    r, one = _returns(returns)
    f = _factor(factor_returns, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(
            np.atleast_1d(annual_return(r, period=period)) / np.atleast_1d(annual_return(f, period=period)), one
        )


def _conditional_capture(r: FloatArray, f: FloatArray, mask: np.ndarray, period: Period) -> FloatArray:
    # annual return of each side over the masked days only (empyrical's up/down filtering)
    n = mask.sum(axis=0).astype(np.float64)
    years = n / _ann(period, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        ar_r = np.prod(np.where(mask, 1.0 + r, 1.0), axis=0) ** (1.0 / years) - 1.0
        ar_f = np.prod(np.where(mask, 1.0 + f, 1.0), axis=0) ** (1.0 / years) - 1.0
        return np.where(n > 0, ar_r / ar_f, np.nan)


def _side_capture(returns: object, factor_returns: object, period: Period, sign: int) -> Result:
    r, one = _returns(returns)
    f = _factor(factor_returns, r)
    both = ~np.isnan(r) & ~np.isnan(f)
    return _out(_conditional_capture(r, f, both & (np.sign(f) == sign), period), one)


@deprecated_positional("period")
def up_capture(returns: object, factor_returns: object, *, period: Period = "daily") -> Result:
    """Return the capture ratio over the days the benchmark rose."""
    return _side_capture(returns, factor_returns, period, 1)


@deprecated_positional("period")
def down_capture(returns: object, factor_returns: object, *, period: Period = "daily") -> Result:
    """Return the capture ratio over the days the benchmark fell."""
    return _side_capture(returns, factor_returns, period, -1)


@deprecated_positional("period")
def up_down_capture(returns: object, factor_returns: object, *, period: Period = "daily") -> Result:
    """Return up capture over down capture."""
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.atleast_1d(up_capture(returns, factor_returns, period=period))
        down = np.atleast_1d(down_capture(returns, factor_returns, period=period))
        out = up / down
    return float(out[0]) if np.ndim(np.asarray(returns)) == 1 else out


# -- rolling ----------------------------------------------------------------------------------
def _rolling(metric: Callable[[FloatArray], Result], returns: object, window: int) -> FloatArray:
    # every window of one series becomes a column: the vectorised metric does the rest
    r, one = _returns(returns)
    if window < 1:
        raise InvalidInputError(f"window must be at least 1, got {window}")
    if r.shape[0] < window:
        return np.empty((0,) if one else (0, r.shape[1]))
    columns = [np.atleast_1d(metric(sliding_window_view(r[:, j], window).T)) for j in range(r.shape[1])]
    out = np.column_stack(columns)
    return out[:, 0] if one else out


@deprecated_positional("window", "risk_free", "period")
def roll_sharpe_ratio(
    returns: object,
    *,
    window: int = 10,
    risk_free: float = 0,
    period: Period = "daily",
    annualization: float | None = None,
) -> FloatArray:
    """Return the Sharpe ratio of each trailing ``window`` (``len - window + 1`` values)."""
    return _rolling(
        lambda w: sharpe_ratio(w, risk_free=risk_free, period=period, annualization=annualization), returns, window
    )


@deprecated_positional("window", "period")
def roll_annual_volatility(returns: object, *, window: int = 10, period: Period = "daily") -> FloatArray:
    """Return the annual volatility of each trailing ``window``."""
    return _rolling(lambda w: annual_volatility(w, period=period), returns, window)


@deprecated_positional("window")
def roll_max_drawdown(returns: object, *, window: int = 10) -> FloatArray:
    """Return the maximum drawdown within each trailing ``window``."""
    return _rolling(max_drawdown, returns, window)


@deprecated_positional("window")
def roll_beta(returns: object, factor_returns: object, *, window: int = 10) -> FloatArray:
    """Return the beta of each trailing ``window`` against the benchmark."""
    r, one = _returns(returns)
    f = _factor(factor_returns, r)
    if window < 1:
        raise InvalidInputError(f"window must be at least 1, got {window}")
    if r.shape[0] < window:
        return np.empty((0,) if one else (0, r.shape[1]))
    out = np.column_stack(
        [
            _beta(sliding_window_view(r[:, j], window).T, sliding_window_view(f[:, j], window).T)
            for j in range(r.shape[1])
        ]
    )
    return out[:, 0] if one else out
