"""The store contract shared by the embedded and PostgreSQL backends."""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType

import numpy as np
import pandas as pd

from bifrost._checks import TS_MAX, TS_MIN, as_utc_ns, check_symbols
from bifrost.data._columns import ADJUSTMENTS, FREQUENCIES, STORED_FIELDS, Adjustment, BarColumns, Frequency, Panel
from bifrost.data._report import IngestReport
from bifrost.data._validate import ValidatedBars
from bifrost.errors import InvalidInputError, SymbolNotFoundError

__all__ = ["BarStore", "StoreCheck", "TimeLike", "merge_bars", "to_utc_ns", "within"]

TimeLike = str | pd.Timestamp | None


def to_utc_ns(value: TimeLike, name: str) -> int | None:
    """Convert a date-like to UTC nanoseconds (naive means UTC), or None for an open bound.

    Raises `InvalidInputError` naming ``name`` for a value that is not a date or lies
    outside 1678-01-01 … 2261-12-31 (see `bifrost._checks.as_utc_timestamp`).
    """
    if value is None:
        return None
    return as_utc_ns(value, name)


def within(ts: pd.Series, start: TimeLike, end: TimeLike) -> np.ndarray:
    """Return a mask of the rows dated in ``[start, end)`` (naive dates are UTC).

    Rows whose date cannot be read, or lies outside the dates a bar can have, are kept,
    so that validation reports them by line.
    """
    lo, hi = to_utc_ns(start, "start"), to_utc_ns(end, "end")
    keep = np.ones(len(ts), dtype=bool)
    if lo is None and hi is None:
        return keep
    if pd.api.types.is_datetime64_any_dtype(ts.dtype):
        parsed = pd.Series(pd.to_datetime(ts, utc=True))
    else:
        parsed = pd.Series(pd.to_datetime(ts.astype("string"), errors="coerce", format="ISO8601", utc=True))
    # compared as timestamps, at whatever unit pandas read them: 1600-01-01 has no nanoseconds
    unread = (parsed.isna() | (parsed < TS_MIN) | (parsed > TS_MAX)).to_numpy(dtype=bool)
    if lo is not None:
        keep &= unread | (parsed >= pd.Timestamp(lo, tz="UTC")).to_numpy(dtype=bool)
    if hi is not None:
        keep &= unread | (parsed < pd.Timestamp(hi, tz="UTC")).to_numpy(dtype=bool)
    return keep


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreCheck:
    """What `BarStore.verify` found: the store's size, its problems, what it cleaned up."""

    backend: str
    location: str
    symbols: int
    rows: int
    segments: int  # files holding bars (embedded); 0 where a database holds them
    problems: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # files failed or killed writers left, now removed
    repaired: tuple[str, ...] = ()  # symbols forgotten because their bars were lost

    @property
    def ok(self) -> bool:
        """Return True when the store matches its manifest."""
        return not self.problems

    def __str__(self) -> str:
        head = (
            f"{self.backend} store at {self.location}: {self.symbols} symbol(s), {self.rows:,} bars"
            + (f" in {self.segments} segment(s)" if self.segments else "")
            + (": ok" if self.ok else f": DAMAGED, {len(self.problems)} problem(s)")
        )
        lines = [head, *(f"  problem: {p}" for p in self.problems)]
        if self.removed:
            lines.append(f"  removed {len(self.removed)} file(s) left by failed or killed writers")
        if self.repaired:
            lines.append(f"  forgot {len(self.repaired)} symbol(s) whose bars were lost: {', '.join(self.repaired)}")
        return "\n".join(lines)


