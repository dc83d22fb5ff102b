"""Value at Risk and expected shortfall of a return series: historical, parametric, filtered.

Conventions (every function):

* ``returns`` are simple daily decimals (0.01 = 1%), oldest first;
* VaR and ES are **positive loss fractions** (0.02 = a 2% loss), floored at zero;
* ``confidence`` is the VaR level in (0, 1): 0.99 looks at the worst 1%;
* ``horizon_days`` scales one-day figures by the square root of time (i.i.d. returns) for
  the historical methods, and the mean by ``h`` and the volatility by ``sqrt(h)`` for the
  parametric ones.

Historical quantile convention: the VaR is an **observed** return, the ``lower`` order
statistic at position ``(n − 1)(1 − confidence)`` (numpy's ``method="lower"``), so it
never interpolates towards smaller losses; the ES is the mean of the returns at or
below it. Ten hand-sorted returns at 80%: position 1.8 → the second worst.

References
----------
J. Boudoukh, M. Richardson, R. Whitelaw, "The best of both worlds" (1998), age weighting;
G. Barone-Adesi, K. Giannopoulos, L. Vosper, "VaR without correlations for portfolios of
derivative securities" (1999), filtered historical simulation; J. P. Morgan/Reuters,
*RiskMetrics — Technical Document* (1996), EWMA with λ = 0.94; E. A. Cornish, R. A.
Fisher, "Moments and cumulants in the specification of distributions" (1938).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Final, Literal, get_args

import numpy as np
import pandas as pd

from bifrost._checks import as_choice, as_float_array_1d, as_fraction, as_positive_int, deprecated_positional
from bifrost._typing import FloatArray
from bifrost.errors import InsufficientDataError, InvalidInputError

__all__ = [
    "MAX_DAILY_RETURN",
    "MAX_HORIZON_DAYS",
    "MONEY_MAX",
    "ewma_volatility",
    "filtered_historical_es",
    "filtered_historical_var",
    "historical_es",
    "historical_var",
    "parametric_es",
    "parametric_var",
    "var_es_many",
]

_N = NormalDist()
Distribution = Literal["normal", "cornish_fisher"]


MAX_HORIZON_DAYS: Final = 250
"""The longest horizon, in trading days (one year).

