"""The risk report of a book: VaR/ES by method, their split by position, the VaR backtest,
stress results and limits, as tables and plotly figures (in Jupyter, or one offline HTML page)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from bifrost._figures import figures_html, notebook_styles, offline_page
from bifrost.risk._backtest import VarBacktest, var_backtest
from bifrost.risk._book import Book, HistoryWindow, book_risk
from bifrost.risk._limits import LimitReport
from bifrost.risk._montecarlo import VarDecomposition, var_decomposition
from bifrost.risk._portfolio import Method, PortfolioRisk
from bifrost.risk._stress import StressResult, _periods_alias, stress_positions

__all__ = ["RiskReport", "risk_report"]

_SUMMARY_FORMAT = {  # fractions of equity in percent, money with cents
    "var": "{:.2%}".format, "es": "{:.2%}".format, "var_money": "{:,.2f}".format, "es_money": "{:,.2f}".format,
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskReport:
    """Everything risk knows about one book, for a notebook, a dashboard or a file."""

    name: str
    equity: float
    risk: Mapping[str, PortfolioRisk]  # by method
    decomposition: VarDecomposition
    backtest: VarBacktest | None  # None when the history is too short to backtest
    stress: StressResult
    limits: LimitReport | None = None
    window: HistoryWindow | None = None  # the return history measured: lookback, first and last date

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: name, equity, the history window and VaR/ES per method."""
        window = (self.window or HistoryWindow(lookback_days=None, start=None, end=None, observations=0)).to_dict()
        summary = self.summary()
        risk = {str(m): {str(k): float(v) for k, v in row.items()} for m, row in summary.iterrows()}
        levels = {(r.confidence, r.horizon_days) for r in self.risk.values()}
        confidence, horizon = levels.pop() if len(levels) == 1 else (None, None)
        return {
            "name": self.name, "equity": self.equity, **window, "confidence": confidence, "horizon_days": horizon,
            "risk": risk,
        }  # fmt: skip

    def summary(self) -> pd.DataFrame:
        """One row per method: VaR and ES as fractions of equity and in money."""
        rows = {
            m: {"var": r.var, "es": r.es, "var_money": r.var * self.equity, "es_money": r.es * self.equity}
            for m, r in self.risk.items()
        }
        return pd.DataFrame.from_dict(rows, orient="index")

    def var_figure(self) -> Any:
        """The backtest: each day's return, minus the VaR forecast for it, exceptions marked."""
        import plotly.graph_objects as go

        fig = go.Figure()
        if self.backtest is None:
            return fig.update_layout(
                title="VaR backtest: history too short", xaxis_title="date", yaxis_title="return", height=380
            )
        bt = self.backtest
        report = bt.report()
        fig.add_scatter(x=bt.returns.index, y=bt.returns, mode="lines", name="daily return", line={"width": 1})
        fig.add_scatter(x=bt.var.index, y=-bt.var, mode="lines", name=f"−VaR ({bt.method})", line={"width": 1.5})
        fig.add_scatter(
            x=report.index, y=report["return"], mode="markers", name=f"exceptions ({len(report)})",
            marker={"color": "#c0392b", "size": 8, "symbol": "x"},
        )  # fmt: skip
        return fig.update_layout(
            title=f"{bt.confidence:.0%} one-day VaR against what happened: zone {bt.zone}",
            xaxis_title="date", yaxis_title="one-day return (fraction of equity)", yaxis_tickformat=".1%",
            legend={"orientation": "h", "y": -0.2}, height=420,
        )  # fmt: skip

    def contribution_figure(self) -> Any:
        """Component VaR per position (sums to the parametric VaR)."""
        import plotly.graph_objects as go

        component = self.decomposition.component.sort_values(ascending=False)
        fig = go.Figure(go.Bar(x=list(map(str, component.index)), y=component.to_numpy(), name="component VaR"))
        return fig.update_layout(
            title=f"Contribution to VaR (parametric total {self.decomposition.var:.2%} of equity)",
            xaxis_title="position", yaxis_title="component VaR (fraction of equity)", yaxis_tickformat=".2%",
            xaxis_type="category", height=380,
        )

    def stress_figure(self) -> Any:
        """The stress scenarios as a table: window, P&L and P&L as a fraction of equity."""
        import plotly.graph_objects as go

        records = self.stress.records(self.equity)
        cells = [
            [r["name"] for r in records],
            [r["start"] or "" for r in records],
            [r["end"] or "" for r in records],
            [f"{r['total']:,.0f}" for r in records],
            [f"{r['total_fraction']:.2%}" for r in records],
        ]
        header = ["scenario", "start", "end", "P&L", "of equity"]
        return go.Figure(go.Table(header={"values": header}, cells={"values": cells})).update_layout(
            title="Stress tests on today's positions", height=150 + 30 * len(records), margin={"t": 50, "b": 10}
        )

    @property
    def figures(self) -> tuple[tuple[str, Any], ...]:
        """The named figures, in reading order."""
        return (
            ("VaR backtest", self.var_figure()),
            ("Contributions", self.contribution_figure()),
            ("Stress", self.stress_figure()),
        )

    def _tables(self) -> str:
        # each part a block of its own: a heading, then its text or table (inline <b> text ran together)
        parts = [
            f"<p>equity {self.equity:,.2f}</p>",
            "" if self.window is None else f"<p>{html.escape(str(self.window))}</p>",
            f"<h4>Value at risk and expected shortfall{html.escape(self._level())}</h4>",
            self.summary().to_html(formatters=_SUMMARY_FORMAT),
        ]
        if self.backtest is not None:
            parts.append(f"<p>{self.backtest._repr_html_()}</p>")
        if self.limits is not None:
            parts.append(f"<div>{self.limits._repr_html_()}</div>")
        return "".join(parts)

    def _level(self) -> str:
        # the confidence and horizon every method was measured at (found by QA: the report did not say)
        levels = {(r.confidence, r.horizon_days) for r in self.risk.values()}
        if len(levels) != 1:
            return ""
        confidence, horizon = levels.pop()
        return f", {confidence:.1%} over {horizon} day{'s' if horizon != 1 else ''}"

    def to_html(self, path: str | Path | None = None) -> str:
        """Return (and optionally write) one HTML page with plotly.js embedded: no CDN, no network."""
        return offline_page(f"Risk of {self.name}", self._tables(), self.figures, path)

    def _repr_html_(self) -> str:
        heading = f"<h3>Risk of {html.escape(self.name)}</h3>"
        body = heading + self._tables() + figures_html(self.figures)
        return f"{notebook_styles()}<div class='bifrost-report'>{body}</div>"


