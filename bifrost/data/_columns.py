"""Columnar bars (the store's internal form), corporate-action adjustment, and the panel.

Bar frequencies and their stamps, stated once:

- ``1d`` bars are stamped at the session date, 00:00 UTC (a daily file's times of day,
  such as yfinance's ``2014-12-01 00:00:00-05:00``, name the session and are dropped);
- intraday bars (``1s`` … ``1h``) are stamped at the bar's open in UTC and keep their time;
- ``1w`` (weeks from Monday) and ``1mo`` (calendar months) exist only as resampled reads,
  each bucket stamped at its start, 00:00 UTC.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, get_args

import numpy as np
import pandas as pd

from bifrost._checks import TS_MAX, TS_MIN, as_choice, quote
from bifrost._typing import FloatArray, IntArray
from bifrost.errors import DataError, DataQualityWarning, InvalidInputError

__all__ = [
    "ADJUSTMENTS",
    "FREQUENCIES",
    "INTRADAY_FREQUENCIES",
    "PRICE_COLUMNS",
    "REQUIRED_COLUMNS",
    "STORED_FREQUENCIES",
    "Adjustment",
    "BarColumns",
    "Frequency",
    "Panel",
    "bar_ns",
    "find_seams",
    "format_ts",
    "infer_frequency",
    "is_intraday",
    "periods_per_year",
    "source_factor",
    "warn_data_quality",
]

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = (*PRICE_COLUMNS, "volume")
Adjustment = Literal["raw", "split_adjusted", "adjusted"]
ADJUSTMENTS: tuple[Adjustment, ...] = ("raw", "split_adjusted", "adjusted")
# what bars can be stored (and sources read) at; weeks and months are resampled reads of daily bars
BarFrequency = Literal["1s", "10s", "1m", "5m", "15m", "30m", "1h", "1d"]
Frequency = Literal[BarFrequency, "1w", "1mo"]
# finest first: a frequency can be resampled to any one after it
FREQUENCIES: tuple[Frequency, ...] = ("1s", "10s", "1m", "5m", "15m", "30m", "1h", "1d", "1w", "1mo")
INTRADAY_FREQUENCIES: tuple[Frequency, ...] = FREQUENCIES[:7]
STORED_FREQUENCIES: tuple[BarFrequency, ...] = get_args(BarFrequency)
_NS_PER_DAY = 86_400 * 10**9
_BAR_NS: Mapping[Frequency, int] = MappingProxyType(
    {
        "1s": 10**9,
        "10s": 10 * 10**9,
        "1m": 60 * 10**9,
        "5m": 300 * 10**9,
        "15m": 900 * 10**9,
        "30m": 1800 * 10**9,
        "1h": 3600 * 10**9,
        "1d": _NS_PER_DAY,
        "1w": 7 * _NS_PER_DAY,
    }
)
STORED_FIELDS = (*REQUIRED_COLUMNS, "adj_close")
_SESSIONS_PER_YEAR = 252
_SESSION_NS = 23_400 * 10**9  # a US equities regular session, 09:30-16:00 New York


def warn_data_quality(message: str) -> None:
    """Warn `DataQualityWarning` at the first caller outside ``bifrost.data`` (who asked for the data)."""
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("bifrost.data."):
        frame = frame.f_back
        level += 1
    warnings.warn(message, DataQualityWarning, stacklevel=level)


def is_intraday(frequency: Frequency) -> bool:
    """Return whether ``frequency`` is finer than a day (bars keep their time of day)."""
    return frequency in INTRADAY_FREQUENCIES


def bar_ns(frequency: Frequency) -> int:
    """Return the length of one bar of ``frequency`` in nanoseconds (``1mo`` has none: months differ)."""
    if frequency not in _BAR_NS:
        raise InvalidInputError(f"a bar length is known for {tuple(_BAR_NS)}, got {frequency!r}")
    return _BAR_NS[frequency]


def periods_per_year(frequency: Frequency) -> int:
    """Return the bars of ``frequency`` in a year: the factor that annualises their returns.

    The year is US equities': 252 sessions, 52 weeks, 12 months, and an intraday bar
    counts within the regular session only (09:30 to 16:00 New York, 6.5 hours or 23,400
    seconds), so ``5m`` is 78 × 252 = 19,656, ``1h`` 6.5 × 252 = 1,638 and ``1s``
    23,400 × 252. A market that trades around the clock (crypto, FX) or on another
    calendar has another year: pass its own factor (``periods_per_year=`` of
    `bifrost.strategy.backtest` and `bifrost.strategy.sweep`).

    Examples
    --------
    >>> periods_per_year("1d"), periods_per_year("5m"), periods_per_year("1mo")
    (252, 19656, 12)
    """
    frequency = as_choice(frequency, "frequency", FREQUENCIES)
    if frequency == "1mo":
        return 12
    if frequency == "1w":
        return 52
    if frequency == "1d":
        return _SESSIONS_PER_YEAR
    return _SESSIONS_PER_YEAR * _SESSION_NS // _BAR_NS[frequency]  # exact: every bar divides 6.5 h × 252


def format_ts(ts_ns: int, frequency: Frequency) -> str:
    """Return a bar's stamp for messages: its date, or for an intraday bar its ISO 8601 UTC time."""
    stamp = pd.Timestamp(int(ts_ns), tz="UTC")
    return stamp.isoformat() if is_intraday(frequency) else str(stamp.date())


