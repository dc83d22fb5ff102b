"""Columnar bars (the store's internal form), corporate-action adjustment, and the panel."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from bifrost._checks import TS_MAX, TS_MIN, quote
from bifrost._typing import FloatArray, IntArray
from bifrost.data._validate import PRICE_COLUMNS, REQUIRED_COLUMNS
from bifrost.errors import DataError, InvalidInputError

__all__ = ["ADJUSTMENTS", "Adjustment", "BarColumns", "Panel"]

Adjustment = Literal["raw", "split_adjusted", "adjusted"]
ADJUSTMENTS: tuple[Adjustment, ...] = ("raw", "split_adjusted", "adjusted")
Frequency = Literal["1d", "1w", "1mo"]
FREQUENCIES: tuple[Frequency, ...] = ("1d", "1w", "1mo")
_NS_PER_DAY = 86_400 * 10**9
STORED_FIELDS = (*REQUIRED_COLUMNS, "adj_close")


@dataclass(frozen=True, slots=True, kw_only=True)
class BarColumns:
    """Bars as flat arrays sorted by (symbol, ts): ``codes`` index into ``symbols``."""

    symbols: tuple[str, ...]
    codes: IntArray
    ts: IntArray  # int64 nanoseconds since the epoch, UTC session dates
    values: Mapping[str, FloatArray]
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.ts.size)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> BarColumns:
        """Build from a canonical frame on a sorted ``(symbol, ts)`` index."""
        sym = frame.index.get_level_values("symbol")
        codes, uniques = pd.factorize(sym, sort=True)
        ts = pd.DatetimeIndex(frame.index.get_level_values("ts")).as_unit("ns").asi8
        values = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns}
        return cls(symbols=tuple(map(str, uniques)), codes=codes.astype(np.int64), ts=ts, values=values)

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
        )

    def blocks(self) -> list[tuple[int, int, int]]:
        """Return ``(code, start, stop)`` for each symbol's contiguous block of rows."""
        if not len(self):
            return []
        edges = np.flatnonzero(np.diff(self.codes)) + 1
        starts = np.concatenate([[0], edges])
        stops = np.concatenate([edges, [len(self)]])
        return [(int(self.codes[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]

    def adjusted(self, actions: pd.DataFrame, mode: Adjustment) -> BarColumns:
        """Return back-adjusted prices (and volumes) for ``mode``.

        ``split_adjusted`` divides prices before each split's ex-date by the ratio and
        multiplies volumes by it. ``adjusted`` (total return) also multiplies prices before
        each dividend's ex-date by ``1 - dividend / previous close`` (the CRSP convention).
        Where a symbol has no dividend events but its source gave ``adj_close``, the
        ``adjusted`` factor is ``adj_close / close``, and a note says so.
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
        by_symbol = {s: g for s, g in actions.groupby("symbol", sort=False)} if len(actions) else {}
        close = self.values["close"]
        adj_close = self.values.get("adj_close")
        for code, a, b in self.blocks():
            sym = self.symbols[code]
            events = by_symbol.get(sym)
            has_div = events is not None and bool((events["kind"] == "dividend").any())
            if mode == "adjusted" and not has_div and adj_close is not None:
                given = np.isfinite(adj_close[a:b])
                if given.any():
                    # the source's own total-return factor, where it gave one
                    price_f[a:b] = np.where(given, adj_close[a:b] / close[a:b], 1.0)
                    notes.append(f"{sym}: adjusted prices derived from the source's adj_close")
                    if events is not None:
                        _, volume_f[a:b] = _event_factors(self.ts[a:b], close[a:b], events, splits_only=True)
                    continue
            if events is None:
                continue
            pf, vf = _event_factors(self.ts[a:b], close[a:b], events, splits_only=mode == "split_adjusted")
            price_f[a:b] = pf
            volume_f[a:b] = vf
        values = dict(self.values)
        for c in PRICE_COLUMNS:
            if c in values:
                values[c] = values[c] * price_f
        if "volume" in values:
            values["volume"] = values["volume"] * volume_f
        return BarColumns(symbols=self.symbols, codes=self.codes, ts=self.ts, values=values, notes=tuple(notes))

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
                day = pd.Timestamp(int(self.ts[i]), tz="UTC").date()
                raise DataError(
                    f"{where}: {self.symbols[int(self.codes[i])]} has {name} {float(v[i]):g} on {day}"
                    f" ({int(bad.sum()):,} such value(s)), which no market prints: the stored bars or a"
                    " corporate action are damaged; `bifrost data check` lists every finding, and"
                    " re-ingesting the symbol (or re-recording the action) repairs it"
                )
        return self

    def resampled(self, frequency: Frequency) -> BarColumns:
        """Aggregate daily bars into weeks (starting Monday) or calendar months.

        Each bucket is stamped at its start (00:00 UTC): open is the first open, high the
        highest high, low the lowest low, close (and adj_close) the last, volume the sum.
        """
        if frequency not in FREQUENCIES:
            raise InvalidInputError(f"frequency must be one of {FREQUENCIES}, got {frequency!r}")
        if frequency == "1d" or not len(self):
            return self
        days = self.ts // _NS_PER_DAY
        if frequency == "1w":
            bucket = (days - (days + 3) % 7) * _NS_PER_DAY  # 1970-01-01 was a Thursday
        else:
            bucket = self.ts.astype("datetime64[ns]").astype("datetime64[M]").astype("datetime64[ns]").astype(np.int64)
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
        )


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
    """

    ts: pd.DatetimeIndex
    symbols: tuple[str, ...]
    fields: Mapping[str, FloatArray]
    adjustment: Adjustment = "raw"
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_bars(cls, frame: pd.DataFrame, fields: Sequence[str] | None = None) -> Panel:
        """Build a panel from long bars: ``symbol`` and ``ts`` columns (as sources return) or index.

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
        return BarColumns.from_frame(frame[wanted].sort_index()).to_panel(wanted, "raw")

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
        first = self.ts[0].date() if len(self.ts) else "-"
        last = self.ts[-1].date() if len(self.ts) else "-"
        return (
            f"<b>Panel</b> {self.shape[0]} dates × {self.shape[1]} symbols, {first} … {last}, "
            f"fields {', '.join(self.fields)}, adjustment <code>{self.adjustment}</code>"
        )
