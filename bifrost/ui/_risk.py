"""Risk components: VaR/ES by method, limit utilisation, the stress table, the alerts list."""

from __future__ import annotations

import html
from typing import Any, ClassVar, get_args

import ipywidgets as W
import numpy as np
import pandas as pd

from bifrost.data import Store
from bifrost.risk import Method, book_from_store, book_risk, check_limits, read_alerts, stress_positions
from bifrost.ui._base import Column, Marker, PortfolioComponent, html_table, records

__all__ = ["AlertsList", "LimitBars", "StressTable", "VarTable"]

METHODS: tuple[Method, ...] = get_args(Method)


class VarTable(PortfolioComponent):
    """VaR and ES of the stored portfolio by every method (`bifrost.risk.book_risk`), in percent and money."""

    css_class = "bf-var-card"

    def __init__(
        self, store: Store, portfolio: str | None = None, *, confidence: float = 0.99, horizon_days: int = 1
    ) -> None:
        super().__init__(store, portfolio)
        self.confidence = confidence
        self.horizon_days = horizon_days
        self.html = W.HTML()
        self.html.add_class("bf-var-table")
        self.note = W.HTML()
        self.rows: list[dict[str, Any]] = []
        self.widget = self._root(self.html, self.note, title=f"VaR / ES {confidence:.0%}, {horizon_days} day")

    def _draw(self) -> None:
        if self.portfolio is None:
            self.rows, self.html.value, self.note.value = [], "", ""
            return
        book = book_from_store(self.store, self.portfolio)
        rows = []
        for method in METHODS:
            r = book_risk(book, method=method, confidence=self.confidence, horizon_days=self.horizon_days)
            rows.append({"method": method, "var": r.var, "es": r.es, "var_money": r.var * book.equity,
                         "es_money": r.es * book.equity})  # fmt: skip
        self.rows = rows
        self.html.value = html_table(
            rows,
            (
                Column(field="method", kind="text"),
                Column(field="var", label="VaR", kind="pct"),
                Column(field="var_money", label="VaR $", kind="money", digits=0),
                Column(field="es", label="ES", kind="pct"),
                Column(field="es_money", label="ES $", kind="money", digits=0),
            ),
            key="method",
        )
        self.note.value = f"<div class='bf-note'>equity {book.equity:,.0f}; {html.escape(str(book.window))}</div>"


class LimitBars(PortfolioComponent):
    """Each limit's utilisation as a bar, warnings and breaches highlighted (`bifrost.risk.check_limits`).

    Drawing measures without recording; `check_now` records the alerts (the "check limits now" action).
    """

    markers: ClassVar[tuple[Marker, ...]] = ("bars", "portfolios", "alerts")
    css_class = "bf-limits-card"

    def __init__(self, store: Store, portfolio: str | None = None) -> None:
        super().__init__(store, portfolio)
        self.html = W.HTML()
        self.html.add_class("bf-limits")
        self.checks: pd.DataFrame | None = None
        self.widget = self._root(self.html, title="limits")

    def _draw(self) -> None:
        if self.portfolio is None:
            self.checks, self.html.value = None, ""
            return
        self._show(check_limits(self.store, self.portfolio, record=False).checks)

    def check_now(self) -> Any:
        """Check the limits and record the alerts; return the `LimitReport`."""
        if self.portfolio is None:
            return None
        with self.lock:
            report = check_limits(self.store, self.portfolio)
            self._show(report.checks)
            self.error.clear()
        return report

    def _show(self, checks: pd.DataFrame) -> None:
        self.checks = checks
        rows = records(checks)
        for r in rows:
            u = r["utilisation"]
            width = 0.0 if not isinstance(u, float) or not np.isfinite(u) else min(max(u, 0.0), 1.0) * 100
            r["bar"] = f"<span class='bf-bar'><span style='width:{width:.0f}%'></span></span>"
            r["key"] = f"{r['limit_name']}:{r['subject']}"
            finite = isinstance(u, float) and bool(np.isfinite(u))
            r["used"] = (">999%" if float(u) > 9.99 else f"{float(u):.0%}") if finite else "–"  # type: ignore[arg-type]
        self.html.value = (
            html_table(
                rows,
                (
                    Column(field="limit_name", label="limit", kind="text"),
                    Column(field="subject", kind="text"),
                    Column(field="value", kind="pct"),
                    Column(field="threshold", label="limit", kind="pct"),
                    Column(field="used", kind="text"),
                    Column(field="bar", label="", kind="html"),
                    Column(field="severity", label="status", kind="html"),
                ),
                key="key",
                row_class=lambda r: f"bf-limit bf-{'na' if r['severity'] == 'n/a' else r['severity']}",
                empty="no limits",
            )
            .replace("data-col='severity'>", "data-col='severity'><span class='bf-sev'>")
            .replace("</td></tr>", "</span></td></tr>")
        )


