"""Data-quality report over stored bars: gaps, stale prices, outlier returns, missing fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bifrost.data._store import BarStore, TimeLike

__all__ = ["QualityReport", "check_quality"]


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityReport:
    """Findings, one row each: ``symbol, ts, check, detail``; and the calendar used."""

    findings: pd.DataFrame
    calendar_days: int
    symbols: int

    def counts(self) -> dict[str, int]:
        """Return the number of findings per check."""
        return {str(k): int(v) for k, v in self.findings["check"].value_counts().sort_index().items()}

    def summary(self) -> str:
        """Return a short human-readable account."""
        counts = self.counts()
        if not counts:
            return f"{self.symbols} symbols over {self.calendar_days} trading days: no findings"
        parts = ", ".join(f"{v} {k}" for k, v in counts.items())
        return f"{self.symbols} symbols over {self.calendar_days} trading days: {parts}"

    def _repr_html_(self) -> str:
        return f"<p>{self.summary()}</p>" + self.findings.head(50).to_html(index=False)


def check_quality(
    store: BarStore,
    symbols: Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    *,
    stale_days: int = 5,
    outlier_sigma: float = 10.0,
) -> QualityReport:
    """Check stored bars against the trading calendar of the data itself.

    - ``gap``: a date on which most symbols traded is missing for a symbol between its
      first and last bar (the calendar is the set of dates with bars for at least half
      of the symbols).
    - ``stale``: the close is unchanged for ``stale_days`` or more bars in a row.
    - ``outlier``: a daily log return beyond ``outlier_sigma`` robust standard deviations
      (1.4826 × MAD) of the symbol's returns and beyond 25%, with no split that day.
    - ``missing``: a run of bars without adj_close in a symbol whose source gave it on
      other bars (one finding per run, stamped at its first bar).
    """
    panel = store.read_panel(symbols, start, end, fields=["close", "adj_close"])
    close = panel["close"]
    adj_close = panel["adj_close"]
    n_t, n_s = close.shape
    have = np.isfinite(close)
    calendar = have.sum(axis=1) >= max(1, n_s // 2) if n_s else np.zeros(n_t, dtype=bool)
    actions = store.read_actions(list(panel.symbols))
    split_days = {
        (s, t) for s, t, k in zip(actions["symbol"], actions["ts"], actions["kind"], strict=True) if k == "split"
    }
    rows: list[tuple[str, pd.Timestamp, str, str]] = []
    for j, sym in enumerate(panel.symbols):
        idx = np.flatnonzero(have[:, j])
        if idx.size == 0:
            continue
        inside = np.zeros(n_t, dtype=bool)
        inside[idx[0] : idx[-1] + 1] = True
        for i in np.flatnonzero(inside & calendar & ~have[:, j]):
            rows.append((sym, panel.ts[int(i)], "gap", "no bar on a trading day of the calendar"))
        adj = adj_close[idx, j]
        lacking = np.isnan(adj)
        if lacking.any() and not lacking.all():
            edges = np.flatnonzero(np.diff(np.r_[0, lacking.astype(np.int8), 0]))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                rows.append((sym, panel.ts[idx[a]], "missing", f"adj_close missing on {b - a} bar(s) from here"))
        c = close[idx, j]
        run_start = 0
        for k in range(1, c.size + 1):
            if k == c.size or c[k] != c[run_start]:
                if k - run_start >= stale_days:
                    rows.append(
                        (
                            sym,
                            panel.ts[idx[run_start]],
                            "stale",
                            f"close {c[run_start]:g} unchanged for {k - run_start} bars",
                        )
                    )
                run_start = k
        if c.size > 2:
            r = np.diff(np.log(c))
            med = np.median(r)
            scale = 1.4826 * np.median(np.abs(r - med)) or np.std(r) or 1.0
            for k in map(int, np.flatnonzero((np.abs(r - med) > outlier_sigma * scale) & (np.abs(r) > np.log(1.25)))):
                ts = panel.ts[idx[k + 1]]
                if (sym, ts) not in split_days:
                    rows.append((sym, ts, "outlier", f"daily return {np.expm1(r[k]):+.1%} with no split recorded"))
    findings = pd.DataFrame(rows, columns=["symbol", "ts", "check", "detail"])
    return QualityReport(findings=findings, calendar_days=int(calendar.sum()), symbols=n_s)
