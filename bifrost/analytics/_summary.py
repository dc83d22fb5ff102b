"""`perf_stats`: the whole metric table at once, sharing the work between metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from bifrost._checks import as_finite_float
from bifrost._typing import FloatArray
from bifrost.analytics import _metrics as m
from bifrost.analytics._kernels import STATS, column_stats
from bifrost.errors import InvalidInputError

__all__ = ["PerfStats", "perf_stats"]

_UNARY = (
    "cum_returns_final", "annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio",
    "downside_risk", "calmar_ratio", "omega_ratio", "max_drawdown", "max_drawdown_duration",
    "tail_ratio", "stability_of_timeseries", "value_at_risk", "conditional_value_at_risk",
)  # fmt: skip
_BINARY = ("alpha", "beta", "excess_sharpe", "up_capture", "down_capture")


@dataclass(frozen=True, slots=True, kw_only=True)
class PerfStats:
    """A table of performance metrics: one row per metric, one column per series."""

    series: tuple[str, ...]
    metrics: Mapping[str, FloatArray]

    def __getitem__(self, metric: str) -> FloatArray:
        try:
            return self.metrics[metric]
        except KeyError:
            raise InvalidInputError(f"no metric {metric!r}; have {list(self.metrics)}") from None

    def to_frame(self) -> pd.DataFrame:
        """Return the table: metrics as rows, series as columns."""
        return pd.DataFrame(dict(self.metrics), index=list(self.series)).T

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        shown = frame.iloc[:, :12]
        more = f"<p>… and {frame.shape[1] - 12} more series</p>" if frame.shape[1] > 12 else ""
        return shown.to_html(float_format=lambda v: f"{v:.4f}") + more


def perf_stats(
    returns: object,
    factor_returns: object | None = None,
    *,
    names: Sequence[str] | None = None,
    period: m.Period = "daily",
    risk_free: float = 0.0,
    annualization: float | None = None,
) -> PerfStats:
    """Compute every metric for every series (and against ``factor_returns`` when given).

    Same conventions and results as the individual functions of `bifrost.analytics`
    (empyrical's); series without missing returns take a shared fast path.

    Parameters
    ----------
    returns
        Simple returns, 1-D (one series) or 2-D (time × series).
    factor_returns
        The benchmark's simple returns, 1-D or one column per series.
    names
        Series names for the table's columns (default ``0, 1, ...``).
    period
        The returns' spacing, for the annualisation factor (252 for ``daily``).
    annualization
        Periods a year, overriding ``period``'s factor: for intraday returns
        (`bifrost.data.periods_per_year` of the bars' frequency, e.g. 19,656 for 5-minute bars).
        The capture ratios keep ``period``'s factor.
    """
    if annualization is not None:
        annualization = as_finite_float(annualization, "annualization", minimum=1.0, maximum=1e8)
    ann = m._ann(period, annualization)
    r, _ = m._returns(returns)
    f = None if factor_returns is None else m._factor(factor_returns, r)
    n_series = r.shape[1]
    labels = tuple(str(i) for i in range(n_series)) if names is None else tuple(map(str, names))
    if len(labels) != n_series:
        raise InvalidInputError(f"names has {len(labels)} entries for {n_series} series")
    wanted = _UNARY + (_BINARY if f is not None else ())
    out = {k: np.full(n_series, np.nan) for k in wanted}
    # complete series (and benchmark) take the compiled path; the rest the NaN-aware one
    clean = np.asarray(~np.isnan(r).any(axis=0) & (r.shape[0] >= 2))
    if f is not None:
        clean &= ~np.isnan(f).any(axis=0)
    for part, compute in ((clean, _fast), (~clean, _general)):
        if part.any():
            values = compute(r[:, part], None if f is None else f[:, part], period, ann, risk_free)
            for k in wanted:
                out[k][part] = values[k]
    return PerfStats(series=labels, metrics=MappingProxyType(out))


def _general(r: FloatArray, f: FloatArray | None, period: m.Period, ann: float, rf: float) -> dict[str, FloatArray]:
    # series with gaps: the individual functions, each NaN-aware
    a = np.atleast_1d
    out = {
        "cum_returns_final": a(m.cum_returns_final(r)),
        "annual_return": a(m.annual_return(r, annualization=ann)),
        "annual_volatility": a(m.annual_volatility(r, annualization=ann)),
        "sharpe_ratio": a(m.sharpe_ratio(r, risk_free=rf, annualization=ann)),
        "sortino_ratio": a(m.sortino_ratio(r, required_return=0, annualization=ann)),
        "downside_risk": a(m.downside_risk(r, required_return=0, annualization=ann)),
        "calmar_ratio": a(m.calmar_ratio(r, annualization=ann)),
        "omega_ratio": a(m.omega_ratio(r, risk_free=rf)),
        "max_drawdown": a(m.max_drawdown(r)),
        "max_drawdown_duration": a(m.max_drawdown_duration(r)),
        "tail_ratio": a(m.tail_ratio(r)),
        "stability_of_timeseries": a(m.stability_of_timeseries(r)),
        "value_at_risk": a(m.value_at_risk(r)),
        "conditional_value_at_risk": a(m.conditional_value_at_risk(r)),
    }
    if f is not None:
        ab = np.asarray(m.alpha_beta(r, f, risk_free=rf, annualization=ann))
        out |= {
            "alpha": ab[:, 0],
            "beta": ab[:, 1],
            "excess_sharpe": a(m.excess_sharpe(r, f)),
            "up_capture": a(m.up_capture(r, f, period=period)),
            "down_capture": a(m.down_capture(r, f, period=period)),
        }
    return out


def _fast(r: FloatArray, f: FloatArray | None, period: m.Period, ann: float, rf: float) -> dict[str, FloatArray]:
    # complete series: the compiled kernel, one series per row of a contiguous copy
    x = np.ascontiguousarray(r.T)
    fx = np.ascontiguousarray(f.T) if f is not None else np.empty((r.shape[1], 0))
    table = column_stats(x, fx, f is not None, ann, rf)
    return {name: table[i] for i, name in enumerate(STATS)}
