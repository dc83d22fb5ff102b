"""Data components: the symbols' coverage, the quality findings, a candlestick chart with the adjustment toggle."""

from __future__ import annotations

import html
from typing import Any, ClassVar

import ipywidgets as W
import pandas as pd

from bifrost.data import ADJUSTMENTS, Store, check_quality
from bifrost.ui._base import Column, Component, Marker, base_layout, html_table, records, show_figure

__all__ = ["CandlestickChart", "CoverageTable", "QualityFindings"]


class CoverageTable(Component):
    """One row per stored symbol: first and last bar, rows, frequency, source (`Store.list_symbols`)."""

    markers: ClassVar[tuple[Marker, ...]] = ("bars",)
    css_class = "bf-coverage-card"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.html = W.HTML(layout=W.Layout(max_height="420px", overflow="auto"))
        self.html.add_class("bf-coverage")
        self.frame: pd.DataFrame | None = None
        self.widget = self._root(self.html, title="symbols and coverage")

    def _draw(self) -> None:
        frame = self.store.list_symbols()
        self.frame = frame
        self.html.value = html_table(
            records(frame),
            (
                Column(field="symbol", kind="text"),
                Column(field="first", kind="date"),
                Column(field="last", kind="date"),
                Column(field="rows", kind="int"),
                Column(field="frequency", kind="text"),
                Column(field="sector", kind="text"),
                Column(field="source", kind="text", wrap=True),
            ),
            key="symbol",
            empty="no symbols in the store yet: `bifrost data ingest ...`",
        )


class QualityFindings(Component):
    """The data-quality findings of the stored bars (`bifrost.data.check_quality`)."""

    markers: ClassVar[tuple[Marker, ...]] = ("bars",)
    css_class = "bf-quality-card"

    def __init__(self, store: Store, *, shown: int = 200) -> None:
        super().__init__(store)
        self.shown = shown
        self.summary = W.HTML()
        self.summary.add_class("bf-quality-summary")
        self.html = W.HTML(layout=W.Layout(max_height="420px", overflow="auto"))
        self.html.add_class("bf-quality")
        self.report: Any = None
        self.widget = self._root(self.summary, self.html, title="quality findings")

    def _draw(self) -> None:
        if self.store.list_symbols().empty:
            self.report, self.summary.value, self.html.value = None, "", ""
            return
        report = check_quality(self.store.bars)
        self.report = report
        self.summary.value = f"<div class='bf-note'>{html.escape(report.summary())}</div>"
        findings = report.findings.head(self.shown)
        self.html.value = html_table(
            records(findings),
            (Column(field="symbol", kind="text"), Column(field="ts", label="date", kind="date"),
             Column(field="check", kind="text"), Column(field="detail", kind="text", wrap=True)),
            key=lambda r: f"{r['symbol']}:{r['check']}:{format(r['ts'])}",
            empty="no findings",
        )  # fmt: skip


class CandlestickChart(Component):
    """A symbol's daily bars as candlesticks with volume; the adjustment mode is a toggle."""

    markers: ClassVar[tuple[Marker, ...]] = ("bars",)
    css_class = "bf-candles-card"

    def __init__(self, store: Store, *, symbol: str | None = None, bars: int = 500) -> None:
        super().__init__(store)
        self.bars = bars
        self.picker = W.Dropdown(options=[], description="symbol", layout=W.Layout(width="220px"))
        self.picker.add_class("bf-symbol-picker")
        self.adjustment = W.ToggleButtons(options=list(ADJUSTMENTS), value="raw", style={"button_width": "110px"})
        self.adjustment.add_class("bf-adjustment")
        self.output = W.Output(layout=W.Layout(min_height="440px"))
        self.output.add_class("bf-candles")
        self.figure: Any = None
        self.shown: pd.DataFrame | None = None
        self._wanted = symbol
        self._quiet = False
        self.picker.observe(self._picked, names="value")
        self.adjustment.observe(lambda _: self.refresh(), names="value")
        self.widget = self._root(W.HBox([self.picker, self.adjustment]), self.output, title="bars")

    def _picked(self, _: object) -> None:
        if not self._quiet:
            self.refresh()

    def _draw(self) -> None:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        names = [str(s) for s in self.store.list_symbols()["symbol"]]
        if list(self.picker.options) != names:
            current = self.picker.value or self._wanted
            self._quiet = True  # the options' own change of value is not a pick
            try:
                self.picker.options = names
                self.picker.value = current if current in names else (names[0] if names else None)
            finally:
                self._quiet = False
        symbol = self.picker.value
        if symbol is None:
            self.output.outputs = ()
            return
        bars = self.store.read_bars(symbol, adjustment=self.adjustment.value).tail(self.bars)
        self.shown = bars
        ts = bars.index.get_level_values("ts")
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22], vertical_spacing=0.03)
        fig.add_trace(
            go.Candlestick(x=ts, open=bars["open"], high=bars["high"], low=bars["low"], close=bars["close"],
                           name=symbol, increasing_line_color="#22863a", decreasing_line_color="#cb2431"),
            1, 1,
        )  # fmt: skip
        fig.add_trace(go.Bar(x=ts, y=bars["volume"], name="volume", marker_color="#959da5"), 2, 1)
        fig.update_layout(xaxis_rangeslider_visible=False, showlegend=False)
        fig.update_xaxes(rangebreaks=[{"bounds": ["sat", "mon"]}])
        base_layout(fig, title=f"{symbol}: last {len(bars)} bars, {self.adjustment.value} prices", height=440)
        self.figure = fig
        show_figure(self.output, fig)