def infer_frequency(ts_ns: IntArray, codes: IntArray) -> Frequency | int:
    """Return the frequency the bar stamps' spacing shows, or the spacing (ns) if it matches none.

    The spacing is the most common gap between consecutive distinct stamps of each symbol
    (``codes``), the smallest on a tie; overnight and weekend gaps are rarer than the bar
    size, so they do not decide. A gap of a day or more, or no gap at all (one bar per
    symbol), is ``1d``. A gap under a day must be exactly one of `INTRADAY_FREQUENCIES`;
    any other (bars 2 minutes apart) is returned as its length in nanoseconds, for the
    caller to refuse naming it.
    """
    order = np.lexsort((ts_ns, codes))
    ts, cs = ts_ns[order], codes[order]
    same = cs[1:] == cs[:-1]
    gaps = (ts[1:] - ts[:-1])[same]
    gaps = gaps[gaps > 0]
    if not gaps.size:
        return "1d"
    values, counts = np.unique(gaps, return_counts=True)
    modal = int(values[np.argmax(counts)])  # np.unique sorts: argmax takes the smallest of a tie
    if modal >= _NS_PER_DAY:
        return "1d"
    for frequency in INTRADAY_FREQUENCIES:
        if _BAR_NS[frequency] == modal:
            return frequency
    return modal