Every method scales daily risk to the horizon (by ``sqrt(h)``, or ``h`` for the mean) on
the assumption that daily returns are i.i.d.; beyond a year that assumption says nothing
about the book (positions, volatility and the mean all change), and a thousand-year VaR
of 30,000% is a number no one can use. Regulatory horizons are 1 and 10 days."""

MONEY_MAX: Final = 1e15
"""The largest amount of money (cash, a position's value) risk accepts: 1e15, ten times
the value of every listed share in the world (the ledger's Decimal bound, too)."""

MAX_DAILY_RETURN: Final = 100.0
"""The largest daily simple return accepted (+10,000%); a loss is bounded by −100%.

No listed asset has risen a hundredfold in a day; a return above this is a data error
(an unadjusted reverse split, a price in the wrong unit) or not a return at all."""


def _returns(values: Any, name: str = "returns", min_obs: int = 2) -> FloatArray:
    # the boundary check of a return series: once per request, then the kernels trust it
    r = as_float_array_1d(values, name, min_obs=min_obs)
    problem = _return_matrix_problem(r[:, None], None)
    if problem is not None:
        bad = ~np.isfinite(r) | (r <= -1.0) | (r > MAX_DAILY_RETURN)
        i = int(np.flatnonzero(bad)[0])
        if not np.isfinite(r[i]):
            raise InvalidInputError(f"{name} must be finite; observation {i} is {r[i]}")
        if r[i] <= -1.0:
            raise InvalidInputError(f"{name} are simple returns above -1; observation {i} is {r[i]}")
        raise InvalidInputError(
            f"{name} are daily simple returns of at most {MAX_DAILY_RETURN:g} (+{MAX_DAILY_RETURN:.0%}); "
            f"observation {i} is {r[i]:g}"
        )
    return r


def _return_matrix_problem(r: FloatArray, names: Any) -> str | None:
    # why a days × assets matrix of daily returns is refused, naming the asset and the day; None if it is not
    bad = ~np.isfinite(r) | (r <= -1.0) | (r > MAX_DAILY_RETURN)
    if not bad.any():
        return None
    t, j = (int(x) for x in np.argwhere(bad)[0])
    name = names[j] if names is not None and j < len(names) else f"series {j}"
    value = r[t, j]
    if not np.isfinite(value):
        return f"returns must be finite; {name} day {t} is {value}"
    return f"returns must be daily simple returns above -1 and at most {MAX_DAILY_RETURN:g}; {name} day {t} is {value}"


def _check(confidence: object, horizon_days: object) -> tuple[float, int]:
    # the VaR level and the horizon of every risk estimate, checked once at the public boundary
    return as_fraction(confidence, "confidence"), as_positive_int(
        horizon_days,
        "horizon_days",
        maximum=MAX_HORIZON_DAYS,
        unit="trading days",
        why="a year: square-root-of-time scaling of daily risk means nothing beyond it",
    )


def _decay(decay: object) -> float:
    return as_fraction(decay, "decay")


def _age_weights(n: int, decay: float) -> FloatArray:
    w = decay ** np.arange(n - 1, -1, -1, dtype=np.float64)  # the newest return weighs 1
    return np.asarray(w / w.sum(), dtype=np.float64)


def _tail(r: FloatArray, confidence: float, decay: float | None) -> tuple[float, float]:
    # (quantile, mean of the tail at or below it) of the one-day returns
    if decay is None:
        q = float(np.quantile(r, 1.0 - confidence, method="lower"))
        return q, float(r[r <= q].mean())
    order = np.argsort(r, kind="stable")
    w = _age_weights(r.size, decay)[order]
    cum = np.cumsum(w)
    k = int(np.searchsorted(cum, 1.0 - confidence, side="left"))
    k = min(k, r.size - 1)
    sorted_r = r[order]
    return float(sorted_r[k]), float(np.dot(w[: k + 1], sorted_r[: k + 1]) / cum[k])


# -- kernels: checked inputs only (a return series from `_returns`, options from `_check`) --
def _historical_var(r: FloatArray, confidence: float, horizon_days: int, decay: float | None = None) -> float:
    q, _ = _tail(r, confidence, decay)
    return float(max(-q, 0.0) * math.sqrt(horizon_days))


def _historical_es(r: FloatArray, confidence: float, horizon_days: int, decay: float | None = None) -> float:
    _, tail_mean = _tail(r, confidence, decay)
    return float(max(-tail_mean, 0.0) * math.sqrt(horizon_days))


def _parametric_var(
    r: FloatArray, confidence: float, horizon_days: int, distribution: Distribution = "normal"
) -> float:
    mu, sigma, skew, kurt = _moments(r)
    z = _N.inv_cdf(1.0 - confidence)
    if distribution == "cornish_fisher":
        z = float(_cf_quantile(z, skew, kurt))
    return float(max(-(mu * horizon_days + z * sigma * math.sqrt(horizon_days)), 0.0))


def _parametric_es(r: FloatArray, confidence: float, horizon_days: int, distribution: Distribution = "normal") -> float:
    mu, sigma, skew, kurt = _moments(r)
    alpha = 1.0 - confidence
    if distribution == "normal":
        z = _N.inv_cdf(alpha)
        tail = -_N.pdf(z) / alpha
    else:
        u = (np.arange(2000) + 0.5) / 2000 * alpha
        zs = np.array([_N.inv_cdf(float(p)) for p in u])
        tail = float(np.mean(_cf_quantile(zs, skew, kurt)))
    return float(max(-(mu * horizon_days + tail * sigma * math.sqrt(horizon_days)), 0.0))


def _ewma_volatility(r: FloatArray, decay: float, seed_days: int) -> FloatArray:
    var = np.empty(r.size + 1)
    var[0] = float(np.mean(r[: max(1, min(seed_days, r.size))] ** 2))
    for t in range(r.size):
        var[t + 1] = decay * var[t] + (1.0 - decay) * r[t] * r[t]
    return np.asarray(np.sqrt(var), dtype=np.float64)


def _filtered(r: FloatArray, decay: float) -> FloatArray:
    vol = _ewma_volatility(r, decay, 30)
    if (vol[:-1] == 0.0).any():
        raise InsufficientDataError(
            "filtered historical simulation needs non-zero EWMA volatility (returns are all zero)"
        )
    return np.asarray(r / vol[:-1] * vol[-1], dtype=np.float64)  # residuals rescaled to today's volatility


def _filtered_historical_var(r: FloatArray, confidence: float, horizon_days: int, decay: float = 0.94) -> float:
    return _historical_var(_filtered(r, decay), confidence, horizon_days)


def _filtered_historical_es(r: FloatArray, confidence: float, horizon_days: int, decay: float = 0.94) -> float:
    return _historical_es(_filtered(r, decay), confidence, horizon_days)


# -- the public functions: validate once, then the kernel -------------------------------------
@deprecated_positional("confidence", "horizon_days")
def historical_var(
    returns: Any, *, confidence: float = 0.99, horizon_days: int = 1, decay: float | None = None
) -> float:
    """Estimate VaR by historical simulation.

    Parameters
    ----------
    returns : array_like
        Daily simple returns, 1-D, oldest first.
    confidence : float, default 0.99
        VaR level in (0, 1).
    horizon_days : int, default 1
        Horizon; the one-day VaR is scaled by ``sqrt(horizon_days)``.
    decay : float, optional
        Age weighting (Boudoukh–Richardson–Whitelaw): the return ``k`` days old weighs
        ``decay**k``; the VaR is the return at which the cumulative weight of the sorted
        returns reaches ``1 - confidence``. None: equal weights (the lower order statistic).

    Returns
    -------
    float
        The VaR as a positive loss fraction.

    Examples
    --------
    >>> r = [-0.05, -0.03, -0.02, -0.01, 0.0, 0.01, 0.01, 0.02, 0.03, 0.04]
    >>> historical_var(r, confidence=0.80)
    0.03
    """
    r = _returns(returns)
    c, h = _check(confidence, horizon_days)
    return _historical_var(r, c, h, None if decay is None else _decay(decay))


@deprecated_positional("confidence", "horizon_days")
def historical_es(
    returns: Any, *, confidence: float = 0.99, horizon_days: int = 1, decay: float | None = None
) -> float:
    """Estimate expected shortfall by historical simulation: the mean loss at or beyond the VaR.

    Examples
    --------
    >>> r = [-0.05, -0.03, -0.02, -0.01, 0.0, 0.01, 0.01, 0.02, 0.03, 0.04]
    >>> round(historical_es(r, confidence=0.80), 10)
    0.04
    """
    r = _returns(returns)
    c, h = _check(confidence, horizon_days)
    return _historical_es(r, c, h, None if decay is None else _decay(decay))


def _moments(r: FloatArray) -> tuple[float, float, float, float]:
    mu = float(r.mean())
    sigma = float(r.std(ddof=1))
    if sigma == 0.0:
        return mu, 0.0, 0.0, 0.0
    z = (r - mu) / r.std(ddof=0)
    return mu, sigma, float((z**3).mean()), float((z**4).mean() - 3.0)


def _cf_quantile(z: float | FloatArray, skew: float, kurt: float) -> Any:
    # Cornish–Fisher expansion of a standard normal quantile for skewness and excess kurtosis
    return z + (z**2 - 1) * skew / 6 + (z**3 - 3 * z) * kurt / 24 - (2 * z**3 - 5 * z) * skew**2 / 36


@deprecated_positional("confidence", "horizon_days")
def parametric_var(
    returns: Any, *, confidence: float = 0.99, horizon_days: int = 1, distribution: Distribution = "normal"
) -> float:
    """Estimate VaR from the returns' mean and volatility (delta-normal), or Cornish–Fisher.

    ``VaR = −(μ h + z σ √h)`` with ``z = Φ⁻¹(1 − confidence)``, ``μ`` the sample mean and
    ``σ`` the sample standard deviation (ddof=1). ``cornish_fisher`` replaces ``z`` by its
    expansion for the sample skewness and excess kurtosis.

    Examples
    --------
    >>> round(parametric_var([0.01, -0.01] * 50, confidence=0.99), 6)  # μ = 0, σ = 0.01005, z = -2.3263
    0.023381
    """
    r = _returns(returns)
    c, h = _check(confidence, horizon_days)
    return _parametric_var(r, c, h, as_choice(distribution, "distribution", get_args(Distribution)))


@deprecated_positional("confidence", "horizon_days")
def parametric_es(
    returns: Any, *, confidence: float = 0.99, horizon_days: int = 1, distribution: Distribution = "normal"
) -> float:
    """Estimate expected shortfall parametrically.

    Normal: ``ES = −(μ h − σ √h φ(z) / (1 − confidence))``. Cornish–Fisher: the mean of the
    expanded quantile over the tail (midpoint rule on 2,000 tail probabilities).
    """
    r = _returns(returns)
    c, h = _check(confidence, horizon_days)
    return _parametric_es(r, c, h, as_choice(distribution, "distribution", get_args(Distribution)))


@deprecated_positional("decay")
def ewma_volatility(returns: Any, *, decay: float = 0.94, seed_days: int = 30) -> FloatArray:
    """Return RiskMetrics EWMA volatility: ``σ²ₜ = λ σ²ₜ₋₁ + (1 − λ) r²ₜ₋₁``, one value per day plus the forecast.

    The variance is seeded with the mean square of the first ``seed_days`` returns. Element
    ``t`` is the volatility known before day ``t``; the last element (index ``n``) is the
    forecast for the next day.
    """
    r = _returns(returns)
    days = as_positive_int(seed_days, "seed_days", maximum=1_000_000)
    return _ewma_volatility(r, _decay(decay), days)


@deprecated_positional("confidence", "horizon_days")
def filtered_historical_var(
    returns: Any, *, confidence: float = 0.99, horizon_days: int = 1, decay: float = 0.94
) -> float:
    """Estimate VaR by filtered historical simulation: EWMA-standardised residuals at today's volatility."""
    r = _returns(returns)
    c, h = _check(confidence, horizon_days)
    return _filtered_historical_var(r, c, h, _decay(decay))


@deprecated_positional("confidence", "horizon_days")
def filtered_historical_es(
    returns: Any, *, confidence: float = 0.99, horizon_days: int = 1, decay: float = 0.94
) -> float:
    """Estimate expected shortfall by filtered historical simulation."""
    r = _returns(returns)
    c, h = _check(confidence, horizon_days)
    return _filtered_historical_es(r, c, h, _decay(decay))


ManyMethod = Literal["historical", "parametric"]


@deprecated_positional("confidence", "horizon_days")
def var_es_many(
    returns: Any,
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
    method: ManyMethod = "historical",
) -> pd.DataFrame:
    """VaR and ES of many return series at once: one row per column of ``returns``.

    ``returns`` is 2-D, days × series (an array or a DataFrame, whose columns name the
    rows). Each row equals `historical_var`/`historical_es` or `parametric_var`/
    `parametric_es` (normal) of that column, computed in one vectorised pass.

    Examples
    --------
    >>> r = [[-0.05, 0.01], [-0.03, -0.02], [0.02, 0.03], [0.01, -0.04], [0.0, 0.0]]
    >>> var_es_many(r, confidence=0.75)["var"].round(6).tolist()
    [0.03, 0.02]
    """
    names = list(returns.columns) if isinstance(returns, pd.DataFrame) else None
    try:
        r = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"returns must be numeric, got {type(returns).__name__}") from exc
    if r.ndim != 2:
        raise InvalidInputError(f"returns must be 2-D (days × series), got shape {r.shape}")
    if r.shape[0] < 2 or r.shape[1] < 1:
        raise InsufficientDataError(f"returns need at least 2 days and 1 series, got shape {r.shape}")
    problem = _return_matrix_problem(r, names)
    if problem is not None:
        raise InvalidInputError(problem)
    c, days = _check(confidence, horizon_days)
    return _var_es_many(r, names, c, days, as_choice(method, "method", get_args(ManyMethod)))


def _var_es_many(
    r: FloatArray, names: list[Any] | None, confidence: float, horizon_days: int, method: ManyMethod
) -> pd.DataFrame:
    h = math.sqrt(horizon_days)
    if method == "historical":
        n = r.shape[0]
        # numpy's own "lower" position (as the one-series functions use), then one partition per series
        k = int(np.quantile(np.arange(n, dtype=np.float64), 1.0 - confidence, method="lower"))
        part = np.partition(np.ascontiguousarray(r.T), k, axis=1)
        q = part[:, k]
        ties = (part[:, k + 1 :] <= q[:, None]).sum(axis=1)  # returns equal to the VaR beyond position k
        tail_mean = (part[:, : k + 1].sum(axis=1) + ties * q) / (k + 1 + ties)
        var, es = np.maximum(-q, 0.0) * h, np.maximum(-tail_mean, 0.0) * h
    else:
        mu, sigma = r.mean(axis=0), r.std(axis=0, ddof=1)
        z = _N.inv_cdf(1.0 - confidence)
        var = np.maximum(-(mu * horizon_days + z * sigma * h), 0.0)
        es = np.maximum(-(mu * horizon_days - _N.pdf(z) / (1.0 - confidence) * sigma * h), 0.0)
    return pd.DataFrame({"var": var, "es": es}, index=names)
