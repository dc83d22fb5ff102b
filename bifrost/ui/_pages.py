"""The five dashboards, one call each: the page of components, drawn once, kept current by a watcher.

A page is a `Page` (an ``ipywidgets.VBox``, displayed by a notebook's last line) holding its
components by name (``page.components["positions"]``) and its `ChangeWatcher`
(``page.watcher``): with ``watch=True`` (the default) the watcher's thread polls the store's
change markers every ``interval_s`` and refreshes only the components whose markers moved.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import ipywidgets as W

from bifrost.data import Store
from bifrost.errors import InvalidInputError
from bifrost.ui._backtest import BacktestForm
from bifrost.ui._base import PAGE_CSS, Component, Marker
from bifrost.ui._data import CandlestickChart, CoverageTable, QualityFindings
from bifrost.ui._jobs import DEFAULT_LINK_BASE, RunJobControl, RunsTable, RunViewer
from bifrost.ui._orders import FillsTable, OrderBlotter
from bifrost.ui._portfolio import EquityChart, ExposureTable, PortfolioMetrics, PortfolioPicker, PositionsTable
from bifrost.ui._risk import AlertsList, LimitBars, StressTable, VarTable
from bifrost.ui._watch import ChangeWatcher, now_text

__all__ = ["Page", "backtest_explorer", "data_explorer", "job_monitor", "portfolio_monitor", "risk_monitor"]


class Page(W.VBox):  # type: ignore[misc]  # ipywidgets ships no type information
    """A dashboard: its components by name, the watcher that keeps them current, a status line."""

    def __init__(
        self,
        name: str,
        title: str,
        store: Store,
        components: Mapping[str, Component],
        layout_rows: list[Any],
        *,
        watch: bool,
        interval_s: float,
    ) -> None:
        self.name = name
        self.store = store
        self.components = dict(components)
        self.status = W.HTML()
        self.status.add_class("bf-status")
        where = html.escape(store.describe().get("location", ""))
        head = W.HTML(
            value=f"{PAGE_CSS}<div class='bf-title'>{html.escape(title)}</div>"
            f"<div class='bf-status'>{html.escape(store.backend)} store {where}</div>"
        )
        head.add_class("bf-title-bar")
        super().__init__([W.HBox([head, self.status], layout=W.Layout(justify_content="space-between")),
                          *layout_rows])  # fmt: skip
        self.add_class("bf-page")
        self.add_class(f"bf-page-{name}")
        self.layout.width = "100%"
        self.watcher = ChangeWatcher(store, list(self.components.values()), interval_s=interval_s,
                                     on_change=self._changed)  # fmt: skip
        for component in self.components.values():
            component.refresh()
        self._say("drawn")
        if watch:
            self.watcher.start()

    def _changed(self, markers: tuple[Marker, ...]) -> None:
        self._say(f"updated ({', '.join(markers)} changed)")

    def _say(self, what: str) -> None:
        self.status.value = f"<span class='bf-status'>{html.escape(what)} {now_text()}</span>"

    def refresh(self) -> None:
        """Refresh every component now."""
        for component in self.components.values():
            component.refresh()
        self._say("refreshed")

    def close_page(self) -> None:
        """Stop the watcher (the page's widgets stay)."""
        self.watcher.stop()


def _row(*items: Any, widths: tuple[str, ...] | None = None) -> Any:
    boxes = list(items)
    if widths:
        for box, width in zip(boxes, widths, strict=True):
            box.layout.width = width
    return W.HBox(boxes, layout=W.Layout(width="100%", align_items="stretch"))


def _check_interval(interval_s: float) -> float:
    if isinstance(interval_s, bool) or not isinstance(interval_s, int | float) or not 0.1 <= interval_s <= 3600:
        raise InvalidInputError(f"interval_s must be a number of seconds from 0.1 to 3600, got {interval_s!r}")
    return float(interval_s)


def portfolio_monitor(
    store: Store,
    *,
    portfolio: str | None = None,
    benchmark: str | None = "SPY",
    watch: bool = True,
    interval_s: float = 1.0,
) -> Page:
    """Build the portfolio monitor: positions, cash and P&L, equity against a benchmark, metrics, exposure, orders.

    It updates by itself when another process records a transaction, ingests bars, or sends
    an order (a paper_rebalance job, ``bifrost orders submit``) or the broker fills one: the
    blotter shows the portfolio's orders of the newest day with orders (`OrderBlotter`), and
    their fills beside it (`FillsTable`).

    Parameters
    ----------
    store
        The store to show (`bifrost.data.open_store`).
    portfolio
        The portfolio shown first (default: the first by name); the picker changes it.
    benchmark
        The symbol the equity curve and the metrics are measured against, where the store has it.
    watch, interval_s
        Poll the store's change markers every ``interval_s`` seconds from a thread.
    """
    interval_s = _check_interval(interval_s)
    positions = PositionsTable(store)
    equity = EquityChart(store, benchmark=benchmark)
    metrics = PortfolioMetrics(store, benchmark=benchmark)
    exposure = ExposureTable(store)
    blotter = OrderBlotter(store)
    fills = FillsTable(store)
    shown = (positions, equity, metrics, exposure, blotter, fills)

    def pick(name: str | None) -> None:
        for c in shown:
            c.set_portfolio(name)

    picker = PortfolioPicker(store, on_pick=None)
    picker.refresh()
    first = portfolio if portfolio is not None and portfolio in picker.dropdown.options else picker.value
    if first is not None:
        picker.dropdown.value = first
    for c in shown:
        c.portfolio = first
    picker.on_pick = pick
    rows = [
        picker.widget,
        # the positions and the totals across the page (a wide book scrolls sideways inside its card);
        # the exposure under the metrics, beside the chart
        _row(positions.widget, widths=("100%",)),
        _row(equity.widget, W.VBox([metrics.widget, exposure.widget]), widths=("70%", "30%")),
        # the orders as they happen (sent here or by another process) beside their executions
        _row(blotter.widget, fills.widget, widths=("60%", "40%")),
    ]
    components = {"picker": picker, "positions": positions, "equity": equity, "metrics": metrics,
                  "exposure": exposure, "blotter": blotter, "fills": fills}  # fmt: skip
    return Page("portfolio_monitor", "Portfolio monitor", store, components, rows, watch=watch, interval_s=interval_s)


def risk_monitor(store: Store, *, portfolio: str | None = None, watch: bool = True, interval_s: float = 1.0) -> Page:
    """Build the risk monitor: VaR/ES by method, limit utilisation, the stress table, recent alerts, "check now".

    Parameters are those of `portfolio_monitor`.
    """
    interval_s = _check_interval(interval_s)
    var = VarTable(store)
    limits = LimitBars(store)
    stress = StressTable(store)
    alerts = AlertsList(store)
    shown = (var, limits, stress, alerts)
    check = W.Button(description="Check limits now", button_style="warning")
    check.add_class("bf-check-limits")

    def check_now(_: Any = None) -> None:
        try:
            limits.check_now()
        except Exception as exc:  # the page's boundary: the message in the limits' error area
            from bifrost.ui._base import describe_error

            limits.error.show(describe_error(exc))
        alerts.refresh()

    check.on_click(check_now)

    def pick(name: str | None) -> None:
        for c in shown:
            c.set_portfolio(name)

    picker = PortfolioPicker(store)
    picker.refresh()
    first = portfolio if portfolio is not None and portfolio in picker.dropdown.options else picker.value
    if first is not None:
        picker.dropdown.value = first
    for c in shown:
        c.portfolio = first
    picker.on_pick = pick
    rows = [
        W.HBox([picker.widget, check]),
        # the stress table (a column per symbol) beside the short VaR table; the limits beside the alerts
        _row(var.widget, stress.widget, widths=("30%", "70%")),
        _row(limits.widget, alerts.widget, widths=("46%", "54%")),
    ]
    components = {"picker": picker, "var": var, "limits": limits, "stress": stress, "alerts": alerts}
    page = Page("risk_monitor", "Risk monitor", store, components, rows, watch=watch, interval_s=interval_s)
    page.check_button = check
    return page


def backtest_explorer(
    store: Store, *, symbols: str | None = None, watch: bool = False, interval_s: float = 1.0
) -> Page:
    """Build the backtest explorer: the form (strategy, symbols, parameters, dates, costs), run and sweep.

    Parameters
    ----------
    symbols
        What the symbols field holds first (default: the store's first symbol).
    """
    interval_s = _check_interval(interval_s)
    if symbols is None:
        listed = store.list_symbols()
        symbols = str(listed["symbol"].iloc[0]) if len(listed) else ""
    form = BacktestForm(store, symbols=symbols)
    return Page("backtest_explorer", "Backtest explorer", store, {"form": form}, [form.widget], watch=watch,
                interval_s=interval_s)  # fmt: skip


def job_monitor(
    store: Store,
    jobs: Mapping[str, Any] | None = None,
    *,
    link_base: str | None = DEFAULT_LINK_BASE,
    watch: bool = True,
    interval_s: float = 1.0,
) -> Page:
    """Build the job monitor: recent runs (status, duration, links to the notebook and HTML), run a job now, orders.

    The blotter under the runs shows every portfolio's orders of the newest day with orders
    (`OrderBlotter`: a job's orders, the paper_rebalance job's among them), as they happen.

    Parameters
    ----------
    jobs
        The jobs a run may start (default: `bifrost.jobs.load_jobs()`, ``papermill_jobs/jobs.toml``).
    link_base
        The URL under which the dashboard server serves ``BIFROST_HOME/runs``; None (JupyterLab,
        no such route): runs are shown from the files' text and not linked.
    """
    interval_s = _check_interval(interval_s)
    runs = RunsTable(store, link_base=link_base)
    viewer = RunViewer(store, link_base=link_base)

    def done() -> None:
        runs.refresh()
        viewer.refresh()

    control = RunJobControl(store, jobs=jobs, on_done=done)
    blotter = OrderBlotter(store)
    rows = [control.widget, runs.widget, blotter.widget, viewer.widget]
    components = {"control": control, "runs": runs, "blotter": blotter, "viewer": viewer}
    return Page("job_monitor", "Job monitor", store, components, rows, watch=watch, interval_s=interval_s)


def data_explorer(store: Store, *, symbol: str | None = None, watch: bool = True, interval_s: float = 1.0) -> Page:
    """Build the data explorer: symbols and their coverage, quality findings, candlesticks (adjustment toggle)."""
    interval_s = _check_interval(interval_s)
    coverage = CoverageTable(store)
    quality = QualityFindings(store)
    candles = CandlestickChart(store, symbol=symbol)
    rows = [candles.widget, _row(coverage.widget, quality.widget, widths=("45%", "55%"))]
    return Page("data_explorer", "Data explorer", store, {"coverage": coverage, "quality": quality,
                                                          "candles": candles}, rows, watch=watch,
                interval_s=interval_s)  # fmt: skip