class BarStore(ABC):
    """Where bars, corporate actions and the ingest log live.

    Subclasses implement the storage; reading, adjustment and panels are shared here.
    Bounds are half-open: ``start`` is included, ``end`` is not.
    """

    backend: str

    # -- what a backend implements -------------------------------------------------
    @abstractmethod
    def write(
        self,
        validated: ValidatedBars,
        *,
        ingest_id: str,
        source: str,
        quarantine_path: str | None = None,
        symbol_meta: pd.DataFrame | None = None,
    ) -> IngestReport:
        """Merge validated bars into the store atomically and record the ingest."""

    @abstractmethod
    def _read_columns(
        self, symbols: Sequence[str], start_ns: int | None, end_ns: int | None, fields: Sequence[str]
    ) -> BarColumns: ...

    def _aggregate_columns(
        self,
        symbols: Sequence[str],
        start_ns: int | None,
        end_ns: int | None,
        fields: Sequence[str],
        frequency: Frequency,
    ) -> BarColumns | None:
        """Aggregate raw bars where the data lives; None means: do it client-side."""
        return None

    @abstractmethod
    def list_symbols(self) -> pd.DataFrame:
        """Return one row per symbol: ``symbol, first, last, rows, sector, source, synthetic``."""

    @abstractmethod
    def read_actions(self, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """Return corporate actions: ``symbol, ts, kind, value`` (kind: dividend or split)."""

    @abstractmethod
    def ingest_log(self) -> pd.DataFrame:
        """Return one row per ingest, newest last."""

    @abstractmethod
    def revisions(self, symbol: str | None = None) -> pd.DataFrame:
        """Return recorded revisions: ``ingest_id, symbol, ts, field, old_value, new_value``."""

    @abstractmethod
    def describe(self) -> dict[str, str]:
        """Return the backend, its mode and its location, for display."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and locks held by this store object."""

    @abstractmethod
    def verify(self, *, repair: bool = False) -> StoreCheck:
        """Check the stored bars against the store's own records and report what is wrong."""

    @abstractmethod
    def compact(self) -> None:
        """Reorganise stored bars for faster reads; the data read back is unchanged.

        The embedded store folds its segments into one; PostgreSQL organises its own
        storage (autovacuum), so this does nothing there.
        """

    def __enter__(self) -> BarStore:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- shared reading --------------------------------------------------------------
    def read_bars(
        self,
        symbols: str | Sequence[str] | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        *,
        fields: Sequence[str] | None = None,
        adjustment: Adjustment = "raw",
        frequency: Frequency = "1d",
    ) -> pd.DataFrame:
        """Return bars in ``[start, end)`` as the canonical long frame.

        Parameters
        ----------
        symbols
            One symbol, several, or None for every symbol in the store.
        start, end
            Half-open date bounds (UTC); None leaves the side open.
        fields
            Subset of ``open, high, low, close, volume, adj_close``; default all but adj_close.
        adjustment
            ``raw`` (as traded), ``split_adjusted``, or ``adjusted`` (total return).
        frequency
            ``1d`` (stored bars), ``1w`` (weeks from Monday) or ``1mo`` (calendar months),
            stamped at the bucket's start; raw aggregates run in the database where it can.

        Raises
        ------
        SymbolNotFoundError
            If a requested symbol has no bars in the store.
        """
        return self._read(symbols, start, end, fields, adjustment, frequency).to_frame()

    def read_panel(
        self,
        symbols: str | Sequence[str] | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        *,
        fields: Sequence[str] | None = None,
        adjustment: Adjustment = "raw",
        frequency: Frequency = "1d",
    ) -> Panel:
        """Return bars as a :class:`Panel` (time × symbols per field, NaN where no bar)."""
        wanted = self._fields(fields)
        cols = self._read(symbols, start, end, wanted, adjustment, frequency)
        return cols.to_panel(wanted, adjustment)

    def _read(
        self,
        symbols: str | Sequence[str] | None,
        start: TimeLike,
        end: TimeLike,
        fields: Sequence[str] | None,
        adjustment: Adjustment,
        frequency: Frequency = "1d",
    ) -> BarColumns:
        if adjustment not in ADJUSTMENTS:
            raise InvalidInputError(f"adjustment must be one of {ADJUSTMENTS}, got {adjustment!r}")
        if frequency not in FREQUENCIES:
            raise InvalidInputError(f"frequency must be one of {FREQUENCIES}, got {frequency!r}")
        wanted = self._fields(fields)
        start_ns, end_ns = to_utc_ns(start, "start"), to_utc_ns(end, "end")
        if start_ns is not None and end_ns is not None and end_ns <= start_ns:
            raise InvalidInputError(f"end {end} must be after start {start}")
        names = self._resolve_symbols(symbols)
        if adjustment == "raw" and frequency != "1d":
            aggregated = self._aggregate_columns(names, start_ns, end_ns, wanted, frequency)
            if aggregated is not None:
                return aggregated.checked(f"the {self.backend} store")
        needed = list(wanted)
        if adjustment == "raw":
            cols = self._read_columns(names, start_ns, end_ns, needed)
        else:
            needed += [f for f in ("close", "adj_close") if f not in needed]
            actions = self.read_actions(names)
            # a dividend after `end` adjusts by the close the day before its ex-date: read up
            # to the last one, so that a bounded read equals the same rows of an open one
            read_end = end_ns
            if end_ns is not None and len(actions):
                div_ns = (
                    actions.loc[actions["kind"] == "dividend", "ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
                )
                read_end = max(end_ns, int(div_ns.max())) if div_ns.size else end_ns
            cols = self._read_columns(names, start_ns, read_end, needed).adjusted(actions, adjustment)
            if end_ns is not None and read_end != end_ns:
                cols = cols._take(cols.ts < end_ns)
        cols = cols.resampled(frequency)
        if list(cols.values) != list(wanted):
            cols = BarColumns(
                symbols=cols.symbols,
                codes=cols.codes,
                ts=cols.ts,
                values={f: cols.values[f] for f in wanted},
                notes=cols.notes,
            )
        return cols.checked(f"the {self.backend} store")

    @staticmethod
    def _fields(fields: Sequence[str] | None) -> list[str]:
        if fields is None:
            return ["open", "high", "low", "close", "volume"]
        if isinstance(fields, str):
            fields = [fields]
        unknown = [f for f in fields if f not in STORED_FIELDS]
        if unknown or not fields:
            raise InvalidInputError(f"unknown field(s) {unknown}; choose from {list(STORED_FIELDS)}")
        return list(dict.fromkeys(fields))

    def _resolve_symbols(self, symbols: str | Sequence[str] | None) -> list[str]:
        known = self._known_symbols()
        if symbols is None:
            return sorted(known)
        names = check_symbols(symbols, "symbols")  # the same rule as ingest, on every backend
        missing = [s for s in names if s not in known]
        if missing:
            hint = difflib.get_close_matches(missing[0], sorted(known), n=3)
            raise SymbolNotFoundError(
                f"no bars in the {self.backend} store for {missing}"
                + (f"; did you mean {hint}?" if hint else "")
                + " (`bifrost data list` shows what is stored)"
            )
        return sorted(dict.fromkeys(names))

    def _known_symbols(self) -> set[str]:
        return set(self.list_symbols()["symbol"])


def merge_bars(
    existing: pd.DataFrame | None, new: pd.DataFrame, ingest_id: str
) -> tuple[pd.DataFrame, int, int, int, pd.DataFrame]:
    """Merge ``new`` bars over ``existing``: return merged, n_new, n_revised, n_unchanged, revisions.

    A row of ``new`` whose (symbol, ts) exists replaces the fields ``new`` provides; fields
    it lacks (a source without adj_close) keep their stored values. Each differing field
    becomes one revision row. NaN equals NaN.
    """
    empty_rev = pd.DataFrame(columns=["ingest_id", "symbol", "ts", "field", "old_value", "new_value"])
    if existing is None or existing.empty:
        return new, len(new), 0, 0, empty_rev
    cols = list(new.columns)
    common = new.index.intersection(existing.index)
    if len(common):
        old_c = existing.reindex(columns=cols).loc[common]
        new_c = new.loc[common, cols]
        old_v, new_v = old_c.to_numpy(), new_c.to_numpy()
        differs = ~((old_v == new_v) | (np.isnan(old_v) & np.isnan(new_v)))
        rows, colidx = np.nonzero(differs)
        revised = int(differs.any(axis=1).sum())
        revisions = pd.DataFrame(
            {
                "ingest_id": ingest_id,
                "symbol": common.get_level_values("symbol")[rows],
                "ts": common.get_level_values("ts")[rows],
                "field": np.asarray(cols, dtype=object)[colidx],
                "old_value": old_v[rows, colidx],
                "new_value": new_v[rows, colidx],
            }
        )
    else:
        revised, revisions = 0, empty_rev
    unchanged = len(common) - revised
    kept = [c for c in existing.columns if c not in new.columns]
    if kept and len(common):
        new = new.assign(**{c: existing[c].reindex(new.index) for c in kept})
    merged = pd.concat([existing.drop(index=common), new]).sort_index()
    return merged, len(new) - len(common), revised, unchanged, revisions


def symbol_rows(
    symbols: Sequence[str], symbol_meta: pd.DataFrame | None, source: str
) -> list[tuple[str, str | None, str, bool]]:
    """Return ``(symbol, sector, source, synthetic)`` for each symbol, from the source's metadata."""
    meta: dict[str, dict[str, object]] = {}
    if symbol_meta is not None and len(symbol_meta):
        for record in symbol_meta.to_dict(orient="records"):
            meta[str(record["symbol"])] = {str(k): v for k, v in record.items()}
    rows: list[tuple[str, str | None, str, bool]] = []
    for sym in symbols:
        info = meta.get(sym, {})
        sector = info.get("sector")  # missing: None, or a float NaN from pandas
        rows.append(
            (
                sym,
                sector if isinstance(sector, str) else None,
                source,
                bool(info.get("synthetic", False)),
            )
        )
    return rows


def actions_rows(actions: pd.DataFrame, ingest_id: str) -> Iterable[tuple[str, str, str, float, str]]:
    """Yield corporate-action rows as ``(symbol, ts_iso, kind, value, ingest_id)``."""
    for sym, ts, kind, value in actions[["symbol", "ts", "kind", "value"]].itertuples(index=False):
        yield str(sym), pd.Timestamp(ts).isoformat(), str(kind), float(value), ingest_id
