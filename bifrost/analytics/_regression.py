"""Factor regression: excess returns on factor returns by ordinary least squares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bifrost._checks import as_utc_index
from bifrost.errors import InsufficientDataError, InvalidInputError

__all__ = ["FactorRegression", "factor_regression"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FactorRegression:
    """The fit of ``r - rf = alpha + sum(beta_k * factor_k) + e``."""

    names: tuple[str, ...]  # "alpha", then the factors
    params: np.ndarray
    std_errors: np.ndarray
    t_stats: np.ndarray
    r_squared: float
    adj_r_squared: float
    n_obs: int
    periods_per_year: int

    @property
    def alpha(self) -> float:
        """Intercept per period (daily for daily data)."""
        return float(self.params[0])

    @property
    def alpha_annual(self) -> float:
        """Intercept times periods per year (the usual annualisation of a regression alpha)."""
        return self.alpha * self.periods_per_year

    @property
    def betas(self) -> pd.Series:
        """Factor loadings by factor name."""
        return pd.Series(self.params[1:], index=list(self.names[1:]))

    def summary(self) -> pd.DataFrame:
        """Return coefficient, standard error and t-statistic per term."""
        return pd.DataFrame(
            {"coef": self.params, "std_err": self.std_errors, "t_stat": self.t_stats}, index=list(self.names)
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p>OLS on {self.n_obs} periods: R² {self.r_squared:.4f} (adj. {self.adj_r_squared:.4f}), "
            f"alpha {self.alpha_annual:+.2%} a year</p>"
        )
        return head + self.summary().to_html(float_format=lambda v: f"{v:.6g}")


def factor_regression(
    returns: pd.Series,
    factors: pd.DataFrame,
    *,
    risk_free: str | None = "RF",
    periods_per_year: int = 252,
) -> FactorRegression:
    """Regress a return series, in excess of the risk-free rate, on factor returns.

    Parameters
    ----------
    returns
        Simple returns on a DatetimeIndex (decimals).
    factors
        Factor returns on a DatetimeIndex (decimals), e.g. `bifrost.data.read_fama_french`;
        every column but ``risk_free`` is a regressor.
    risk_free
        The column of ``factors`` holding the risk-free rate, subtracted from ``returns``;
        None to regress raw returns.

    Notes
    -----
    Dates present in both (and not NaN) are used. Standard errors are the classical OLS
    ones, ``s² (X'X)⁻¹`` with ``s² = RSS / (n - k)``, as statsmodels' ``OLS`` reports.
    """
    if not isinstance(returns, pd.Series) or not isinstance(returns.index, pd.DatetimeIndex):
        raise InvalidInputError("returns must be a pandas Series on a DatetimeIndex")
    if not isinstance(factors, pd.DataFrame) or not isinstance(factors.index, pd.DatetimeIndex):
        raise InvalidInputError("factors must be a pandas DataFrame on a DatetimeIndex")
    if risk_free is not None and risk_free not in factors.columns:
        raise InvalidInputError(f"factors has no risk-free column {risk_free!r}; columns: {list(factors.columns)}")
    regressors = [c for c in factors.columns if c != risk_free]
    if not regressors:
        raise InvalidInputError("factors has no factor columns besides the risk-free rate")
    # naive dates are UTC; both on the UTC clock, so that the join matches instants
    joined = pd.concat(
        [returns.set_axis(as_utc_index(returns.index)).rename("__r__"), factors.set_axis(as_utc_index(factors.index))],
        axis=1,
        join="inner",
    ).dropna()
    k = len(regressors) + 1
    n = len(joined)
    if n <= k:
        raise InsufficientDataError(f"only {n} dates in common between returns and factors; need more than {k}")
    y = joined["__r__"].to_numpy(dtype=np.float64)
    if risk_free is not None:
        y = y - joined[risk_free].to_numpy(dtype=np.float64)
    x = np.column_stack([np.ones(n), joined[regressors].to_numpy(dtype=np.float64)])
    params, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ params
    rss = float(resid @ resid)
    centred = y - y.mean()
    tss = float(centred @ centred)
    sigma2 = rss / (n - k)
    cov = sigma2 * np.linalg.inv(x.T @ x)
    std_errors = np.sqrt(np.diag(cov))
    r2 = 1.0 - rss / tss if tss > 0 else np.nan
    return FactorRegression(
        names=("alpha", *map(str, regressors)),
        params=params,
        std_errors=std_errors,
        t_stats=params / std_errors,
        r_squared=r2,
        adj_r_squared=1.0 - (1.0 - r2) * (n - 1) / (n - k),
        n_obs=n,
        periods_per_year=periods_per_year,
    )