def risk_report(
    book: Book,
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
    methods: Sequence[Method] = ("historical", "parametric", "filtered_historical", "montecarlo"),
    backtest_method: Literal["historical", "parametric", "filtered_historical"] = "filtered_historical",
    window: int = 250,
    stress_windows: Sequence[int] = (1, 5, 20),
    worst: int = 3,
    periods: Mapping[str, tuple[Any, Any]] | None = None,
    named: Mapping[str, tuple[Any, Any]] | None = None,
    shocks: Mapping[str, Mapping[str, float]] | None = None,
    sectors: Mapping[str, str] | None = None,
    limits: LimitReport | None = None,
    seed: int = 0,
) -> RiskReport:
    """Measure ``book`` every way: VaR/ES per method, the parametric split by position, a
    rolling one-day VaR backtest of today's weights (when the history holds more than
    ``window`` + 20 days), and the stress scenarios (``periods``: named historical periods,
    as `stress_positions` takes them; ``named`` is their deprecated spelling)."""
    periods = _periods_alias(periods, named)
    risk: dict[str, PortfolioRisk] = {
        m: book_risk(book, method=m, confidence=confidence, horizon_days=horizon_days, seed=seed) for m in methods
    }
    symbols = list(book.values.index)
    weights = book.weights.to_numpy()
    returns = book.returns[symbols]
    decomposition = var_decomposition(
        returns.to_numpy(), weights, confidence=confidence, horizon_days=horizon_days, names=symbols
    )
    backtest = None
    if len(returns) > window + 20:
        pnl = returns @ book.weights
        backtest = var_backtest(pnl, method=backtest_method, confidence=confidence, window=window)
    values = {str(k): float(v) for k, v in book.values.items()}
    dated = isinstance(returns.index, pd.DatetimeIndex)
    stress = stress_positions(
        values, returns if dated else None, window_days=stress_windows if dated else (), worst=worst,
        periods=periods if dated else None, shocks=shocks or {"market −10%": {"market": -0.10}}, sectors=sectors,
    )  # fmt: skip
    return RiskReport(
        name=book.name, equity=book.equity, risk=risk, decomposition=decomposition, backtest=backtest,
        stress=stress, limits=limits, window=book.window,
    )  # fmt: skip
