"""VaR backtesting: Kupiec's proportion of failures, Christoffersen's independence, Basel zones.

References
----------
P. Kupiec, "Techniques for verifying the accuracy of risk measurement models" (1995);
P. Christoffersen, "Evaluating interval forecasts" (1998); Basel Committee, "Supervisory
framework for the use of backtesting in conjunction with the internal models approach"
(1996): green while the cumulative binomial probability of the exceptions is below 95%,
yellow below 99.99%, red above (0–4, 5–9 and 10+ exceptions in 250 days at 99%).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from bifrost._checks import as_choice, as_fraction, as_positive_int, deprecated_positional
from bifrost._typing import FloatArray
from bifrost.errors import InsufficientDataError, InvalidInputError
from bifrost.risk._var import (
    _filtered_historical_var,
    _historical_var,
    _parametric_var,
    _returns,
)

__all__ = ["VarBacktest", "christoffersen", "kupiec_pof", "traffic_light", "var_backtest"]

Zone = Literal["green", "yellow", "red"]
BacktestMethod = Literal["historical", "parametric", "filtered_historical"]
MAX_OBSERVATIONS = 1_000_000  # the binomial sum has a term per exception: a hostile count would run for hours


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def _chi2_sf(stat: float, dof: int) -> float:
    # survival function of chi-squared with 1 or 2 degrees of freedom, in closed form
    if stat <= 0:
        return 1.0
    if dof == 1:
        return math.erfc(math.sqrt(stat / 2.0))
    if dof == 2:
        return math.exp(-stat / 2.0)
    raise ValueError(dof)


def _counts(exceptions: object, observations: object) -> tuple[int, int]:
    x = as_positive_int(exceptions, "exceptions", minimum=0)
    n = as_positive_int(observations, "observations", minimum=0)
    if n == 0 or x > n:
        raise InvalidInputError(f"need 0 <= exceptions <= observations and observations > 0, got {x}, {n}")
    return x, n


@deprecated_positional("confidence")
def kupiec_pof(exceptions: int, observations: int, *, confidence: float = 0.99) -> tuple[float, float]:
    """Return Kupiec's proportion-of-failures likelihood ratio and its p-value (χ², 1 dof).

    ``LR = −2 ln[(1−p)^(n−x) p^x] + 2 ln[(1−x/n)^(n−x) (x/n)^x]`` with ``p = 1 − confidence``.

    Examples
    --------
    >>> stat, p = kupiec_pof(5, 250, confidence=0.99)
    >>> round(stat, 4), round(p, 4)
    (1.9568, 0.1619)
    """
    x, n = _counts(exceptions, observations)
    return _kupiec(x, n, as_fraction(confidence, "confidence"))


def _kupiec(x: int, n: int, confidence: float) -> tuple[float, float]:
    p = 1.0 - confidence
    rate = x / n
    null = _xlogy(n - x, 1.0 - p) + _xlogy(x, p)
    alt = _xlogy(n - x, 1.0 - rate) + _xlogy(x, rate)
    stat = max(-2.0 * (null - alt), 0.0) + 0.0  # + 0.0: never -0.0
    return stat, _chi2_sf(stat, 1)


def christoffersen(exceptions: Any) -> tuple[float, float]:
    """Return Christoffersen's independence likelihood ratio and p-value (χ², 1 dof).

    ``exceptions`` is the day-by-day 0/1 series of VaR breaches. The test compares the
    probability of a breach after a breach (π₁) with that after a quiet day (π₀).

    Examples
    --------
    >>> stat, p = christoffersen([0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0])
    >>> round(stat, 4), round(p, 4)
    (3.0436, 0.0811)
    """
    e = np.asarray(exceptions)
    if e.ndim != 1 or e.size < 2:
        raise InvalidInputError(f"exceptions must be a 1-D 0/1 series of at least 2 days, got shape {e.shape}")
    if not np.isin(e, (0, 1)).all():
        raise InvalidInputError("exceptions must be 0 or 1 on every day")
    return _christoffersen(e)


def _christoffersen(e: Any) -> tuple[float, float]:
    prev, curr = e[:-1].astype(bool), e[1:].astype(bool)
    n00 = int((~prev & ~curr).sum())
    n01 = int((~prev & curr).sum())
    n10 = int((prev & ~curr).sum())
    n11 = int((prev & curr).sum())
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    null = _xlogy(n00 + n10, 1.0 - pi) + _xlogy(n01 + n11, pi)
    alt = _xlogy(n00, 1.0 - pi0) + _xlogy(n01, pi0) + _xlogy(n10, 1.0 - pi1) + _xlogy(n11, pi1)
    stat = max(-2.0 * (null - alt), 0.0) + 0.0  # + 0.0: never -0.0
    return stat, _chi2_sf(stat, 1)


def _binom_cdf(x: int, n: int, p: float) -> float:
    terms = [
        math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + _xlogy(k, p) + _xlogy(n - k, 1 - p))
        for k in range(x + 1)
    ]
    return min(1.0, math.fsum(terms))


@deprecated_positional("confidence")
def traffic_light(exceptions: int, observations: int = 250, *, confidence: float = 0.99) -> Zone:
    """Return the Basel zone of ``exceptions`` in ``observations`` days of ``confidence`` VaR.

    Examples
    --------
    >>> [traffic_light(x) for x in (4, 5, 9, 10)]
    ['green', 'yellow', 'yellow', 'red']
    """
    x, n = _counts(exceptions, observations)
    c = as_fraction(confidence, "confidence")
    if n > MAX_OBSERVATIONS:
        raise InvalidInputError(f"observations must be at most 1,000,000 days (4,000 years), got {n:,}")
    return _traffic_light(x, n, c)


def _traffic_light(x: int, n: int, confidence: float) -> Zone:
    cum = _binom_cdf(x, n, 1.0 - confidence)
    if cum < 0.95:
        return "green"
    return "yellow" if cum < 0.9999 else "red"


@dataclass(frozen=True, slots=True, kw_only=True)
class VarBacktest:
    """A rolling VaR forecast against what happened: exceptions, tests and the zone."""

    method: str
    confidence: float
    window: int
    var: pd.Series  # the forecast for each day, from the `window` days before it
    returns: pd.Series  # what happened that day
    exceptions: pd.Series  # 1 where the loss exceeded the forecast
    kupiec: tuple[float, float]
    christoffersen: tuple[float, float]
    zone: Zone  # over every forecast day
    zone_last_250: Zone

    @property
    def n_exceptions(self) -> int:
        """Days the loss exceeded the VaR."""
        return int(self.exceptions.sum())

    @property
    def expected_exceptions(self) -> float:
        """``(1 − confidence) × days``."""
        return (1.0 - self.confidence) * len(self.exceptions)

    def report(self) -> pd.DataFrame:
        """Return the exception days: date, return, VaR."""
        days = self.exceptions[self.exceptions == 1].index
        return pd.DataFrame({"return": self.returns[days], "var": self.var[days]})

    def _repr_html_(self) -> str:
        return (
            f"<b>VaR backtest</b> {self.method}, {self.confidence:.1%}, window {self.window}: "
            f"{self.n_exceptions} exception{'' if self.n_exceptions == 1 else 's'} in {len(self.exceptions)} days "
            f"(expected "
            f"{self.expected_exceptions:.1f}); Kupiec p = {self.kupiec[1]:.3f}, Christoffersen p = "
            f"{self.christoffersen[1]:.3f}; zone <b>{self.zone}</b> (last 250 days: {self.zone_last_250})"
        )


_KERNELS: dict[str, Callable[..., float]] = {
    "historical": _historical_var,
    "parametric": _parametric_var,
    "filtered_historical": _filtered_historical_var,
}


def var_backtest(
    returns: Any,
    *,
    method: BacktestMethod = "historical",
    confidence: float = 0.99,
    window: int = 250,
) -> VarBacktest:
    """Forecast each day's one-day VaR from the ``window`` days before it and count the breaches.

    Parameters
    ----------
    returns : Series or array_like
        Daily simple returns of the portfolio, oldest first (a Series keeps its dates).
    method
        ``historical``, ``parametric`` (normal) or ``filtered_historical`` (EWMA λ = 0.94).

    Raises
    ------
    InvalidInputError
        On an unknown method, a window shorter than 20 days, or fewer returns than
        ``window + 1``.
    """
    index = returns.index if isinstance(returns, pd.Series) else pd.RangeIndex(len(returns))
    r = _returns(returns.to_numpy() if isinstance(returns, pd.Series) else returns)
    confidence = as_fraction(confidence, "confidence")
    fn = _KERNELS[as_choice(method, "method", get_args(BacktestMethod))]
    window = as_positive_int(window, "window", minimum=20)
    if r.size <= window:
        raise InsufficientDataError(f"need more than window ({window}) returns, got {r.size}")
    var: FloatArray = np.array([fn(r[t - window : t], confidence, 1) for t in range(window, r.size)])
    realised = r[window:]
    hits = (-realised > var).astype(np.int64)
    days = index[window:]
    n, x = hits.size, int(hits.sum())
    last = hits[-250:]
    return VarBacktest(
        method=method,
        confidence=confidence,
        window=window,
        var=pd.Series(var, index=days, name="var"),
        returns=pd.Series(realised, index=days, name="return"),
        exceptions=pd.Series(hits, index=days, name="exception"),
        kupiec=_kupiec(x, n, confidence),
        christoffersen=_christoffersen(hits),
        zone=_traffic_light(x, n, confidence),
        zone_last_250=_traffic_light(int(last.sum()), last.size, confidence),
    )
