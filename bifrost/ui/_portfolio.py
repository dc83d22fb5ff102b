"""Portfolio components: the picker, positions and totals, equity against a benchmark, metrics, exposure."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import ipywidgets as W
import numpy as np
import pandas as pd

from bifrost import analytics
from bifrost.data import Store
from bifrost.portfolio import Fill, Ledger, Valuation, list_portfolios, load_portfolio, portfolios_marker, value_ledger
from bifrost.portfolio import mark_to_latest as _mark
from bifrost.ui._base import (
    Column,
    Component,
    Marker,
    PortfolioComponent,
    base_layout,
    format_value,
    html_table,
    number_or_none,
    records,
    show_figure,
)

__all__ = [
    "EquityChart",
    "ExposureTable",
    "MetricsTable",
    "PortfolioMetrics",
    "PortfolioPicker",
    "PositionsTable",
    "portfolio_returns",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Valued:
    ledger: Ledger
    valuation: Valuation | None  # None: the portfolio never held a position


class _Cache:
    # one store's valued portfolios, kept while neither the bars nor the portfolios changed: the
    # positions, the chart, the metrics and the exposure of one page share one valuation
    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.entries: dict[tuple[str, str, str], _Valued] = {}

    def get(self, name: str) -> _Valued:
        key = (name, self.store.ingest_marker(), portfolios_marker(self.store))
        with self.lock:
            if key in self.entries:
                return self.entries[key]
        ledger = load_portfolio(self.store, name)
        symbols = sorted({t.symbol for t in ledger.transactions if isinstance(t, Fill)})
        valuation = None
        if symbols:
            panel = self.store.read_panel(symbols, ledger.inception, fields=["close"])
            valuation = value_ledger(ledger, panel, late="last_close")  # today's paper fill before today's bar
        valued = _Valued(ledger=ledger, valuation=valuation)
        with self.lock:
            self.entries = {k: v for k, v in self.entries.items() if k[1:] == key[1:]}
            self.entries[key] = valued
        return valued


def _valued(store: Store, name: str) -> _Valued:
    return store.part(_Cache).get(name)


def portfolio_returns(store: Store, name: str) -> pd.Series:
    """Return the time-weighted daily returns of stored portfolio ``name`` (`Valuation.returns`)."""
    valued = _valued(store, name)
    if valued.valuation is None:
        return pd.Series(dtype=np.float64, name="returns")
    return valued.valuation.returns()


def _benchmark_returns(store: Store, symbol: str | None, index: pd.DatetimeIndex) -> pd.Series | None:
    # the benchmark's total return (adjusted closes) on the portfolio's dates; None where the store lacks it
    if symbol is None or symbol not in set(store.list_symbols()["symbol"]):
        return None
    if not len(index):
        return None
    close = store.read_panel([symbol], index[0] - pd.Timedelta(days=10), fields=["close"], adjustment="adjusted")
    series = close.frame("close")[symbol].dropna()
    return series.pct_change(fill_method=None).reindex(index).rename(symbol)


class PortfolioPicker(Component):
    """A dropdown of the store's portfolios; ``on_pick(name)`` runs when the choice changes."""

    markers: ClassVar[tuple[Marker, ...]] = ("portfolios",)
    css_class = "bf-portfolio-picker"

    def __init__(self, store: Store, *, on_pick: Callable[[str | None], None] | None = None) -> None:
        super().__init__(store)
        self.dropdown = W.Dropdown(options=[], description="portfolio", layout=W.Layout(width="280px"))
        self.dropdown.add_class("bf-portfolio-picker")
        self.on_pick = on_pick
        self._quiet = False
        self.dropdown.observe(self._picked, names="value")
        self.widget = W.HBox([self.dropdown, self.error.widget])

    @property
    def value(self) -> str | None:
        """The chosen portfolio."""
        value = self.dropdown.value
        return None if value is None else str(value)

    def _draw(self) -> None:
        names = [str(n) for n in list_portfolios(self.store)["name"]]
        if list(self.dropdown.options) != names:
            current = self.dropdown.value
            self._quiet = True  # the options' own moves of the value are not picks
            try:
                self.dropdown.options = names
                self.dropdown.value = current if current in names else (names[0] if names else None)
            finally:
                self._quiet = False
            if self.dropdown.value != current and self.on_pick is not None:
                self.on_pick(self.value)  # the shown portfolio went away (or the first arrived)

    def _picked(self, change: dict[str, Any]) -> None:
        if not self._quiet and self.on_pick is not None:
            self.on_pick(None if change["new"] is None else str(change["new"]))


_POSITION_COLUMNS = (
    Column(field="symbol", kind="text"),
    Column(field="quantity", kind="qty"),
    Column(field="avg_price", label="avg price"),
    Column(field="mark"),
    Column(field="mark_ts", label="marked", kind="date"),
    Column(field="market_value", label="market value", kind="money"),
    Column(field="weight", kind="pct", digits=1),
    Column(field="day_pnl", label="day P&L", kind="money", signed=True),
    Column(field="unrealized", kind="money", signed=True),
    Column(field="realized", kind="money", signed=True),
    Column(field="dividends", kind="money"),
)
_TOTAL_LABELS = {
    "equity": "equity",
    "cash": "cash",
    "unrealized_pnl": "unrealized P&L",
    "realized_pnl": "realized P&L",
    "dividends": "dividends",
    "deposits": "deposits",
    "withdrawals": "withdrawals",
    "commissions": "commissions",
    "fees": "fees",
    "interest": "interest",
}