@dataclass(frozen=True, slots=True, kw_only=True)
class BarColumns:
    """Bars as flat arrays sorted by (symbol, ts): ``codes`` index into ``symbols``.

    ``frequency`` is the bars' frequency. Where a read holds symbols stored at different
    frequencies, build it at the finest of them: `resampled` then aggregates every symbol,
    and a coarser bar aligned to the target's grid is its own bucket.
    """

    symbols: tuple[str, ...]
    codes: IntArray
    ts: IntArray  # int64 nanoseconds since the epoch, UTC: session dates, or intraday bar opens
    values: Mapping[str, FloatArray]
    notes: tuple[str, ...] = ()
    frequency: Frequency = "1d"

    def __len__(self) -> int:
        return int(self.ts.size)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, frequency: Frequency = "1d") -> BarColumns:
        """Build from a canonical frame on a sorted ``(symbol, ts)`` index of bars at ``frequency``."""
        sym = frame.index.get_level_values("symbol")
        codes, uniques = pd.factorize(sym, sort=True)
        ts = pd.DatetimeIndex(frame.index.get_level_values("ts")).as_unit("ns").asi8
        values = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns}
        return cls(
            symbols=tuple(map(str, uniques)), codes=codes.astype(np.int64), ts=ts, values=values, frequency=frequency
        )

    def to_frame(self) -> pd.DataFrame:
        """Return the canonical long frame on a ``(symbol, ts)`` index."""
        index = pd.MultiIndex.from_arrays(
            [
                pd.Categorical.from_codes(self.codes, categories=list(self.symbols)).astype(object)  # type: ignore[call-overload]
                if self.symbols
                else pd.Index([], dtype=object),
                pd.DatetimeIndex(self.ts.astype("datetime64[ns]"), tz="UTC"),
            ],
            names=["symbol", "ts"],
        )
        frame = pd.DataFrame(dict(self.values), index=index)
        frame.attrs["notes"] = list(self.notes)
        return frame

    def split(self, mask: Sequence[bool]) -> tuple[BarColumns, BarColumns]:
        """Split by symbol: rows of symbols where ``mask`` (one flag per symbol) is true, and the rest."""
        chosen = np.asarray(mask, dtype=bool)
        rows = chosen[self.codes] if len(self) else np.zeros(0, dtype=bool)
        return self._take(rows), self._take(~rows)

    def _take(self, rows: np.ndarray) -> BarColumns:
        return BarColumns(
            symbols=self.symbols,
            codes=self.codes[rows],
            ts=self.ts[rows],
            values={k: v[rows] for k, v in self.values.items()},
            notes=self.notes,
            frequency=self.frequency,
        )

    def blocks(self) -> list[tuple[int, int, int]]:
        """Return ``(code, start, stop)`` for each symbol's contiguous block of rows."""
        if not len(self):
            return []
        edges = np.flatnonzero(np.diff(self.codes)) + 1
        starts = np.concatenate([[0], edges])
        stops = np.concatenate([edges, [len(self)]])
        return [(int(self.codes[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]

    def adjusted(self, actions: pd.DataFrame, mode: Adjustment, *, tail: BarColumns | None = None) -> BarColumns:
        """Return back-adjusted prices (and volumes) for ``mode``.

        ``split_adjusted`` divides prices before each split's ex-date by the ratio and
        multiplies volumes by it. ``adjusted`` (total return) also multiplies prices before
        each dividend's ex-date by ``1 - dividend / previous close`` (the CRSP convention).
        Where a symbol has no dividend events but its source gave ``adj_close``, the
        ``adjusted`` factor is ``adj_close / close``, and a note says so. Where that source
        gave ``adj_close`` on some of the symbol's bars only (two sources merged: ORCL from
        Yahoo to 2014, then a file without it), the factor is made consistent at each seam
        (`source_factor`): bars without ``adj_close`` take the factor of the next bar with
        one (no dividend is known among them), and bars after the last one are the anchor
        (factor 1), the earlier factors rescaled to meet them. The series then never jumps
        where only the sources change, but the bars without ``adj_close`` carry no dividend:
        a `DataQualityWarning` names them (the note is information, the warning a problem
        to fix).

        ``tail`` holds ``close`` and ``adj_close`` of the bars after these (a read bounded by
        ``end``): the factor before a seam depends on them, so that a bounded read equals
        the same rows of an open one.
        """
        if mode not in ADJUSTMENTS:
            raise InvalidInputError(f"adjustment must be one of {ADJUSTMENTS}, got {mode!r}")
        if mode == "raw" or not len(self):
            return self
        if "close" not in self.values:
            raise InvalidInputError("an adjusted read needs the close field")
        price_f = np.ones(len(self))
        volume_f = np.ones(len(self))
        notes = list(self.notes)
        partial: list[str] = []
        by_symbol = {s: g for s, g in actions.groupby("symbol", sort=False)} if len(actions) else {}
        close = self.values["close"]
        adj_close = self.values.get("adj_close")
        after = _tail_blocks(tail)
        for code, a, b in self.blocks():
            sym = self.symbols[code]
            events = by_symbol.get(sym)
            has_div = events is not None and bool((events["kind"] == "dividend").any())
            if mode == "adjusted" and not has_div and adj_close is not None:
                given = np.isfinite(adj_close[a:b])
                later_close, later_adj = after.get(sym, (_NONE, _NONE))
                factor = source_factor(np.r_[close[a:b], later_close], np.r_[adj_close[a:b], later_adj])
                if factor is not None and (given.any() or np.isfinite(later_adj).any()):
                    # the source's own total-return factor, consistent across its seams
                    price_f[a:b] = factor[: b - a]
                    notes.append(f"{sym}: adjusted prices derived from the source's adj_close")
                    if not given.all():
                        partial.append(f"{sym} ({int((~given).sum()):,} of {b - a:,} bars)")
                    if events is not None:
                        _, volume_f[a:b] = _event_factors(self.ts[a:b], close[a:b], events, splits_only=True)
                    continue
            if events is None:
                continue
            pf, vf = _event_factors(self.ts[a:b], close[a:b], events, splits_only=mode == "split_adjusted")
            price_f[a:b] = pf
            volume_f[a:b] = vf
        if partial:
            shown = ", ".join(partial[:5]) + (f" and {len(partial) - 5} more" if len(partial) > 5 else "")
            warn_data_quality(
                f"adjusted prices come from the source's adj_close, which is missing on some bars of {shown}: "
                "those bars are not dividend-adjusted (the series is scaled to meet them at each seam, so it "
                "does not jump there; `bifrost data check` lists the seams); re-ingest from a source that gives "
                "adj_close on every bar, or record the dividends (record_actions) to adjust from the events"
            )
        values = dict(self.values)
        for c in PRICE_COLUMNS:
            if c in values:
                values[c] = values[c] * price_f
        if "volume" in values:
            values["volume"] = values["volume"] * volume_f
        return BarColumns(
            symbols=self.symbols,
            codes=self.codes,
            ts=self.ts,
            values=values,
            notes=tuple(notes),
            frequency=self.frequency,
        )

    def checked(self, where: str) -> BarColumns:
        """Return self if every value is one a market prints, else raise `DataError`.

        Prices (and ``adj_close``) must be finite and positive, volumes finite and not
        negative; NaN is allowed (a field the source did not give). Bars leave a store
        through this check, so that damaged data (written around validation, or by a
        corporate action no longer plausible against the prices) is named where it is
        rather than failing later in a computation that blames its caller.
        """
        for name, v in self.values.items():
            with np.errstate(invalid="ignore"):
                bad = np.isinf(v) | ((v < 0) if name == "volume" else (v <= 0))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                day = format_ts(int(self.ts[i]), self.frequency)
                raise DataError(
                    f"{where}: {self.symbols[int(self.codes[i])]} has {name} {float(v[i]):g} on {day}"
                    f" ({int(bad.sum()):,} such value(s)), which no market prints: the stored bars or a"
                    " corporate action are damaged; `bifrost data check` lists every finding, and"
                    " re-ingesting the symbol (or re-recording the action) repairs it"
                )
        return self

    def resampled(self, frequency: Frequency) -> BarColumns:
        """Aggregate bars into coarser ones: intraday buckets, days, weeks (from Monday) or months.

        Each bucket is stamped at its start in UTC: an intraday bucket on the epoch's grid
        of its length (a 5-minute bar at 14:35 falls in the 1-hour bucket of 14:00), a day
        at 00:00 UTC of the bar's UTC date, a week at its Monday, a month at its 1st. Open
        is the first open, high the highest high, low the lowest low, close (and adj_close)
        the last, volume the sum: for intraday and daily targets, the buckets of pandas'
        ``resample(rule)`` on the UTC index.

        Raises
        ------
        InvalidInputError
            If ``frequency`` is not a `Frequency`, or is finer than the bars' own (bars
            cannot be split: read at their frequency or a coarser one).
        """
        frequency = as_choice(frequency, "frequency", FREQUENCIES)
        if FREQUENCIES.index(frequency) < FREQUENCIES.index(self.frequency):
            raise InvalidInputError(
                f"cannot resample {self.frequency} bars to the finer {frequency}: bars are only ever "
                f"aggregated; read at {self.frequency} or a frequency after it in {FREQUENCIES}"
            )
        if frequency == self.frequency:
            return self
        if not len(self):
            return replace(self, frequency=frequency)
        if frequency == "1mo":
            bucket = self.ts.astype("datetime64[ns]").astype("datetime64[M]").astype("datetime64[ns]").astype(np.int64)
        elif frequency == "1w":
            days = self.ts // _NS_PER_DAY
            bucket = (days - (days + 3) % 7) * _NS_PER_DAY  # 1970-01-01 was a Thursday
        else:
            step = _BAR_NS[frequency]
            bucket = self.ts // step * step  # floor division: stamps before 1970 floor down too
        starts = np.flatnonzero(np.r_[True, (np.diff(self.codes) != 0) | (np.diff(bucket) != 0)])
        ends = np.r_[starts[1:], len(self)] - 1
        reducers: dict[str, Callable[[FloatArray], FloatArray]] = {
            "open": lambda v: v[starts],
            "high": lambda v: np.maximum.reduceat(v, starts),
            "low": lambda v: np.minimum.reduceat(v, starts),
            "close": lambda v: v[ends],
            "adj_close": lambda v: v[ends],
            "volume": lambda v: np.add.reduceat(v, starts),
        }
        return BarColumns(
            symbols=self.symbols,
            codes=self.codes[starts],
            ts=bucket[starts],
            values={f: reducers[f](v) for f, v in self.values.items()},
            notes=self.notes,
            frequency=frequency,
        )

    def to_panel(self, fields: Sequence[str], adjustment: Adjustment) -> Panel:
        """Pivot to time × symbol arrays on the union calendar (NaN where no bar)."""
        calendar = np.sort(pd.unique(self.ts)) if len(self) else np.empty(0, dtype=np.int64)
        shape = (calendar.size, len(self.symbols))
        arrays: dict[str, FloatArray] = {}
        # every symbol on every date, in code order then date order: a reshape, no scatter
        rectangle = (
            len(self) > 0
            and len(self) == shape[0] * shape[1]
            and bool((self.codes.reshape(shape[1], shape[0]) == np.arange(shape[1])[:, None]).all())
            and bool((self.ts.reshape(shape[1], shape[0]) == calendar).all())
        )
        if rectangle:
            for f in fields:
                arrays[f] = self.values[f].reshape(shape[1], shape[0]).T  # a view: no copy
        else:
            flat_idx = self.codes * shape[0] + np.searchsorted(calendar, self.ts)
            for f in fields:
                out = np.full(shape[0] * shape[1], np.nan)
                out[flat_idx] = self.values[f]
                arrays[f] = out.reshape(shape[1], shape[0]).T
        for a in arrays.values():
            a.setflags(write=False)  # the store is the source of truth: copy to modify
        return Panel(
            ts=pd.DatetimeIndex(calendar.astype("datetime64[ns]"), tz="UTC", name="ts"),
            symbols=self.symbols,
            fields=MappingProxyType(arrays),
            adjustment=adjustment,
            notes=self.notes,
            frequency=self.frequency,
        )


_NONE = np.empty(0, dtype=np.float64)


def _tail_blocks(tail: BarColumns | None) -> dict[str, tuple[FloatArray, FloatArray]]:
    # each symbol's close and adj_close after a bounded read's end
    if tail is None or not len(tail) or "adj_close" not in tail.values:
        return {}
    close, adj = tail.values["close"], tail.values["adj_close"]
    return {tail.symbols[code]: (close[a:b], adj[a:b]) for code, a, b in tail.blocks()}


def source_factor(close: FloatArray, adj_close: FloatArray) -> FloatArray | None:
    """Return one symbol's total-return factor from its source's ``adj_close``, consistent across seams.

    Where ``adj_close`` is given the factor is ``adj_close / close``. A bar without it
    takes the factor of the next bar with one: no dividend is known among such bars, so
    the adjusted series moves as the raw close there. Bars after the last ``adj_close``
    have factor 1 and the earlier factors are divided by the last one's, so that the
    series meets them (a back-adjusted series is anchored at its latest bar). None when
    no bar has an ``adj_close``.

    Examples
    --------
    >>> source_factor(np.array([10.0, 10.0, 11.0, 12.0]), np.array([9.0, 9.5, np.nan, np.nan])).round(4).tolist()
    [0.9474, 1.0, 1.0, 1.0]
    """
    n = close.size
    with np.errstate(invalid="ignore", divide="ignore"):
        given = np.isfinite(adj_close) & np.isfinite(close) & (close > 0)
    if not given.any():
        return None
    factor = np.full(n, np.nan)
    factor[given] = adj_close[given] / close[given]
    last = int(np.flatnonzero(given)[-1])
    if last < n - 1:
        factor[: last + 1] /= factor[last]
        factor[last + 1 :] = 1.0
    # each bar's nearest bar with a factor at or after it
    at = np.where(np.isfinite(factor), np.arange(n), n)
    nearest = np.minimum.accumulate(at[::-1])[::-1]
    return factor[nearest]


def find_seams(cols: BarColumns) -> list[tuple[str, int, str]]:
    """Return ``(symbol, ts_ns, detail)`` for each seam: where a symbol's ``adj_close`` starts or ends.

    A seam is where two sources that disagree about adjustment meet (one gave
    ``adj_close``, the other did not); ``detail`` says how far the adjusted close jumped
    there when each bar's factor was taken as given, against the raw close's move.
    Needs the ``close`` and ``adj_close`` fields; symbols with dividend events are the
    caller's to leave out (their adjustment comes from the events).
    """
    if "adj_close" not in cols.values or "close" not in cols.values:
        return []
    close, adj = cols.values["close"], cols.values["adj_close"]
    seams: list[tuple[str, int, str]] = []
    for code, a, b in cols.blocks():
        given = np.isfinite(adj[a:b])
        if given.all() or not given.any():
            continue
        for k in map(int, np.flatnonzero(given[1:] != given[:-1]) + 1):
            i = a + k
            before, now = format_ts(int(cols.ts[i - 1]), cols.frequency), format_ts(int(cols.ts[i]), cols.frequency)
            what = f"adj_close ends after {before}" if given[k - 1] else f"adj_close starts on {now}, none on {before}"
            naive_prev = adj[i - 1] if given[k - 1] else close[i - 1]
            naive_now = adj[i] if given[k] else close[i]
            seams.append(
                (
                    cols.symbols[code],
                    int(cols.ts[i]),
                    f"{what}: two sources disagree about adjustment; the adjusted close taken as given "
                    f"moved {naive_now / naive_prev - 1:+.1%} here, the raw close {close[i] / close[i - 1] - 1:+.1%}"
                    " (adjusted reads are scaled to meet at the seam; the bars without adj_close are not "
                    "dividend-adjusted)",
                )
            )
    return seams


def _event_factors(
    ts: IntArray, close: FloatArray, events: pd.DataFrame, *, splits_only: bool
) -> tuple[FloatArray, FloatArray]:
    n = ts.size
    # step[k] multiplies every bar before index k; factor[i] = prod(step[i+1:])
    step = np.ones(n + 1)
    vstep = np.ones(n + 1)
    ev_ts = events["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    pos = np.searchsorted(ts, ev_ts, side="left")
    for p, kind, value in zip(pos, events["kind"], events["value"], strict=True):
        if kind == "split":
            step[p] /= value
            vstep[p] *= value
        elif kind == "dividend" and not splits_only and p > 0:
            step[p] *= 1.0 - value / close[p - 1]
    factor = np.cumprod(step[::-1])[::-1][1:]
    vfactor = np.cumprod(vstep[::-1])[::-1][1:]
    return factor.astype(np.float64), vfactor.astype(np.float64)


@dataclass(frozen=True, slots=True, kw_only=True)
class Panel:
    """Bars as one 2-D float64 array per field, time × symbols, on the union calendar.

    Arrays are symbol-major (Fortran order): each symbol's history is contiguous in
    memory, the layout per-symbol kernels (indicators, backtests) read fastest, and the
    one a complete store read produces without copying. ``np.ascontiguousarray`` gives
    the date-major layout where cross-sectional work needs it. Arrays are read-only;
    ``.copy()`` one to modify it.

    ``raw_splits`` are the splits a store records inside a ``raw`` read's span, which its
    prices are not adjusted for: ``(symbol, ex-date, ratio)``, set by ``read_panel``
    (a backtest warns on them); empty for other reads and panels built from bars.
    """

    ts: pd.DatetimeIndex
    symbols: tuple[str, ...]
    fields: Mapping[str, FloatArray]
    adjustment: Adjustment = "raw"
    notes: tuple[str, ...] = field(default=())
    frequency: Frequency = "1d"
    raw_splits: tuple[tuple[str, pd.Timestamp, float], ...] = field(default=())

    @classmethod
    def from_bars(
        cls, frame: pd.DataFrame, fields: Sequence[str] | None = None, *, frequency: Frequency | None = None
    ) -> Panel:
        """Build a panel from long bars: ``symbol`` and ``ts`` columns (as sources return) or index.

        ``frequency`` is the bars' frequency; by default, what their spacing shows
        (`infer_frequency`; ``1d`` where it matches no frequency).

        Examples
        --------
        >>> from bifrost.data import SyntheticMarket
        >>> Panel.from_bars(SyntheticMarket(n_symbols=3, n_days=10).bars()).shape
        (10, 3)
        """
        if isinstance(frame, pd.DataFrame) and {"symbol", "ts"} <= set(frame.columns):
            ts = pd.Series(pd.to_datetime(frame["ts"], utc=True, errors="coerce"), index=frame.index)
            unread = ts.isna() | (ts < TS_MIN) | (ts > TS_MAX)
            if unread.any():
                bad = frame["ts"][unread].iloc[0]
                raise InvalidInputError(
                    f"from_bars: ts {quote(bad)} is not a date from {TS_MIN.date()} to {TS_MAX.date()}"
                    f" ({int(unread.sum()):,} such row(s))"
                )
            frame = frame.assign(ts=ts.astype("datetime64[ns, UTC]")).set_index(["symbol", "ts"])
        if not isinstance(frame, pd.DataFrame) or list(frame.index.names) != ["symbol", "ts"]:
            raise InvalidInputError("from_bars needs a DataFrame with symbol and ts columns (or index)")
        wanted = [c for c in frame.columns if c in PRICE_COLUMNS or c == "volume"] if fields is None else list(fields)
        missing = [f for f in wanted if f not in frame.columns]
        if missing:
            raise InvalidInputError(f"the bars have no column {missing[0]!r}; they have {list(frame.columns)}")
        cols = BarColumns.from_frame(frame[wanted].sort_index())
        if frequency is None:
            inferred = infer_frequency(cols.ts, cols.codes)
            frequency = inferred if isinstance(inferred, str) else "1d"
        return replace(cols, frequency=as_choice(frequency, "frequency", FREQUENCIES)).to_panel(wanted, "raw")

    def __getitem__(self, name: str) -> FloatArray:
        try:
            return self.fields[name]
        except KeyError:
            raise InvalidInputError(f"panel has no field {name!r}; it has {list(self.fields)}") from None

    @property
    def shape(self) -> tuple[int, int]:
        """Return ``(n_times, n_symbols)``."""
        return (len(self.ts), len(self.symbols))

    def frame(self, name: str) -> pd.DataFrame:
        """Return one field as a DataFrame (ts index, one column per symbol)."""
        return pd.DataFrame(self[name], index=self.ts, columns=list(self.symbols))

    def _repr_html_(self) -> str:
        first = format_ts(self.ts[0].value, self.frequency) if len(self.ts) else "-"
        last = format_ts(self.ts[-1].value, self.frequency) if len(self.ts) else "-"
        return (
            f"<b>Panel</b> {self.shape[0]} {f'{self.frequency} bars' if is_intraday(self.frequency) else 'dates'}"
            f" × {self.shape[1]} symbols, {first} … {last}, "
            f"fields {', '.join(self.fields)}, adjustment <code>{self.adjustment}</code>"
        )
