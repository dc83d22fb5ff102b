"""The store contract shared by the embedded and PostgreSQL backends."""

from __future__ import annotations

import difflib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from types import MappingProxyType, TracebackType
from typing import Protocol, TypeVar

import numpy as np
import pandas as pd

from bifrost._checks import TS_MAX, TS_MIN, as_utc_ns, check_symbols
from bifrost.data._columns import ADJUSTMENTS, FREQUENCIES, STORED_FIELDS, Adjustment, BarColumns, Frequency, Panel
from bifrost.data._report import IngestReport
from bifrost.data._schema import Migration, Schema, StateDb, apply_schema, registered_schemas
from bifrost.data._validate import ValidatedBars
from bifrost.errors import InvalidInputError, StoreError, SymbolNotFoundError

__all__ = [
    "FREQUENCY_MIGRATION",
    "LISTING_COLUMNS",
    "BarStore",
    "Store",
    "StoreCheck",
    "TimeLike",
    "TransactionHook",
    "actions_rows",
    "merge_bars",
    "stored_frequency",
    "symbol_rows",
    "within",
]

# the bars' data migration 2, the same on both backends: a stored symbol's frequency
# (stores written before intraday bars hold daily bars)
FREQUENCY_MIGRATION = Migration(2, "ALTER TABLE {t}symbols ADD COLUMN frequency TEXT NOT NULL DEFAULT '1d'")

# what list_symbols returns, on every backend
LISTING_COLUMNS = ("symbol", "first", "last", "rows", "sector", "source", "synthetic", "frequency")

P = TypeVar("P")
TransactionHook = Callable[[StateDb], None]

TimeLike = str | pd.Timestamp | None


