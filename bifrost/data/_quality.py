"""Data-quality report over stored bars: damaged values, gaps, stale prices, outlier returns, missing fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bifrost._checks import PRICE_MAX, PRICE_MIN, VOLUME_MAX, as_positive_int, as_utc_ns, finite_in_range
from bifrost._typing import FloatArray
from bifrost.data._action_checks import SPLIT_SHAPED_MIN, contradiction, split_name, split_shaped
from bifrost.data._columns import BarColumns, Panel, find_seams
from bifrost.data._store import BarStore, TimeLike
from bifrost.data._validate import SPLIT_MAX, SPLIT_MIN

__all__ = ["QualityReport", "check_quality"]

_MAX_STALE_DAYS = 100_000  # the longest period a strategy takes: a run longer than any history


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

    - ``non-finite``: a stored value is ±inf (one finding per symbol and field, at its
      first bar), and ``implausible``: a price outside [1e-8, 1e9] or not positive, a
      volume outside [0, 1e15]. Both are values no market prints; reads refuse them.
    - ``action``: a corporate action no bar could carry: a non-finite value, a split ratio
      outside [1/1000, 1000] or equal to 1, a dividend not below the close before its
      ex-date.
    - ``gap``: a date on which most symbols traded is missing for a symbol between its
      first and last bar (the calendar is the set of dates with bars for at least half
      of the symbols).
    - ``stale``: the close is unchanged for ``stale_days`` or more bars in a row.
    - ``outlier``: a daily log return beyond ``outlier_sigma`` robust standard deviations
      (1.4826 × MAD) of the symbol's returns and beyond 25%, with no split that day.
    - ``unrecorded-split``: a raw close move of the size a common split makes (a halving:
      2-for-1) with no split recorded that day (DISCA on 2014-08-07 in the 505-stock file);
      it is not also an outlier.
    - ``action-contradicted``: a recorded split the raw closes do not show (a 2-for-1
      recorded on a file that is already split-adjusted: LNT 2016-05-19 in the 505-stock
      file), or a dividend they contradict (`bifrost.data._action_checks` states the rules).
    - ``missing``: a run of bars without adj_close in a symbol whose source gave it on
      other bars (one finding per run, stamped at its first bar).
    - ``seam``: where such a run starts or ends, two sources that disagree about
      adjustment meet (ORCL from Yahoo with Adj Close, then a file without): the detail
      says how far the adjusted close would have jumped there against the raw close
      (adjusted reads are scaled to meet, `bifrost.data._columns.source_factor`). Symbols
      with recorded dividends are adjusted from those and have no seam.
    """
    stale_days = as_positive_int(stale_days, "stale_days", minimum=2, maximum=_MAX_STALE_DAYS, unit="bars")
    outlier_sigma = finite_in_range(outlier_sigma, "outlier_sigma", lo=0.1, hi=1_000.0, unit="standard deviations")
    cols = _raw_columns(store, symbols, start, end)
    panel = cols.to_panel(list(_FIELDS), "raw")
    close = _usable(panel["close"])
    adj_close = _usable(panel["adj_close"])
    n_t, n_s = close.shape
    have = np.isfinite(close)
    calendar = have.sum(axis=1) >= max(1, n_s // 2) if n_s else np.zeros(n_t, dtype=bool)
    actions = store.read_actions(list(panel.symbols))
    split_days = {
        (s, t) for s, t, k in zip(actions["symbol"], actions["ts"], actions["kind"], strict=True) if k == "split"
    }
    rows: list[tuple[str, pd.Timestamp, str, str]] = _damaged(panel) + _bad_actions(panel, actions)
    rows += _contradicted(panel, close, actions)
    with_dividends = set(actions.loc[actions["kind"] == "dividend", "symbol"])
    rows += [
        (sym, pd.Timestamp(ts_ns, tz="UTC"), "seam", detail)
        for sym, ts_ns, detail in find_seams(cols)
        if sym not in with_dividends  # their adjustment comes from the events, not adj_close
    ]
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
        split_like: set[int] = set()
        if c.size > 1:
            r = np.diff(np.log(c))
            for k in map(int, np.flatnonzero(np.abs(r) >= SPLIT_SHAPED_MIN)):
                ts = panel.ts[idx[k + 1]]
                ratio = split_shaped(float(c[k + 1] / c[k]))
                if ratio is not None and (sym, ts) not in split_days:
                    split_like.add(k)
                    rows.append(
                        (
                            sym,
                            ts,
                            "unrecorded-split",
                            f"the raw close moved {np.expm1(r[k]):+.1%} ({c[k]:g} to {c[k + 1]:g}), the move of a "
                            f"{split_name(ratio)} split, and no split is recorded: if it is one, record it "
                            f"(`bifrost data split {sym} {ts.date()} {ratio:g}`)",
                        )
                    )
        if c.size > 2:
            med = np.median(r)
            scale = 1.4826 * np.median(np.abs(r - med)) or np.std(r) or 1.0
            for k in map(int, np.flatnonzero((np.abs(r - med) > outlier_sigma * scale) & (np.abs(r) > np.log(1.25)))):
                ts = panel.ts[idx[k + 1]]
                if (sym, ts) not in split_days and k not in split_like:
                    rows.append((sym, ts, "outlier", f"daily return {np.expm1(r[k]):+.1%} with no split recorded"))
    findings = pd.DataFrame(rows, columns=["symbol", "ts", "check", "detail"])
    return QualityReport(findings=findings, calendar_days=int(calendar.sum()), symbols=n_s)


_FIELDS = ("open", "high", "low", "close", "volume", "adj_close")


def _raw_columns(store: BarStore, symbols: Sequence[str] | None, start: TimeLike, end: TimeLike) -> BarColumns:
    # the stored values as they are: a read through read_panel refuses damaged values,
    # and finding those is this report's job
    names = store._resolve_symbols(symbols)
    start_ns = None if start is None else as_utc_ns(start, "start")
    end_ns = None if end is None else as_utc_ns(end, "end")
    return store._read_columns(names, start_ns, end_ns, list(_FIELDS))


def _usable(values: FloatArray) -> FloatArray:
    # damaged values are reported once by _damaged, and are gaps to every other check
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def _damaged(panel: Panel) -> list[tuple[str, pd.Timestamp, str, str]]:
    rows: list[tuple[str, pd.Timestamp, str, str]] = []
    for name in _FIELDS:
        v = panel[name]
        with np.errstate(invalid="ignore"):
            infinite = np.isinf(v)
            if name == "volume":
                implausible = np.isfinite(v) & ((v < 0) | (v > VOLUME_MAX))
                allowed = f"[0, {VOLUME_MAX:g}]"
            else:
                implausible = np.isfinite(v) & ((v < PRICE_MIN) | (v > PRICE_MAX))
                allowed = f"[{PRICE_MIN:g}, {PRICE_MAX:g}]"
        for check, mask in (("non-finite", infinite), ("implausible", implausible)):
            for j in np.flatnonzero(mask.any(axis=0)):
                idx = np.flatnonzero(mask[:, j])
                detail = f"{name} {v[idx[0], j]:g}" + (f" on {idx.size} bar(s) from here" if idx.size > 1 else "")
                if check == "implausible":
                    detail += f", outside {allowed}"
                rows.append((panel.symbols[int(j)], panel.ts[int(idx[0])], check, detail))
    return rows


def _contradicted(panel: Panel, close: FloatArray, actions: pd.DataFrame) -> list[tuple[str, pd.Timestamp, str, str]]:
    # each recorded split and dividend against the raw closes around its ex-date
    rows: list[tuple[str, pd.Timestamp, str, str]] = []
    column = {s: j for j, s in enumerate(panel.symbols)}
    ts_ns = panel.ts.asi8
    for sym, ts, kind, value in actions[["symbol", "ts", "kind", "value"]].itertuples(index=False):
        if sym not in column:
            continue
        c = close[:, column[sym]]
        have = np.isfinite(c)
        why = contradiction(ts_ns[have], c[have], str(kind), float(value), pd.Timestamp(ts).value)
        if why is not None:
            rows.append((str(sym), pd.Timestamp(ts), "action-contradicted", why))
    return rows


def _bad_actions(panel: Panel, actions: pd.DataFrame) -> list[tuple[str, pd.Timestamp, str, str]]:
    rows: list[tuple[str, pd.Timestamp, str, str]] = []
    column = {s: j for j, s in enumerate(panel.symbols)}
    close = _usable(panel["close"])
    for sym, ts, kind, value in actions[["symbol", "ts", "kind", "value"]].itertuples(index=False):
        value = float(value)
        stamp = pd.Timestamp(ts)
        if not np.isfinite(value):
            why = f"{kind} value {value:g} is not finite"
        elif kind == "split" and (not SPLIT_MIN <= value <= SPLIT_MAX or value == 1.0):
            why = f"split ratio {value:g} outside [{SPLIT_MIN:g}, {SPLIT_MAX:g}] or 1"
        elif kind == "dividend" and value <= 0:
            why = f"dividend {value:g} is not positive"
        elif kind == "dividend" and sym in column:
            # the close the total-return factor divides by: the bar before the ex-date
            c = close[:, column[sym]]
            k = int(panel.ts.searchsorted(stamp, side="left"))
            prior = np.flatnonzero(np.isfinite(c[:k]))
            if not prior.size or value < c[prior[-1]]:
                continue
            why = f"dividend {value:g} is not below the close {c[prior[-1]]:g} before its ex-date"
        else:
            continue
        rows.append((str(sym), stamp, "action", why))
    return rows
