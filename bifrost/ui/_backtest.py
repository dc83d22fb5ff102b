"""The backtest form: strategy, symbols, parameters, dates and costs; run → equity, drawdown, trades
and metrics; sweep → heatmap. The library runs everything (`bifrost.strategy.backtest`, `sweep`)."""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar

import ipywidgets as W
import pandas as pd

from bifrost import analytics
from bifrost.data import Store
from bifrost.errors import InvalidInputError
from bifrost.strategy import (
    STRATEGIES,
    BacktestResult,
    Commission,
    FillModel,
    SweepResult,
    backtest,
    parse_grid,
    parse_params,
    sweep,
)
from bifrost.ui._base import (
    Column,
    Component,
    ErrorArea,
    Marker,
    base_layout,
    card,
    describe_error,
    html_table,
    records,
    show_figure,
)
from bifrost.ui._portfolio import MetricsTable

__all__ = ["BacktestForm"]

_DEFAULT_PARAMS = {"sma_cross": "fast=10, slow=30", "momentum": "lookback=126, top_n=1",
                   "mean_reversion": ""}  # fmt: skip
_DEFAULT_GRID = {"sma_cross": "fast=5:20:5 slow=30,50,100", "momentum": "lookback=63,126,252 top_n=1"}
_METRIC_LABELS = {
    "total_return": ("total return", "pct"),
    "annual_return": ("annual return", "pct"),
    "annual_volatility": ("annual volatility", "pct"),
    "sharpe_ratio": ("Sharpe", "num"),
    "sortino_ratio": ("Sortino", "num"),
    "max_drawdown": ("max drawdown", "pct"),
    "calmar_ratio": ("Calmar", "num"),
    "n_trades": ("trades", "int"),
    "win_rate": ("win rate", "pct"),
    "exposure": ("exposure", "pct"),
    "final_value": ("final value", "money"),
    "commission": ("commission", "money"),
}


def _pairs(text: str, *, grid: bool) -> list[str]:
    # "fast=10, slow=30" (params) or "fast=5:20:5 slow=30,60" (grid: a list's commas are its own)
    parts = re.split(r"[;\s]+" if grid else r"[,;\s]+", text.strip())
    return [p for p in parts if p]