def within(ts: pd.Series, start: TimeLike, end: TimeLike) -> np.ndarray:
    """Return a mask of the rows dated in ``[start, end)`` (naive dates are UTC).

    Rows whose date cannot be read, or lies outside the dates a bar can have, are kept,
    so that validation reports them by line.
    """
    lo = None if start is None else as_utc_ns(start, "start")
    hi = None if end is None else as_utc_ns(end, "end")
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

    def __init__(self) -> None:
        self._schemas_applied: set[str] = set()
        self._hooks: list[tuple[TransactionHook, Schema | None]] = []
        self._parts: dict[object, object] = {}
        self._parts_lock = threading.Lock()

    # -- the named parts -------------------------------------------------------------
    @property
    def bars(self) -> BarStore:
        """The bars' part: reading, writing and checking bars (this object's own methods)."""
        return self

    def part(self, factory: Callable[[Store], P]) -> P:
        """Return this store's part made by ``factory`` (called once per store object).

        A package adds its own part without touching `bifrost.data`: a class taking the
        store (``store.part(JobQueue)``) that opens its transactions with its `Schema`.
        """
        with self._parts_lock:
            if factory not in self._parts:
                self._parts[factory] = factory(self)
            return self._parts[factory]  # type: ignore[return-value]

    # -- the transactional part ------------------------------------------------------
    @contextmanager
    def transaction(
        self, *, schema: Schema | None = None, lock: str | None = None, read_only: bool = False
    ) -> Iterator[StateDb]:
        """Yield a `StateDb` in one transaction: committed on success, rolled back on error.

        Parameters
        ----------
        schema
            The package's `Schema` whose tables the transaction uses; applied (with those it
            requires) the first time this store object sees it. None: the store's own tables.
        lock
            A write waits for the one writer at a time: on the embedded store SQLite's write
            slot, on PostgreSQL the advisory lock named ``lock`` (held to the end of the
            transaction; None: no advisory lock). Both wait at most the store's lock timeout.
        read_only
            Read one consistent snapshot, never waiting for a writer (SQLite WAL; PostgreSQL
            ``REPEATABLE READ, READ ONLY``); a statement that writes fails.

        Before a write commits, the store's hooks (`add_transaction_hook`) and the
        transaction's own (`StateDb.before_commit`) run inside it, in that order: what they
        write commits with the change or is rolled back with it.

        Raises
        ------
        StoreError
            If the store cannot be read or written (locked past the timeout, disk full, the
            database unreachable); the transaction is rolled back and nothing changed.
        SchemaVersionError
            If the store holds ``schema``'s tables at a version newer than this bifrost knows.
        """
        _check_transaction_options(schema, lock, read_only)
        if schema is not None:
            self._ensure_schema(schema)
        hooks = list(self._hooks) if not read_only else []
        for _, needed in hooks:
            if needed is not None:
                self._ensure_schema(needed)
        with self._transaction(lock=lock, read_only=read_only) as db:
            yield db
            if not read_only:
                for hook, _ in hooks:
                    hook(db)
                db._run_before_commit()

    def add_transaction_hook(self, hook: TransactionHook, *, schema: Schema | None = None) -> None:
        """Run ``hook(db)`` inside every write transaction of this store object, before it commits.

        The audit trail appends here: ``db.lock`` says which writer it is, and ``schema``
        (the hook's own tables) is applied before the first transaction the hook joins.
        """
        if not callable(hook):
            raise InvalidInputError(f"a transaction hook is a function of the transaction, got {type(hook).__name__}")
        _check_transaction_options(schema, None, False)
        self._hooks.append((hook, schema))

    def _apply_registered(self) -> None:
        # at open: the schemas of the packages imported so far (see `register_schema`)
        for schema in registered_schemas():
            self._ensure_schema(schema)

    def _ensure_schema(self, schema: Schema) -> None:
        if schema.package in self._schemas_applied:
            return
        apply_schema(self._transaction, schema, self._location())
        self._schemas_applied.update(s.package for s in schema.in_order())

    def _versions(self) -> str:
        # what describe() shows: each package's recorded schema version
        with self._transaction(lock=None, read_only=True) as db:
            rows = db.rows("SELECT package, max(version) FROM {t}bifrost_schema GROUP BY package ORDER BY package")
        return ", ".join(f"{package} {version}" for package, version in rows)

    @abstractmethod
    def _location(self) -> str:
        """Where the store is, for messages (no credentials)."""

    @abstractmethod
    def _transaction(self, *, lock: str | None, read_only: bool) -> AbstractContextManager[StateDb]:
        """Open one transaction of the backend (see `transaction`), without schemas or hooks."""

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
        """Return one row per symbol: ``symbol, first, last, rows, sector, source, synthetic, frequency``."""

    @abstractmethod
    def read_actions(self, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """Return corporate actions: ``symbol, ts, kind, value`` (kind: dividend or split)."""

    @abstractmethod
    def ingest_log(self) -> pd.DataFrame:
        """Return one row per ingest, newest last."""

    def ingest_marker(self) -> str:
        """Return a short text that changes whenever the store takes an ingest.

        Every change to the bars goes through the ingest log (an ingest, a recorded or removed
        corporate action), so a dashboard polls this (one small query, no bars read) and
        reads the bars again only when it changed. The text means nothing but itself.
        """
        with self._transaction(lock=None, read_only=True) as db:
            count, last = db.rows("SELECT count(*), max(ts_started) FROM {t}ingests")[0]
        return f"ingests:{int(count)}:{last}"

    @abstractmethod
    def revisions(self, symbol: str | None = None) -> pd.DataFrame:
        """Return recorded revisions: ``ingest_id, symbol, ts, field, old_value, new_value``."""

    @abstractmethod
    def environment(self) -> dict[str, str]:
        """Return the environment variables that make another process open this same store.

        A job's kernel and a dashboard's kernel get them (``BIFROST_HOME``, and on PostgreSQL
        ``BIFROST_DATABASE_URL`` and ``BIFROST_DATABASE_SCHEMA``): `open_store` in that process
        then opens this store, not the one its own settings would pick.
        """

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
        frequency: Frequency | None = None,
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
            None (the default): each symbol's bars at the frequency it is stored at (see
            ``list_symbols``). A coarser one aggregates them, each bucket stamped at its
            start in UTC: intraday buckets, ``1d`` (days at 00:00 UTC), ``1w`` (weeks from
            Monday), ``1mo`` (calendar months); raw aggregates run in the database where it
            can.

        Raises
        ------
        SymbolNotFoundError
            If a requested symbol has no bars in the store.
        InvalidInputError
            If ``frequency`` is finer than a requested symbol's stored one (bars are never split).
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
        frequency: Frequency | None = None,
    ) -> Panel:
        """Return bars as a :class:`Panel` (time × symbols per field, NaN where no bar).

        A panel puts its symbols on one time grid: symbols stored at different frequencies
        (daily beside 5-minute) need an explicit ``frequency`` they can all be read at.

        A ``raw`` or ``split_adjusted`` panel read with the default fields (or with
        ``"dividend"`` among them) also has a ``dividend`` field: the recorded cash
        dividend per share going ex on each bar (on the bar of its ex-date, or the next
        bar; the week or month holding it in a ``1w``/``1mo`` read), 0 elsewhere, per
        share of the panel's prices (divided by later splits where they are
        split-adjusted). A backtest credits it (`bifrost.strategy.backtest`'s
        ``dividends=``). An ``adjusted`` panel has none: its prices hold the dividends.
        """
        with_dividends = adjustment != "adjusted" and (fields is None or "dividend" in fields)
        if fields is not None and not isinstance(fields, str) and "dividend" in fields:
            fields = [f for f in fields if f != "dividend"] or ["close"]
        wanted = self._fields(fields)
        cols = self._read(symbols, start, end, wanted, adjustment, frequency, one_grid=True)
        panel = cols.to_panel(wanted, adjustment)
        if not with_dividends and adjustment != "raw":
            return panel
        actions = self.read_actions(list(panel.symbols))
        if adjustment == "raw":  # the splits its prices jump at (a backtest warns on them)
            panel = replace(panel, raw_splits=_splits_within(panel, actions))
        if not with_dividends:
            return panel
        bounds = (None if start is None else as_utc_ns(start, "start"), None if end is None else as_utc_ns(end, "end"))
        grid = _dividend_grid(panel, actions, bounds, split_adjusted=adjustment != "raw")
        return replace(panel, fields=MappingProxyType({**panel.fields, "dividend": grid}))

    def _read(
        self,
        symbols: str | Sequence[str] | None,
        start: TimeLike,
        end: TimeLike,
        fields: Sequence[str] | None,
        adjustment: Adjustment,
        frequency: Frequency | None = None,
        *,
        one_grid: bool = False,
    ) -> BarColumns:
        if adjustment not in ADJUSTMENTS:
            raise InvalidInputError(f"adjustment must be one of {ADJUSTMENTS}, got {adjustment!r}")
        if frequency is not None and frequency not in FREQUENCIES:
            raise InvalidInputError(f"frequency must be one of {FREQUENCIES}, got {frequency!r}")
        wanted = self._fields(fields)
        start_ns = None if start is None else as_utc_ns(start, "start")
        end_ns = None if end is None else as_utc_ns(end, "end")
        if start_ns is not None and end_ns is not None and end_ns <= start_ns:
            raise InvalidInputError(f"end {end} must be after start {start}")
        stored = self._symbol_frequencies()
        names = self._resolve_symbols(symbols, stored)
        if one_grid and frequency is None and len({stored[n] for n in names}) > 1:
            coarsest = max((stored[n] for n in names), key=FREQUENCIES.index)
            shown = ", ".join(f"{n} {stored[n]}" for n in names[:6]) + (" ..." if len(names) > 6 else "")
            raise InvalidInputError(
                f"these symbols are stored at different frequencies ({shown}) and a panel has one time grid: "
                f"read them at one frequency, e.g. {coarsest} (--frequency {coarsest}, frequency={coarsest!r})"
            )
        own = self._finest(names, stored, frequency)
        resample = frequency is not None and any(stored[n] != frequency for n in names)
        if adjustment == "raw" and frequency is not None and resample:
            aggregated = self._aggregate_columns(names, start_ns, end_ns, wanted, frequency)
            if aggregated is not None:
                return aggregated.checked(f"the {self.backend} store")
        needed = list(wanted)
        if adjustment == "raw":
            cols = replace(self._read_columns(names, start_ns, end_ns, needed), frequency=own)
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
            raw = replace(self._read_columns(names, start_ns, read_end, needed), frequency=own)
            tail = None
            if adjustment == "adjusted" and read_end is not None:
                # a factor from adj_close before a seam depends on the bars after it (see source_factor)
                tail = self._read_columns(names, read_end, None, ["close", "adj_close"])
            cols = raw.adjusted(actions, adjustment, tail=tail)
            if end_ns is not None and read_end != end_ns:
                cols = cols._take(cols.ts < end_ns)
        if frequency is not None and resample:
            cols = cols.resampled(frequency)
        if list(cols.values) != list(wanted):
            cols = replace(cols, values={f: cols.values[f] for f in wanted})
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

    @staticmethod
    def _finest(names: Sequence[str], stored: Mapping[str, Frequency], frequency: Frequency | None) -> Frequency:
        # the frequency the bars of ``names`` are read at: the finest stored (daily for none)
        if frequency is not None:
            finer = [n for n in names if FREQUENCIES.index(frequency) < FREQUENCIES.index(stored[n])]
            if finer:
                raise InvalidInputError(
                    f"cannot read {finer[:5]} at {frequency}: "
                    f"{finer[0]} is stored at {stored[finer[0]]} and bars are only ever aggregated; "
                    f"read at {stored[finer[0]]} or a frequency after it in {FREQUENCIES}, or frequency=None"
                )
        return min((stored[n] for n in names), key=FREQUENCIES.index, default="1d")

    def _resolve_symbols(
        self, symbols: str | Sequence[str] | None, known: Mapping[str, Frequency] | None = None
    ) -> list[str]:
        if known is None:
            known = self._symbol_frequencies()
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

    def _symbol_frequencies(self) -> dict[str, Frequency]:
        """Return each stored symbol's frequency (backends read just these two columns)."""
        listed = self.list_symbols()
        return dict(zip(listed["symbol"], listed["frequency"], strict=True))

    def _check_frequency(self, stored: Mapping[str, str], validated: ValidatedBars) -> None:
        # one frequency per symbol: an ingest at another is refused, naming both
        clash = {s: f for s, f in stored.items() if f != validated.frequency}
        if clash:
            sym, was = next(iter(sorted(clash.items())))
            raise InvalidInputError(
                f"{sym} is stored at {was} bars in the {self.backend} store, and this ingest's bars are "
                f"{validated.frequency}"
                + (f" (also {sorted(clash)[1:6]})" if len(clash) > 1 else "")
                + ": one symbol has one frequency; ingest it under another symbol, or read it at a coarser "
                "frequency (`read_bars(frequency=...)`)"
            )


