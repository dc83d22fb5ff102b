"""Reusable ipywidgets components and the dashboard pages that ``widgets/*.ipynb`` display.

Every component takes a store explicitly and has ``refresh()``; a `ChangeWatcher` polls the
store's cheap change markers and refreshes only what changed. Only the surfaces (Voila
dashboards, notebooks) import this package.

Typical use (a dashboard notebook's last cell)::

    from bifrost.data import open_store
    from bifrost.ui import portfolio_monitor
    portfolio_monitor(open_store())
"""

from bifrost.ui._backtest import BacktestForm
from bifrost.ui._base import PAGE_CSS, Column, Component, ErrorArea, Marker, html_table
from bifrost.ui._data import CandlestickChart, CoverageTable, QualityFindings
from bifrost.ui._jobs import DEFAULT_LINK_BASE, RunJobControl, RunsTable, RunViewer, run_link
from bifrost.ui._orders import FillsTable, OrderBlotter
from bifrost.ui._pages import Page, backtest_explorer, data_explorer, job_monitor, portfolio_monitor, risk_monitor
from bifrost.ui._portfolio import (
    EquityChart,
    ExposureTable,
    MetricsTable,
    PortfolioMetrics,
    PortfolioPicker,
    PositionsTable,
    portfolio_returns,
)
from bifrost.ui._risk import AlertsList, LimitBars, StressTable, VarTable
from bifrost.ui._ticket import CheckRow, OrderTicket, order_ticket, paper_manager
from bifrost.ui._watch import MARKERS, ChangeWatcher

__all__ = [
    "DEFAULT_LINK_BASE",
    "MARKERS",
    "PAGE_CSS",
    "AlertsList",
    "BacktestForm",
    "CandlestickChart",
    "ChangeWatcher",
    "CheckRow",
    "Column",
    "Component",
    "CoverageTable",
    "EquityChart",
    "ErrorArea",
    "ExposureTable",
    "FillsTable",
    "LimitBars",
    "Marker",
    "MetricsTable",
    "OrderBlotter",
    "OrderTicket",
    "Page",
    "PortfolioMetrics",
    "PortfolioPicker",
    "PositionsTable",
    "QualityFindings",
    "RunJobControl",
    "RunViewer",
    "RunsTable",
    "StressTable",
    "VarTable",
    "backtest_explorer",
    "data_explorer",
    "html_table",
    "job_monitor",
    "order_ticket",
    "paper_manager",
    "portfolio_monitor",
    "portfolio_returns",
    "risk_monitor",
    "run_link",
]