class StressTable(PortfolioComponent):
    """The worst historical windows of 1, 5 and 20 days on the book (`bifrost.risk.stress_positions`)."""

    css_class = "bf-stress-card"

    def __init__(
        self, store: Store, portfolio: str | None = None, *, window_days: tuple[int, ...] = (1, 5, 20)
    ) -> None:
        super().__init__(store, portfolio)
        self.window_days = window_days
        self.html = W.HTML()
        self.html.add_class("bf-stress")
        self.frame: pd.DataFrame | None = None
        self.widget = self._root(self.html, title="stress: worst windows")

    def _draw(self) -> None:
        if self.portfolio is None:
            self.frame, self.html.value = None, ""
            return
        book = book_from_store(self.store, self.portfolio)
        positions = {str(k): float(v) for k, v in book.values.items()}
        result = stress_positions(positions, book.returns, window_days=self.window_days, worst=2)
        frame = result.frame().rename_axis("scenario").reset_index()
        frame["fraction"] = frame["total"] / book.equity
        self.frame = frame
        cols = [Column(field="scenario", kind="text"), Column(field="start", kind="date"),
                Column(field="end", kind="date"), Column(field="total", label="P&L", kind="money", digits=0,
                                                          signed=True),
                Column(field="fraction", label="of equity", kind="pct", signed=True)]  # fmt: skip
        cols += [Column(field=str(s), kind="money", digits=0, signed=True) for s in result.pnl.columns]
        self.html.value = html_table(records(frame), cols, key="scenario")


class AlertsList(PortfolioComponent):
    """The portfolio's alert episodes, newest first (`bifrost.risk.read_alerts`); open ones highlighted."""

    markers: ClassVar[tuple[Marker, ...]] = ("alerts",)
    css_class = "bf-alerts-card"

    def __init__(self, store: Store, portfolio: str | None = None, *, limit: int = 30) -> None:
        super().__init__(store, portfolio)
        self.limit = limit
        self.html = W.HTML()
        self.html.add_class("bf-alerts")
        self.frame: pd.DataFrame | None = None
        self.widget = self._root(self.html, title="alerts")

    def _draw(self) -> None:
        if self.portfolio is None:
            self.frame, self.html.value = None, ""
            return
        frame = read_alerts(self.store, self.portfolio).iloc[::-1].head(self.limit)
        self.frame = frame
        self.html.value = html_table(
            records(frame),
            (
                Column(field="opened", label="opened (UTC)", kind="time"),
                Column(field="ts", label="checked (UTC)", kind="time"),
                Column(field="status", kind="text"),
                Column(field="severity", kind="text"),
                Column(field="limit_name", label="limit", kind="text", truncate=100),
                Column(field="subject", kind="text", truncate=110),
                Column(field="value", kind="pct"),
                Column(field="threshold", label="limit", kind="pct"),
                Column(field="worst_value", label="worst", kind="pct"),
            ),
            key="id",
            row_title=lambda r: str(r.get("message") or ""),  # one line a row; the whole message on hover
            row_class=lambda r: f"bf-alert bf-{r['severity']}" + (" bf-closed" if r["status"] == "closed" else ""),
            empty="no recorded alerts: the limits above are evaluated live; press Check limits now (or run the "
            "risk_report job) to record them",
        )