class Store(Protocol):
    """What `open_store` returns, as every package above ``data`` sees it.

    Its named parts: ``bars`` (a `BarStore`: the reading methods below are the bars' own,
    kept here so that ``store.read_bars(...)`` reads as it always did), the transactional
    part (`transaction`, with a package's `Schema`; `add_transaction_hook` for the audit
    trail), and ``part(factory)`` for a package's own part. Both backends implement it; a
    caller never asks which one it has.
    """

    @property
    def backend(self) -> str:
        """``embedded`` or ``postgres``, for display."""
        ...

    @property
    def bars(self) -> BarStore:
        """The bars' part: write, read, verify, compact."""
        ...

    def part(self, factory: Callable[[Store], P]) -> P:
        """Return the part ``factory`` makes of this store (made once per store object)."""
        ...

    def transaction(
        self, *, schema: Schema | None = None, lock: str | None = None, read_only: bool = False
    ) -> AbstractContextManager[StateDb]:
        """One transaction on the store's transactional part (see `BarStore.transaction`)."""
        ...

    def add_transaction_hook(self, hook: TransactionHook, *, schema: Schema | None = None) -> None:
        """Run ``hook`` inside every write transaction, before it commits."""
        ...

    def read_bars(
        self,
        symbols: str | Sequence[str] | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        *,
        fields: Sequence[str] | None = None,
        adjustment: Adjustment = "raw",
        frequency: Frequency | None = None,
    ) -> pd.DataFrame:
        """Bars as the canonical long frame (see `BarStore.read_bars`)."""
        ...

    def read_panel(
        self,
        symbols: str | Sequence[str] | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        *,
        fields: Sequence[str] | None = None,
        adjustment: Adjustment = "raw",
        frequency: Frequency | None = None,
    ) -> Panel:
        """Bars as a `Panel` (see `BarStore.read_panel`)."""
        ...

    def list_symbols(self) -> pd.DataFrame:
        """One row per symbol (see `BarStore.list_symbols`)."""
        ...

    def read_actions(self, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """Corporate actions (see `BarStore.read_actions`)."""
        ...

    def ingest_log(self) -> pd.DataFrame:
        """One row per ingest, newest last."""
        ...

    def ingest_marker(self) -> str:
        """A short text that changes whenever the store takes an ingest (see `BarStore.ingest_marker`)."""
        ...

    def environment(self) -> dict[str, str]:
        """The environment variables that open this store in another process (see `BarStore.environment`)."""
        ...

    def revisions(self, symbol: str | None = None) -> pd.DataFrame:
        """Recorded revisions of stored bars."""
        ...

    def describe(self) -> dict[str, str]:
        """The backend, its mode and its location, for display."""
        ...

    def close(self) -> None:
        """Release connections and locks held by this store object."""
        ...


def _check_transaction_options(schema: object, lock: object, read_only: object) -> None:
    # bad arguments are named before anything is opened (a str schema was an AttributeError)
    if schema is not None and not isinstance(schema, Schema):
        raise InvalidInputError(
            f"schema must be a bifrost.data.Schema (a package's declared tables), got {type(schema).__name__}"
        )
    if lock is not None and not isinstance(lock, str):
        raise InvalidInputError(f"lock must be the name of a lock (text), got {type(lock).__name__}")
    if not isinstance(read_only, bool):
        raise InvalidInputError(f"read_only must be True or False, got {type(read_only).__name__}")


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


def stored_frequency(symbol: str, stored: object) -> Frequency:
    """Return a symbol's stored frequency as a `Frequency` (None, a symbol without its row: daily).

    Raises `StoreError` for a frequency this bifrost does not know (written by a newer one).
    """
    if stored is None:
        return "1d"
    for f in FREQUENCIES:
        if stored == f:
            return f
    raise StoreError(f"{symbol} is stored at frequency {stored!r}, which this bifrost does not know ({FREQUENCIES})")


def symbol_rows(
    symbols: Sequence[str], symbol_meta: pd.DataFrame | None, source: str, frequency: Frequency
) -> list[tuple[str, str | None, str, bool, str]]:
    """Return ``(symbol, sector, source, synthetic, frequency)`` for each symbol, from the source's metadata."""
    meta: dict[str, dict[str, object]] = {}
    if symbol_meta is not None and len(symbol_meta):
        for record in symbol_meta.to_dict(orient="records"):
            meta[str(record["symbol"])] = {str(k): v for k, v in record.items()}
    rows: list[tuple[str, str | None, str, bool, str]] = []
    for sym in symbols:
        info = meta.get(sym, {})
        sector = info.get("sector")  # missing: None, or a float NaN from pandas
        rows.append(
            (
                sym,
                sector if isinstance(sector, str) else None,
                source,
                bool(info.get("synthetic", False)),
                frequency,
            )
        )
    return rows


def _splits_within(panel: Panel, actions: pd.DataFrame) -> tuple[tuple[str, pd.Timestamp, float], ...]:
    # the recorded splits going ex after the panel's first bar and by its last: the ones a
    # position held through the panel lives across
    if not len(actions) or len(panel.ts) < 2:
        return ()
    first, last = panel.ts[0], panel.ts[-1]
    held = set(panel.symbols)
    out: list[tuple[str, pd.Timestamp, float]] = []
    splits = actions[actions["kind"] == "split"]
    stamps = pd.DatetimeIndex(pd.to_datetime(splits["ts"], utc=True))
    for symbol, ts, value in zip(splits["symbol"], stamps, splits["value"].to_numpy(dtype=np.float64), strict=True):
        if str(symbol) in held and first < ts <= last:
            out.append((str(symbol), ts, float(value)))
    return tuple(sorted(out))


def _dividend_grid(
    panel: Panel, actions: pd.DataFrame, bounds: tuple[int | None, int | None], *, split_adjusted: bool
) -> np.ndarray:
    # the `dividend` field of read_panel: cash per share on the bar each dividend goes ex
    grid = np.zeros(panel.shape, order="F")
    if not len(actions) or not len(panel.ts):
        return grid
    stamps = panel.ts.as_unit("ns").asi8
    coarse = panel.frequency in ("1w", "1mo")  # buckets stamped at their start hold the ex-date
    lo = stamps[0] if bounds[0] is None else max(int(stamps[0]), bounds[0])
    hi = bounds[1]  # a coarse read's last bucket may reach past the read's end
    col = {s: j for j, s in enumerate(panel.symbols)}
    for sym, events in actions.groupby("symbol", sort=False):
        j = col.get(str(sym))
        if j is None:
            continue
        ts = events["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        kind = events["kind"].to_numpy()
        value = events["value"].to_numpy(dtype=np.float64)
        for e in np.flatnonzero(kind == "dividend"):
            t = int(np.searchsorted(stamps, ts[e], side="right")) - 1 if coarse else int(np.searchsorted(stamps, ts[e]))
            if not 0 <= t < len(stamps) or ts[e] < lo or (hi is not None and ts[e] >= hi):
                continue  # before the panel's first bar (nobody held it yet) or after its last
            if coarse and t == len(stamps) - 1 and ts[e] >= _bucket_end(int(stamps[t]), panel.frequency):
                continue
            later_splits = np.prod(value[(kind == "split") & (ts > ts[e])]) if split_adjusted else 1.0
            grid[t, j] += value[e] / later_splits
    grid.setflags(write=False)
    return grid


def _bucket_end(start_ns: int, frequency: str) -> int:
    start = pd.Timestamp(start_ns, tz="UTC")
    return int((start + (pd.DateOffset(months=1) if frequency == "1mo" else pd.Timedelta(days=7))).value)


def actions_rows(actions: pd.DataFrame, ingest_id: str) -> Iterable[tuple[str, str, str, float, str]]:
    """Yield corporate-action rows as ``(symbol, ts_iso, kind, value, ingest_id)``."""
    for sym, ts, kind, value in actions[["symbol", "ts", "kind", "value"]].itertuples(index=False):
        yield str(sym), pd.Timestamp(ts).isoformat(), str(kind), float(value), ingest_id
