"""The tearsheet: plotly figures of a return series, in Jupyter and as one offline HTML file."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bifrost._checks import as_finite_float
from bifrost._figures import figures_html, offline_page
from bifrost.analytics import _metrics as m
from bifrost.analytics._summary import perf_stats
from bifrost.data import Store
from bifrost.errors import InsufficientDataError, InvalidInputError

__all__ = ["Tearsheet", "portfolio_tearsheet", "tearsheet"]

_WINDOW = 126  # rolling statistics over about six months of trading days


@dataclass(frozen=True, slots=True, kw_only=True)
class Tearsheet:
    """Named plotly figures and a metrics table; ``to_html`` writes a self-contained page."""

    title: str
    figures: tuple[tuple[str, Any], ...]  # (name, plotly Figure)
    stats: pd.DataFrame

    def to_html(self, path: str | Path | None = None) -> str:
        """Return (and optionally write) one HTML page with plotly.js embedded: no CDN, no network."""
        stats = self.stats.to_html(float_format=lambda v: f"{v:.4f}", classes="stats")
        return offline_page(self.title, stats, self.figures, path)

    def _repr_html_(self) -> str:
        stats = self.stats.to_html(float_format=lambda v: f"{v:.4f}")
        return f"<h3>{html.escape(self.title)}</h3>" + stats + figures_html(self.figures)


def tearsheet(
    returns: pd.Series,
    benchmark: pd.Series | None = None,
    *,
    exposure: pd.DataFrame | None = None,
    contributions: pd.Series | None = None,
    title: str = "Tearsheet",
    annualization: float | None = None,
) -> Tearsheet:
    """Build the tearsheet of simple ``returns`` (a Series on a DatetimeIndex), daily by default.

    Figures: cumulative return against ``benchmark``, underwater drawdown, monthly returns,
    rolling Sharpe and beta, the return distribution, and — when given — ``exposure``
    (columns such as long, short, gross, net) and ``contributions`` (P&L by symbol).
    ``annualization`` is the returns' periods a year (default 252, daily; for intraday
    returns `bifrost.data.periods_per_year` of their frequency).
    """
    import plotly.graph_objects as go

    if not isinstance(returns, pd.Series) or not isinstance(returns.index, pd.DatetimeIndex):
        raise InvalidInputError("returns must be a pandas Series on a DatetimeIndex")
    if annualization is not None:
        annualization = as_finite_float(annualization, "annualization", minimum=1.0, maximum=1e8)
    r = returns.dropna()
    if len(r) < 2:
        raise InsufficientDataError(f"a tearsheet needs at least 2 returns, got {len(r)}")
    b = None if benchmark is None else benchmark.reindex(r.index)
    figures: list[tuple[str, Any]] = []

    growth = go.Figure(go.Scatter(x=r.index, y=m.cum_returns(r.to_numpy(), starting_value=1.0), name="strategy"))
    if b is not None:
        growth.add_trace(
            go.Scatter(
                x=r.index, y=m.cum_returns(b.fillna(0).to_numpy(), starting_value=1.0), name=str(b.name or "benchmark")
            )
        )
    growth.update_layout(yaxis_title="growth of 1")
    figures.append(("Equity", growth))

    dd = m.drawdown_series(r.to_numpy())
    figures.append(("Drawdown", go.Figure(go.Scatter(x=r.index, y=dd, fill="tozeroy", name="drawdown"))))

    when = pd.DatetimeIndex(r.index)
    monthly = (1 + r).groupby([when.year, when.month]).prod() - 1
    grid = monthly.unstack()
    heat = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=[f"{int(c):02d}" for c in grid.columns],
            y=[str(i) for i in grid.index],
            colorscale="RdYlGn",
            zmid=0,
        )
    )
    figures.append(("Monthly returns", heat))

    rolling = go.Figure()
    unit = "d" if annualization in (None, 252) else "bars"  # intraday returns roll over bars, not days
    if len(r) >= _WINDOW:
        ends = r.index[_WINDOW - 1 :]
        sharpe = m.roll_sharpe_ratio(r.to_numpy(), window=_WINDOW, annualization=annualization)
        rolling.add_trace(go.Scatter(x=ends, y=sharpe, name=f"Sharpe ({_WINDOW} {unit})"))
        if b is not None:
            beta = m.roll_beta(r.to_numpy(), b.to_numpy(), window=_WINDOW)
            rolling.add_trace(go.Scatter(x=ends, y=beta, name=f"beta ({_WINDOW} {unit})", yaxis="y2"))
            rolling.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "beta"})
    figures.append(("Rolling Sharpe and beta", rolling))

    figures.append(("Return distribution", go.Figure(go.Histogram(x=r.to_numpy(), nbinsx=60, name="daily returns"))))

    if exposure is not None:
        exp_fig = go.Figure([go.Scatter(x=exposure.index, y=exposure[c], name=str(c)) for c in exposure.columns])
        figures.append(("Exposure", exp_fig))
    if contributions is not None:
        top = contributions.reindex(contributions.abs().sort_values(ascending=False).index[:15])
        figures.append(("Top contributors", go.Figure(go.Bar(x=[str(i) for i in top.index], y=top.to_numpy()))))

    stats = perf_stats(
        r.to_numpy(), None if b is None else b.fillna(0).to_numpy(), names=[title], annualization=annualization
    ).to_frame()
    return Tearsheet(title=title, figures=tuple(figures), stats=stats.replace([np.inf, -np.inf], np.nan))


def portfolio_tearsheet(store: Store, name: str, *, benchmark: str | None = None) -> Tearsheet:
    """The tearsheet of a stored portfolio: valued at the store's raw closes since inception,
    time-weighted returns, exposure and P&L by symbol; ``benchmark`` is a stored symbol,
    compared on its total (dividend-adjusted) return."""
    from bifrost.portfolio import load_portfolio, value_ledger

    ledger = load_portfolio(store, name)
    symbols = sorted({p.symbol for p in ledger.positions()})
    if not symbols:
        raise InvalidInputError(f"portfolio {name!r} has no trades to report on")
    panel = store.read_panel(symbols, ledger.inception, fields=["close"])
    valuation = value_ledger(ledger, panel)
    returns = valuation.returns()
    bench = None
    if benchmark is not None:
        closes = store.read_bars(benchmark, ledger.inception, fields=["close"], adjustment="adjusted")
        bench = closes["close"].droplevel("symbol").pct_change().rename(benchmark)
    exposure = valuation.frame()[["long", "short", "gross", "net"]]
    return tearsheet(returns, bench, exposure=exposure, contributions=valuation.attribution(), title=name)