class PositionsTable(PortfolioComponent):
    """Open positions at the latest closes (`bifrost.portfolio.mark_to_latest`), then cash, equity and P&L."""

    css_class = "bf-positions-card"

    def __init__(self, store: Store, portfolio: str | None = None) -> None:
        super().__init__(store, portfolio)
        # the positions take the room left, scrolling sideways if they must; the totals always show whole
        self.positions_html = W.HTML(layout=W.Layout(flex="0 1 auto", min_width="0"))
        self.positions_html.add_class("bf-positions")
        self.totals_html = W.HTML(layout=W.Layout(flex="0 0 auto", min_width="240px"))
        self.totals_html.add_class("bf-totals")
        self.marked: Any = None
        self.widget = self._root(
            W.HBox([self.positions_html, self.totals_html], layout=W.Layout(align_items="flex-start", grid_gap="16px")),
            title="positions",
        )

    def _draw(self) -> None:
        if self.portfolio is None:
            self.marked = None
            self.positions_html.value = "<div class='bf-note'>no portfolio in the store yet</div>"
            self.totals_html.value = ""
            return
        valued = _valued(self.store, self.portfolio)
        marked = _mark(valued.ledger, self.store)
        self.marked = marked
        # the last day's P&L per symbol (trading and dividends: `Valuation.pnl`)
        day: dict[str, float] = {}
        if valued.valuation is not None and len(valued.valuation.ts):
            day = {s: float(v) for s, v in zip(valued.valuation.symbols, valued.valuation.pnl[-1], strict=True)}
        equity = float(marked.totals["equity"])
        frame = marked.positions
        held = frame[frame["quantity"] != 0].copy()
        held["weight"] = held["market_value"] / equity if equity else np.nan
        held["day_pnl"] = held["symbol"].map(day).astype(np.float64)
        held = held.sort_values("market_value", key=np.abs, ascending=False)
        self.positions_html.value = html_table(
            records(held), _POSITION_COLUMNS, key="symbol", empty="no open positions"
        )
        totals = [{"item": "day P&L", "key": "day_pnl", "value": sum(day.values()) if day else np.nan}]
        totals += [
            {"item": _TOTAL_LABELS.get(k, k), "key": k, "value": float(v)}
            for k, v in sorted(
                marked.totals.items(), key=lambda kv: list(_TOTAL_LABELS).index(kv[0]) if kv[0] in _TOTAL_LABELS else 99
            )
        ]
        self.totals_html.value = html_table(
            totals,
            (Column(field="item", label="", kind="text"), Column(field="value", label="", kind="money", signed=True)),
            key="key",
        )


class EquityChart(PortfolioComponent):
    """The portfolio's growth of 1 (time-weighted) against a benchmark's total return, and its drawdown."""

    css_class = "bf-equity-card"

    def __init__(self, store: Store, portfolio: str | None = None, *, benchmark: str | None = "SPY") -> None:
        super().__init__(store, portfolio)
        self.benchmark = benchmark
        self.output = W.Output(layout=W.Layout(min_height="340px"))
        self.output.add_class("bf-equity-chart")
        self.figure: Any = None
        self.widget = self._root(self.output, title="equity and drawdown")

    def _draw(self) -> None:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        if self.portfolio is None:
            self.output.outputs = ()
            return
        returns = portfolio_returns(self.store, self.portfolio)
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
        if len(returns):
            wealth = analytics.cum_returns(returns, starting_value=1.0)
            fig.add_trace(go.Scatter(x=returns.index, y=wealth, name=self.portfolio, line={"color": "#0366d6"}), 1, 1)
            bench = _benchmark_returns(self.store, self.benchmark, pd.DatetimeIndex(returns.index))
            if bench is not None:
                bench.iloc[0] = np.nan  # both curves start at 1 on the portfolio's first day
                fig.add_trace(
                    go.Scatter(x=bench.index, y=analytics.cum_returns(bench, starting_value=1.0), name=str(bench.name),
                               line={"color": "#959da5", "dash": "dot"}),
                    1, 1,
                )  # fmt: skip
            drawdown = analytics.drawdown_series(returns)
            fig.add_trace(
                go.Scatter(x=returns.index, y=drawdown, name="drawdown", fill="tozeroy",
                           line={"color": "#cb2431", "width": 1}),
                2, 1,
            )  # fmt: skip
        fig.update_yaxes(title_text="growth of 1", row=1, col=1)
        fig.update_yaxes(title_text="drawdown", tickformat=".1%", row=2, col=1)
        drawn = [t.name for t in fig.data]
        against = f", against {self.benchmark} (total return)" if self.benchmark and self.benchmark in drawn else ""
        title = f"{self.portfolio}: growth of 1, time-weighted{against}"
        base_layout(fig, title=title, height=340)
        self.figure = fig
        show_figure(self.output, fig)