class BacktestForm(Component):
    """The backtest explorer's form and results.

    `run` backtests the chosen strategy on the chosen symbols and dates (``end`` inclusive)
    with the chosen costs; `run_sweep` sweeps the grid and draws its heatmap. Bad input (an
    unknown symbol, slow ≤ fast, an empty date range, a malformed parameter) shows the
    library's message in the form's error area.
    """

    markers: ClassVar[tuple[Marker, ...]] = ()  # results change only when the user runs again
    css_class = "bf-backtest"

    def __init__(self, store: Store, *, symbols: str | None = None) -> None:
        super().__init__(store)
        names = sorted(STRATEGIES)
        first = "sma_cross" if "sma_cross" in names else names[0]
        lay = W.Layout(width="260px")
        self.strategy = W.Dropdown(options=names, value=first, description="strategy", layout=lay)
        self.symbols = W.Text(value=symbols or "", description="symbols", placeholder="ORCL, NVDA", layout=lay)
        self.params = W.Text(value=_DEFAULT_PARAMS.get(first, ""), description="params", layout=W.Layout(width="320px"))
        self.grid = W.Text(value=_DEFAULT_GRID.get(first, ""), description="sweep grid", layout=W.Layout(width="320px"))
        self.start = W.DatePicker(description="start", layout=lay)
        self.end = W.DatePicker(description="end", layout=lay)
        # plain number fields (never clamped in the browser): a value out of the library's bounds is refused
        # with its message (`FillModel`, `Commission`, `backtest`'s cash), as the CLI refuses it
        wide = {"description_width": "initial"}
        self.cash = W.FloatText(value=100_000.0, description="cash", layout=lay)
        self.commission = W.FloatText(value=0.001, step=0.0005, description="commission (fraction of value, "
                                      "0.001 = 0.1%)", style=wide, layout=W.Layout(width="390px"))  # fmt: skip
        self.slippage = W.FloatText(value=0.0, step=1.0, description="slippage (bps)", style=wide,
                                    layout=W.Layout(width="210px"))  # fmt: skip
        self.run_button = W.Button(description="Run backtest", button_style="primary", icon="")
        self.sweep_button = W.Button(description="Sweep grid", button_style="")
        self.progress = W.IntProgress(
            value=0, min=0, max=3, description="", layout=W.Layout(width="200px", visibility="hidden")
        )
        self.progress_label = W.Label("")
        for w, cls in ((self.strategy, "bf-strategy"), (self.symbols, "bf-symbols"), (self.params, "bf-params"),
                       (self.grid, "bf-grid"), (self.start, "bf-start"), (self.end, "bf-end"), (self.cash, "bf-cash"),
                       (self.commission, "bf-commission"), (self.slippage, "bf-slippage"), (self.run_button, "bf-run"),
                       (self.sweep_button, "bf-sweep"), (self.progress, "bf-progress"),
                       (self.progress_label, "bf-progress-label")):  # fmt: skip
            w.add_class(cls)
        self.strategy.observe(self._strategy_changed, names="value")
        self.run_button.on_click(lambda _: self.run())
        self.sweep_button.on_click(lambda _: self.run_sweep())
        self.form_error = ErrorArea()
        form = W.VBox(
            [
                W.HBox([self.strategy, self.symbols, self.start, self.end]),
                W.HBox([self.params, self.cash, self.commission, self.slippage]),
                W.HBox([self.grid, self.run_button, self.sweep_button, self.progress, self.progress_label]),
                self.form_error.widget,
            ]
        )
        self.form = card("backtest", [form])
        self.form.add_class("bf-backtest-form")
        self.metrics = MetricsTable(store, title="metrics")
        self.final_value = W.HTML()
        self.final_value.add_class("bf-final-value")
        self.chart = W.Output(layout=W.Layout(min_height="360px"))
        self.chart.add_class("bf-equity-chart")
        self.chart.outputs = (
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": "<div class='bf-hint'>Choose a strategy, symbols and dates, then press "
                                   "<b>Run backtest</b> (or <b>Sweep grid</b> for the heatmap).</div>",
                      "text/plain": ""}},
        )  # fmt: skip
        self.trades = W.HTML()
        self.trades.add_class("bf-trades")
        self.heatmap = W.Output()
        self.heatmap.add_class("bf-heatmap")
        self.sweep_table = W.HTML()
        self.sweep_table.add_class("bf-sweep-table")
        self.results = W.VBox(
            [
                W.HBox([card("equity and drawdown", [self.final_value, self.chart], width="68%"),
                        W.VBox([self.metrics.widget], layout=W.Layout(width="31%"))]),
                W.HBox([card("sweep heatmap", [self.heatmap], width="60%"),
                        card("sweep: best parameter sets", [self.sweep_table], width="39%")]),
                card("trades", [self.trades]),
            ]
        )  # fmt: skip
        self.results.add_class("bf-results")
        # after refused inputs the previous result stays, dimmed (bf-stale), under a line saying so
        self.stale_note = W.HTML(value="", layout=W.Layout(display="none"))
        self.stale_note.add_class("bf-stale-note")
        self.result: BacktestResult | None = None
        self.sweep_result: SweepResult | None = None
        self.error = self.form_error
        self.widget = W.VBox([self.form, self.stale_note, self.results])
        self.widget.add_class(self.css_class)

    # -- what the form holds -----------------------------------------------------------
    def _strategy_changed(self, change: dict[str, Any]) -> None:
        self.params.value = _DEFAULT_PARAMS.get(str(change["new"]), "")
        self.grid.value = _DEFAULT_GRID.get(str(change["new"]), "")

    def _symbols(self) -> list[str]:
        names = [s for s in re.split(r"[,\s]+", self.symbols.value.strip()) if s]
        if not names:
            raise InvalidInputError("symbols: name at least one symbol (e.g. ORCL, NVDA)")
        return names

    def _bounds(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        start = None if self.start.value is None else pd.Timestamp(self.start.value, tz="UTC")
        end = None if self.end.value is None else pd.Timestamp(self.end.value, tz="UTC")
        if start is not None and end is not None and end < start:
            raise InvalidInputError(
                f"empty date range: end {end.date()} is before start {start.date()}; "
                "choose an end on or after the start"
            )
        return start, None if end is None else end + pd.Timedelta(days=1)  # the end date is included

    def _fill(self) -> FillModel:
        # the library's bounds, the field named: commission a fraction in [0, 1], slippage 0 to 10,000 bps
        value = float(self.commission.value)
        try:
            commission = Commission(percent=value)
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"commission: {value:g} is not a fraction of the traded value (0.001 = 0.1%, 1 = all of it): {exc}"
            ) from exc
        bps = float(self.slippage.value)
        try:
            return FillModel(commission=commission, slippage_bps=bps)
        except InvalidInputError as exc:
            raise InvalidInputError(f"slippage: {bps:g} bps is out of range (0 to 10,000 bps): {exc}") from exc

    def _panel(self) -> Any:
        start, end = self._bounds()
        panel = self.store.read_panel(self._symbols(), start, end, adjustment="split_adjusted")
        if 0 in panel.shape:
            raise InvalidInputError(
                f"empty date range: no bars of {', '.join(panel.symbols) or 'these symbols'} between "
                f"{'the first bar' if start is None else start.date()} and "
                f"{'the last' if end is None else (end - pd.Timedelta(days=1)).date()}"
            )
        return panel

    def _stage(self, step: int, text: str) -> None:
        self.progress.value = step
        self.progress_label.value = text

    def _busy(self, busy: bool) -> None:
        self.run_button.disabled = self.sweep_button.disabled = busy
        self.progress.layout.visibility = "visible" if busy else "hidden"
        if busy:
            self.form.add_class("bf-busy")
            self.results.remove_class("bf-result-done")
        else:
            self.form.remove_class("bf-busy")

    def _fresh(self) -> None:
        # what the results show is what the form says
        self.results.remove_class("bf-stale")
        self.stale_note.value = ""
        self.stale_note.layout.display = "none"

    def _stale(self) -> None:
        # the form's inputs were refused: a result still shown is the previous inputs'
        if self.result is None:
            return
        r = self.result
        params = " ".join(f"{k}={v}" for k, v in r.params.items())
        self.results.add_class("bf-stale")
        self.stale_note.value = (
            "<div class='bf-note bf-stale-text'>These inputs were refused (see the message above): the result "
            f"shown below, dimmed, is from the previous inputs ({html.escape(r.strategy)} {html.escape(params)} "
            f"on {html.escape(', '.join(r.symbols))}).</div>"
        )
        self.stale_note.layout.display = None

    # -- actions -----------------------------------------------------------------------
    def run(self) -> BacktestResult | None:
        """Backtest what the form says; show equity, drawdown, trades and metrics; return the result."""
        with self.lock:
            self._busy(True)
            try:
                self.form_error.clear()
                self._stage(1, "reading bars…")
                params = parse_params(self.strategy.value, _pairs(self.params.value, grid=False))
                fill = self._fill()
                panel = self._panel()
                self._stage(2, "backtesting…")
                result = backtest(panel, self.strategy.value, params, cash=float(self.cash.value), fill=fill)
                self._stage(3, "drawing…")
                self._show(result)
                self.result = result
                self._fresh()
                self.progress_label.value = f"done: {len(result.ts):,} bars, {result.n_trades:,} trades"
                self.results.add_class("bf-result-done")
                return result
            except Exception as exc:  # the form's boundary: the message, never a traceback
                self.form_error.show(describe_error(exc))
                self.progress_label.value = ""
                self._stale()
                return None
            finally:
                self._busy(False)

    def run_sweep(self) -> SweepResult | None:
        """Sweep the grid (the other parameters fixed as given); draw the heatmap of the first two swept.

        The best set (by the sweep's objective, averaged over the symbols) is then written into the
        parameters and backtested on all the symbols together, so the page shows its equity and trades.
        """
        with self.lock:
            self._busy(True)
            try:
                self.form_error.clear()
                self._stage(1, "reading bars…")
                name = self.strategy.value
                grid: dict[str, Any] = dict(parse_grid(name, _pairs(self.grid.value, grid=True)))
                if not grid:
                    raise InvalidInputError("sweep grid: give at least one parameter's values, e.g. fast=5:20:5")
                fixed = parse_params(name, _pairs(self.params.value, grid=False))
                space = {**{k: [v] for k, v in fixed.items() if k not in grid}, **grid}
                fill = self._fill()
                panel = self._panel()
                self._stage(2, "sweeping…")
                result = sweep(panel, name, space, cash=float(self.cash.value), fill=fill)
                self._stage(3, "drawing…")
                swept = [k for k in result.params if len(space[k]) > 1]
                if len(swept) >= 2:
                    fig = result.heatmap(swept[0], swept[1])
                    base_layout(fig, title=f"{name}: {result.objective} by {swept[0]} and {swept[1]}", height=360)
                    show_figure(self.heatmap, fig)
                else:
                    self.heatmap.outputs = ()
                top = result.summary().head(10).reset_index()
                cols = [Column(field=str(p), kind="num", digits=0) for p in result.params]
                cols += [Column(field="sharpe_ratio", label="Sharpe", digits=3),
                         Column(field="total_return", label="total return", kind="pct"),
                         Column(field="max_drawdown", label="max DD", kind="pct")]  # fmt: skip
                self.sweep_table.value = html_table(
                    records(top), [c for c in cols if c.field in top.columns],
                    key=lambda r: ",".join(f"{p}={r[p]}" for p in result.params),
                ) + "".join(f"<div class='bf-note'>{n}</div>" for n in result.notes())  # fmt: skip
                self.sweep_result = result
                best = result.best()
                self.params.value = ", ".join(f"{k}={v}" for k, v in best.items())
                backtested = backtest(panel, name, best, cash=float(self.cash.value), fill=fill)
                self._show(backtested)
                self.result = backtested
                self._fresh()
                self.progress_label.value = (
                    f"done: {result.n_sets} parameter sets × {len(panel.symbols)} symbols; "
                    f"best {self.params.value} backtested above"
                )
                self.results.add_class("bf-result-done")
                return result
            except Exception as exc:
                self.form_error.show(describe_error(exc))
                self.progress_label.value = ""
                self._stale()
                return None
            finally:
                self._busy(False)

    def _show(self, result: BacktestResult) -> None:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        labels = {k: v for k, v in _METRIC_LABELS.items() if k in result.metrics}
        shown = {k: float(result.metrics[k]) for k in labels}
        shown |= {k: float(v) for k, v in result.metrics.items() if k not in shown}
        self.metrics.show(shown, labels)
        self.final_value.value = (
            f"<div class='bf-note'>final value <b class='bf-num' data-value='{result.final_value!r}'>"
            f"{result.final_value:,.2f}</b> from {result.initial_cash:,.0f}; {result.measured}</div>"
        )
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
        fig.add_trace(go.Scatter(x=result.equity.index, y=result.equity, name="equity",
                                 line={"color": "#0366d6"}), 1, 1)  # fmt: skip
        drawdown = analytics.drawdown_series(result.returns)
        fig.add_trace(go.Scatter(x=result.returns.index, y=drawdown, name="drawdown", fill="tozeroy",
                                 line={"color": "#cb2431", "width": 1}), 2, 1)  # fmt: skip
        fig.update_yaxes(title_text="equity", row=1, col=1)
        fig.update_yaxes(title_text="drawdown", tickformat=".1%", row=2, col=1)
        params = " ".join(f"{k}={v}" for k, v in result.params.items())
        base_layout(fig, title=f"{result.strategy} {params} on {', '.join(result.symbols)}", height=360)
        show_figure(self.chart, fig)
        trades = result.trades.tail(200).iloc[::-1]
        cols = [Column(field=str(c), label=_TRADE_LABELS.get(str(c), str(c).replace("_", " ")),
                       kind=_trade_kind(str(c), trades[c])) for c in trades.columns]  # fmt: skip
        self.trades.value = (
            f"<div class='bf-note'>{len(result.trades):,} round trips (latest 200 shown)</div>"
            + html_table(records(trades), cols, empty="no trades")
        )

    def _draw(self) -> None:  # nothing to redraw until the user runs again
        return


_TRADE_LABELS = {"ts_entry": "entry", "ts_exit": "exit", "entry_price": "entry price", "exit_price": "exit price",
                 "pnl": "P&L", "pnl_net": "P&L net", "bars_held": "bars", "return": "return"}  # fmt: skip


def _trade_kind(name: str, column: pd.Series) -> Any:
    if name in ("quantity", "bars_held"):
        return "qty"
    if name in ("return", "return_pct"):
        return "pct"
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return "date"
    if pd.api.types.is_numeric_dtype(column.dtype):
        return "num"
    return "text"