_METRIC_ROWS: tuple[tuple[str, str, str], ...] = (
    ("cum_returns_final", "total return", "pct"),
    ("annual_return", "annual return", "pct"),
    ("annual_volatility", "annual volatility", "pct"),
    ("sharpe_ratio", "Sharpe", "num"),
    ("sortino_ratio", "Sortino", "num"),
    ("calmar_ratio", "Calmar", "num"),
    ("max_drawdown", "max drawdown", "pct"),
    ("value_at_risk", "daily VaR (5%)", "pct"),
    ("alpha", "alpha", "pct"),
    ("beta", "beta", "num"),
)


class MetricsTable(Component):
    """A table of metrics (name → value): a portfolio's (`bifrost.analytics.perf_stats`) or any given."""

    css_class = "bf-metrics-card"

    def __init__(self, store: Store, title: str = "metrics") -> None:
        super().__init__(store)
        self.html = W.HTML()
        self.html.add_class("bf-metrics")
        self.values: dict[str, float] = {}
        self.widget = self._root(self.html, title=title)

    def show(self, values: dict[str, float], labels: dict[str, tuple[str, str]] | None = None) -> None:
        """Show ``values`` (metric → number), each written by ``labels[metric] = (label, kind)``."""
        self.values = dict(values)
        labels = labels or {}
        rows = []
        for k, v in values.items():
            label, kind = labels.get(k, (k.replace("_", " "), _kind(k)))
            text = format_value(v, kind, 3 if kind == "num" else 2)
            number = number_or_none(v)
            data = "" if number is None else f" data-value='{number!r}'"
            rows.append(
                f"<tr data-key='{html.escape(k, quote=True)}'><td class='bf-text'>{html.escape(label)}</td>"
                f"<td class='bf-num' data-col='value'{data}>{html.escape(text)}</td></tr>"
            )
        self.html.value = f"<table class='bf-table'><tbody>{''.join(rows)}</tbody></table>" if rows else ""

    def _draw(self) -> None:  # a plain table is redrawn by `show`
        return


def _kind(metric: str) -> Any:
    if metric.startswith("n_"):
        return "int"
    if any(w in metric for w in ("return", "volatility", "drawdown", "win_rate", "exposure", "value_at_risk")):
        return "pct"
    if metric in ("final_value", "commission", "dividend_income"):
        return "money"
    return "num"


class PortfolioMetrics(PortfolioComponent):
    """The portfolio's performance metrics against the benchmark (`bifrost.analytics.perf_stats`)."""

    css_class = "bf-portfolio-metrics"

    def __init__(self, store: Store, portfolio: str | None = None, *, benchmark: str | None = "SPY") -> None:
        super().__init__(store, portfolio)
        self.benchmark = benchmark
        self.table = MetricsTable(store, title="performance")
        self.values: dict[str, float] = {}
        self.widget = self.table.widget
        self.error = self.table.error

    def _draw(self) -> None:
        if self.portfolio is None:
            self.table.show({})
            return
        returns = portfolio_returns(self.store, self.portfolio).iloc[1:]
        if len(returns) < 2:
            self.table.show({})
            return
        bench = _benchmark_returns(self.store, self.benchmark, pd.DatetimeIndex(returns.index))
        stats = analytics.perf_stats(returns.to_numpy(), None if bench is None else bench.fillna(0.0).to_numpy())
        table = stats.to_frame().iloc[:, 0]
        wanted = {k: (label, kind) for k, label, kind in _METRIC_ROWS if k in table.index}
        self.values = {k: float(table[k]) for k in wanted}
        self.table.show(self.values, wanted)


class ExposureTable(PortfolioComponent):
    """The latest day's long, short, gross and net exposure and leverage (`Valuation.frame`)."""

    css_class = "bf-exposure-card"

    def __init__(self, store: Store, portfolio: str | None = None) -> None:
        super().__init__(store, portfolio)
        self.html = W.HTML()
        self.html.add_class("bf-exposure")
        self.values: dict[str, float] = {}
        self.widget = self._root(self.html, title="exposure")

    def _draw(self) -> None:
        valued = None if self.portfolio is None else _valued(self.store, self.portfolio)
        if valued is None or valued.valuation is None:
            self.values = {}
            self.html.value = "<div class='bf-note'>no positions</div>"
            return
        last = valued.valuation.frame().iloc[-1]
        equity = float(last["equity"])
        self.values = {
            "long": float(last["long"]) / equity,
            "short": float(last["short"]) / equity,
            "gross": float(last["gross"]) / equity,
            "net": float(last["net"]) / equity,
            "leverage": float(last["leverage"]),
        }
        rows = [{"k": k, "v": self.values[k], "m": float(last[k])} for k in ("long", "short", "gross", "net")]
        self.html.value = html_table(
            rows,
            (
                Column(field="k", label="exposure", kind="text"),
                Column(field="v", label="of equity", kind="pct", digits=1),
                Column(field="m", label="value", kind="money", digits=0),
            ),
            key="k",
        )  # fmt: skip
