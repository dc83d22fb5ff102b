"""The embedded store: Parquet segments for bars, SQLite (WAL) for the manifest and state.

Bars live in immutable Parquet *segments*. Which segment (and which rows of it) holds a
symbol is recorded in SQLite, together with corporate actions, revisions and the ingest
log. An ingest writes its new segment under a temporary name, fsyncs and renames it, then
commits the manifest in one SQLite transaction: that COMMIT is the only moment the store
changes. A writer killed at any point leaves the previous state whole; the next writer,
or the next open while no writer works, removes the orphan files. A write that fails (a
full disk) removes its own temporary file and raises one `StoreError`; the store is
unchanged. Writers serialise on a kernel file lock (freed if the holder dies) that names
its holder; a writer waits for it at most ``lock_timeout_s``, saying after a second that
it waits and for whom. Readers take a consistent snapshot of the manifest, read only
each symbol's manifest rows of a segment, and retry if a segment they were about to read
was compacted away by a concurrent writer; a segment the manifest lists but the disk
lacks is reported as damage (`EmbeddedStore.verify` checks the whole store).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bifrost.data import _sqlite
from bifrost.data._columns import BarColumns, Frequency
from bifrost.data._report import IngestReport
from bifrost.data._schema import LEGACY_HANDOVER, StateDb, open_schema
from bifrost.data._store import (
    LISTING_COLUMNS,
    BarStore,
    StoreCheck,
    actions_rows,
    merge_bars,
    stored_frequency,
    symbol_rows,
)
from bifrost.data._validate import ValidatedBars
from bifrost.errors import InvalidInputError, StoreError

__all__ = ["EmbeddedStore"]

# the mark an older bifrost reads as "written by a newer bifrost" (see bifrost.data._schema)
_HANDOVER = f"""
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL);
INSERT INTO schema_version VALUES ({LEGACY_HANDOVER}, {{now}})
"""
_ROW_GROUP = 131_072
_READ_RETRIES = 5
_COLUMNS = ("open", "high", "low", "close", "volume", "adj_close")
_SCHEMA = pa.schema(
    [
        ("symbol", pa.dictionary(pa.int32(), pa.string())),
        ("ts", pa.timestamp("ns", tz="UTC")),
        *[(c, pa.float64()) for c in _COLUMNS],
    ]
)


class EmbeddedStore(BarStore):
    """Bars and state under one folder (``BIFROST_HOME``); safe for many processes.

    Parameters
    ----------
    home
        The store's folder.
    lock_timeout_s
        How long a writer waits for another writer (the bars' lock, SQLite's write slot)
        before it gives up with a `StoreError` naming the holder.
    create
        Create the store if ``home`` holds none (the default). ``False`` is for read-only
        use: a mistyped ``BIFROST_HOME`` raises `StoreError` instead of creating a store.

    Raises
    ------
    StoreError
        If the store cannot be created or opened, or ``create=False`` and there is none.
    """

    backend = "embedded"

    def __init__(
        self,
        home: str | os.PathLike[str],
        *,
        lock_timeout_s: float = _sqlite.DEFAULT_LOCK_TIMEOUT_S,
        create: bool = True,
    ) -> None:
        super().__init__()
        if not 0 <= lock_timeout_s < float("inf"):
            raise InvalidInputError(f"lock_timeout_s must be a finite number of seconds >= 0, got {lock_timeout_s!r}")
        self.home = Path(home)
        self.bars_dir = self.home / "bars"
        self.db_path = self.home / "state.sqlite"
        self.lock_timeout_s = float(lock_timeout_s)
        if not create and not self.db_path.is_file():
            raise StoreError(
                f"no store at {self.home} (no {self.db_path.name} there): check BIFROST_HOME "
                "(`bifrost config` shows it); `bifrost data ingest` creates a store"
            )
        try:
            self.bars_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the embedded store at {self.home}: {exc}") from exc
        self._lock = _WriterLock(self.bars_dir / ".writer.lock", lock_timeout_s, self.home)
        self._txn = threading.RLock()  # one connection: one transaction at a time across threads
        self._con = _sqlite.connect(self.db_path, lock_timeout_s=self.lock_timeout_s)
        try:
            open_schema(self._transaction, _sqlite.SCHEMA, self._location(), handover=_HANDOVER)
            self._schemas_applied.add(_sqlite.SCHEMA.package)
            self._apply_registered()
        except BaseException:
            self._con.close()
            raise
        self._clean_if_idle()

    def _clean_if_idle(self) -> None:
        # no writer at work: remove what killed writers left (best effort: a reader on a
        # read-only copy of a store opens it all the same)
        try:
            if self._lock.try_acquire():
                try:
                    self._collect_garbage()
                finally:
                    self._lock.release()
        except StoreError as exc:
            _sqlite.log.debug("left files of failed writes in place: %s", exc)

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection of the transactional part (ledgers, orders, audit, jobs)."""
        return self._con

    def _location(self) -> str:
        return str(self.db_path)

    @contextmanager
    def _transaction(self, *, lock: str | None, read_only: bool) -> Iterator[StateDb]:
        # SQLite has one writer slot: ``lock`` names the writer (for hooks), it takes no lock of its own
        with (
            self._txn,
            _sqlite.transaction(self._con, self.db_path, write=not read_only, lock_timeout_s=self.lock_timeout_s),
        ):
            yield StateDb(self._con.cursor(), "", "sqlite", lock=lock, read_only=read_only)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # the bars' manifest, in one write transaction of the state database
        with self._transaction(lock=None, read_only=False):
            yield self._con

    def close(self) -> None:
        self._con.close()

    def environment(self) -> dict[str, str]:
        # another process must not pick up a database URL of its own: it is cleared
        return {"BIFROST_HOME": str(self.home.resolve()), "BIFROST_DATABASE_URL": ""}

    def describe(self) -> dict[str, str]:
        return {
            "backend": "embedded",
            "mode": "parquet segments + sqlite (WAL)",
            "location": str(self.home),
            "schema_version": str(LEGACY_HANDOVER),  # the store's format: versions kept per package
            "schemas": self._versions(),
        }

    # -- writing ---------------------------------------------------------------------
    def write(
        self,
        validated: ValidatedBars,
        *,
        ingest_id: str,
        source: str,
        quarantine_path: str | None = None,
        symbol_meta: pd.DataFrame | None = None,
    ) -> IngestReport:
        new = validated.bars
        symbols = tuple(new.index.get_level_values("symbol").unique())
        with self._lock:
            self._collect_garbage()  # a failed or killed write's leftovers free their space first
            manifest = self._manifest()
            present = [s for s in symbols if s in manifest.index]
            self._check_frequency({s: f for s, f in self._symbol_frequencies().items() if s in symbols}, validated)
            existing = self._read_columns(present, None, None, _COLUMNS, manifest).to_frame() if present else None
            merged, n_new, n_revised, n_unchanged, revisions = merge_bars(existing, new, ingest_id)
            merged = merged.reindex(columns=list(_COLUMNS))
            changed = n_new > 0 or n_revised > 0
            segment = None
            if changed:
                # compaction: fold the live rows of segments that would become mostly dead
                live_after = manifest[~manifest.index.isin(symbols)]
                for seg, seg_rows in self._segment_rows().items():
                    left = live_after[live_after["segment"] == seg]
                    if len(left) and left["rows"].sum() < 0.5 * seg_rows:
                        folded = self._read_columns(list(left.index), None, None, _COLUMNS, manifest)
                        merged = pd.concat([merged, folded.to_frame()]).sort_index()
                segment = self._write_segment(merged)
            rows = symbol_rows(symbols, symbol_meta, source, validated.frequency)
            report = IngestReport.of_write(
                validated,
                ingest_id=ingest_id,
                source=source,
                counts=(n_new, n_revised, n_unchanged),
                quarantine_path=quarantine_path,
                synthetic=any(r[3] for r in rows),
            )
            try:
                self._commit(report, validated.actions, rows, segment, len(merged), revisions)
            finally:
                self._collect_garbage(quiet=True)  # a segment the commit did not take is removed
        return report

    def compact(self) -> None:
        """Rewrite every live bar into one new segment and delete the others."""
        with self._lock:
            manifest = self._manifest()
            if manifest.empty:
                return
            live = self._read_columns(list(manifest.index), None, None, _COLUMNS, manifest).to_frame()
            segment = self._write_segment(live)
            try:
                with self._write():
                    self._install_segment(segment, len(live))
            finally:
                self._collect_garbage(quiet=True)

    def _write_segment(self, frame: pd.DataFrame) -> tuple[str, pd.DataFrame]:
        name = f"seg-{uuid.uuid4().hex}.parquet"
        tmp = self.bars_dir / f".{name}.tmp"
        sym = frame.index.get_level_values("symbol")
        table = pa.table(
            {
                "symbol": pa.array(sym, type=pa.string()).dictionary_encode(),
                "ts": pa.array(pd.DatetimeIndex(frame.index.get_level_values("ts")).as_unit("ns").asi8).cast(
                    pa.timestamp("ns", tz="UTC")
                ),
                **{c: pa.array(frame[c].to_numpy(dtype=np.float64)) for c in _COLUMNS},
            }
        ).cast(_SCHEMA)
        try:
            with open(tmp, "wb") as fh:
                pq.write_table(table, fh, row_group_size=_ROW_GROUP, compression="lz4")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.bars_dir / name)
            _fsync_dir(self.bars_dir)
        except (OSError, pa.ArrowException) as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(
                f"{self.home}: cannot write {len(frame):,} bars ({_os_reason(exc)}); the store is unchanged"
            ) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        ts = frame.index.get_level_values("ts")
        layout = (
            pd.DataFrame({"symbol": sym, "ts": ts})
            .reset_index(drop=True)
            .reset_index(names="row")
            .groupby("symbol", sort=True)
            .agg(row_start=("row", "min"), rows=("row", "size"), first_ts=("ts", "min"), last_ts=("ts", "max"))
        )
        return name, layout

    def _commit(
        self,
        report: IngestReport,
        actions: pd.DataFrame,
        symbols: list[tuple[str, str | None, str, bool, str]],
        segment: tuple[str, pd.DataFrame] | None,
        segment_rows: int,
        revisions: pd.DataFrame,
    ) -> None:
        with self._write() as con:
            if segment is not None:
                self._install_segment(segment, segment_rows)
            con.executemany(
                "INSERT INTO bar_revisions VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        r["ingest_id"],
                        r["symbol"],
                        pd.Timestamp(r["ts"]).isoformat(),
                        r["field"],
                        float(r["old_value"]),
                        float(r["new_value"]),
                    )
                    for r in _records(revisions)
                ],
            )
            con.executemany(
                "INSERT OR REPLACE INTO corporate_actions VALUES (?, ?, ?, ?, ?)",
                list(actions_rows(actions, report.ingest_id)),
            )
            con.executemany(
                "INSERT INTO symbols (symbol, sector, source, synthetic, frequency) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(symbol) DO UPDATE SET "
                "sector=coalesce(excluded.sector, sector), source=excluded.source, synthetic=excluded.synthetic",
                symbols,
            )
            con.execute(
                "INSERT INTO ingests VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ','now'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                report.log_row(),
            )

    def _install_segment(self, segment: tuple[str, pd.DataFrame], segment_rows: int) -> None:
        # inside the caller's transaction: the new segment takes over its symbols' rows
        con = self._con
        name, layout = segment
        con.execute("INSERT INTO bar_segments VALUES (?, ?)", (name, segment_rows))
        con.executemany(
            "INSERT OR REPLACE INTO bar_symbols VALUES (?, ?, ?, ?, ?, ?)",
            [
                (s, name, int(r.row_start), int(r.rows), r.first_ts.isoformat(), r.last_ts.isoformat())
                for s, r in layout.iterrows()
            ],
        )
        con.execute("DELETE FROM bar_segments WHERE file NOT IN (SELECT DISTINCT segment FROM bar_symbols)")

    def _collect_garbage(self, *, quiet: bool = False) -> list[str]:
        # under the writer lock: temporary files and segments the manifest does not list
        try:
            live = self._segment_files()
            removed = []
            for path in self.bars_dir.iterdir():
                if _is_orphan(path.name, live):
                    path.unlink(missing_ok=True)
                    removed.append(path.name)
            return removed
        except (OSError, sqlite3.Error, StoreError) as exc:
            if not quiet:
                raise StoreError(f"{self.bars_dir}: cannot remove files left by a failed write: {exc}") from exc
            _sqlite.log.warning("could not remove files left by a failed write in %s: %s", self.bars_dir, exc)
            return []

    def _segment_files(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT file FROM bar_segments")[0]}

    # -- reading ---------------------------------------------------------------------
    def _rows(self, query: str, params: Sequence[object] = ()) -> tuple[list[tuple[Any, ...]], list[str]]:
        # one statement on the shared connection, never inside another thread's transaction
        try:
            with self._txn:
                cur = self._con.execute(query, tuple(params))
                return cur.fetchall(), [d[0] for d in cur.description or ()]
        except sqlite3.Error as exc:
            raise StoreError(f"{self.db_path}: cannot read the store's state database: {exc}") from exc

    def _manifest(self) -> pd.DataFrame:
        rows, _ = self._rows(
            "SELECT symbol, segment, row_start, rows, first_ts, last_ts FROM bar_symbols ORDER BY symbol"
        )
        return pd.DataFrame(rows, columns=["symbol", "segment", "row_start", "rows", "first_ts", "last_ts"]).set_index(
            "symbol"
        )

    def _segment_rows(self) -> dict[str, int]:
        return dict(self._rows("SELECT file, rows FROM bar_segments")[0])

    def _symbol_frequencies(self) -> dict[str, Frequency]:
        rows = self._rows("SELECT b.symbol, s.frequency FROM bar_symbols b LEFT JOIN symbols s USING (symbol)")[0]
        return {str(sym): stored_frequency(str(sym), freq) for sym, freq in rows}

    def _read_columns(
        self,
        symbols: Sequence[str],
        start_ns: int | None,
        end_ns: int | None,
        fields: Sequence[str],
        manifest: pd.DataFrame | None = None,
    ) -> BarColumns:
        if manifest is not None:  # the writer's own snapshot, under its lock
            try:
                return _read_segments(self.bars_dir, manifest, symbols, start_ns, end_ns, fields)
            except _SegmentGone as gone:
                raise self._damaged(gone, manifest) from None
        for _ in range(_READ_RETRIES):
            snapshot = self._manifest()
            try:
                return _read_segments(self.bars_dir, snapshot, symbols, start_ns, end_ns, fields)
            except _SegmentGone as gone:
                current = self._manifest()
                if gone.name in set(current["segment"]) and (
                    gone.reason != "missing" or not (self.bars_dir / gone.name).exists()
                ):
                    raise self._damaged(gone, current) from None
                continue  # a writer compacted the segment away after our snapshot: take a new one
        raise StoreError(
            f"{self.home}: the bars changed under {_READ_RETRIES} reads in a row (writers compacting); try again"
        )

    def _damaged(self, gone: _SegmentGone, manifest: pd.DataFrame) -> StoreError:
        held = sorted(manifest.index[manifest["segment"] == gone.name])
        shown = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        return StoreError(
            f"the embedded store at {self.home} is damaged: segment file {self.bars_dir / gone.name}, which holds "
            f"the bars of {shown}, is {gone.reason}. `bifrost data check --store` lists every problem; "
            "`EmbeddedStore.verify(repair=True)` forgets the lost symbols so that they can be ingested again"
        )

    def list_symbols(self) -> pd.DataFrame:
        rows, _ = self._rows(
            "SELECT b.symbol, b.first_ts, b.last_ts, b.rows, s.sector, s.source, s.synthetic, s.frequency "
            "FROM bar_symbols b LEFT JOIN symbols s USING (symbol) ORDER BY b.symbol"
        )
        frame = pd.DataFrame(rows, columns=list(LISTING_COLUMNS))
        frame["first"] = pd.to_datetime(frame["first"], utc=True)
        frame["last"] = pd.to_datetime(frame["last"], utc=True)
        frame["synthetic"] = frame["synthetic"].fillna(0).astype(bool)
        frame["frequency"] = frame["frequency"].fillna("1d")
        return frame

    def read_actions(self, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        rows, _ = self._rows("SELECT symbol, ts, kind, value FROM corporate_actions ORDER BY symbol, ts")
        frame = pd.DataFrame(rows, columns=["symbol", "ts", "kind", "value"])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        if symbols is not None:
            frame = frame[frame["symbol"].isin(list(symbols))].reset_index(drop=True)
        return frame

    def ingest_log(self) -> pd.DataFrame:
        rows, names = self._rows("SELECT * FROM ingests ORDER BY ts_started, id")
        return pd.DataFrame(rows, columns=names)

    def revisions(self, symbol: str | None = None) -> pd.DataFrame:
        sql = "SELECT ingest_id, symbol, ts, field, old_value, new_value FROM bar_revisions"
        rows, names = self._rows(
            sql + (" WHERE symbol = ?" if symbol else "") + " ORDER BY rowid", (symbol,) if symbol else ()
        )
        frame = pd.DataFrame(rows, columns=names)
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        return frame

    # -- checking --------------------------------------------------------------------
    def verify(self, *, repair: bool = False) -> StoreCheck:
        """Check the store against its manifest; remove the files failed or killed writers left.

        Every segment the manifest lists must exist, be readable Parquet with the rows the
        manifest records, and hold each symbol's rows where the manifest says, in date order
        between its first and last date; SQLite's own check must pass. Orphan files (a
        killed writer's temporary file, a segment nothing lists) are removed when no writer
        is at work. With ``repair=True`` symbols whose segment is missing or unreadable are
        forgotten (their bars are lost), so that they can be ingested again.
        """
        problems: list[str] = []
        repaired: list[str] = []
        removed: list[str] = []
        if self._lock.try_acquire():
            try:
                removed = self._collect_garbage()
                problems, lost = self._check_segments()
                if repair and lost:
                    with self._write() as con:
                        con.executemany("DELETE FROM bar_symbols WHERE symbol = ?", [(x,) for x in lost])
                        con.execute("DELETE FROM bar_segments WHERE file NOT IN (SELECT segment FROM bar_symbols)")
                    repaired = lost
            finally:
                self._lock.release()
        else:
            problems, _ = self._check_segments()
        quick = [r[0] for r in self._rows("PRAGMA quick_check")[0]]
        if quick != ["ok"]:
            problems += [f"{self.db_path}: {line}" for line in quick[:10]]
        manifest = self._manifest()
        return StoreCheck(
            backend=self.backend,
            location=str(self.home),
            symbols=len(manifest),
            rows=int(manifest["rows"].sum()) if len(manifest) else 0,
            segments=len(set(manifest["segment"])),
            problems=tuple(problems),
            removed=tuple(removed),
            repaired=tuple(repaired),
        )

    def _check_segments(self) -> tuple[list[str], list[str]]:
        manifest = self._manifest()
        sizes = self._segment_rows()
        problems: list[str] = []
        lost: list[str] = []
        for seg, group in manifest.groupby("segment", sort=True):
            path = self.bars_dir / str(seg)
            names = sorted(group.index)
            try:
                table = pq.read_table(path, columns=["symbol", "ts"])
            except FileNotFoundError:
                problems.append(f"{path}: missing; it holds {', '.join(names)}")
                lost += names
                continue
            except (OSError, pa.ArrowException) as exc:
                problems.append(f"{path}: unreadable ({exc}); it holds {', '.join(names)}")
                lost += names
                continue
            if table.num_rows != sizes.get(str(seg)):
                problems.append(f"{path}: {table.num_rows} rows, the manifest says {sizes.get(str(seg))}")
            symbol = table.column("symbol").to_numpy(zero_copy_only=False)
            ts = table.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False)
            for sym, r in group.iterrows():
                a, n = int(r["row_start"]), int(r["rows"])
                rows = slice(a, a + n)
                where = f"{path}: {sym} rows {a}..{a + n - 1}"
                if a < 0 or n < 1 or a + n > table.num_rows:
                    problems.append(f"{where} are outside the file's {table.num_rows} rows")
                elif not (symbol[rows] == sym).all():
                    problems.append(f"{where} hold other symbols' bars")
                elif (np.diff(ts[rows]) <= 0).any():
                    problems.append(f"{where} are not in strictly rising date order")
                elif (ts[a], ts[a + n - 1]) != (_ns(r["first_ts"]), _ns(r["last_ts"])):
                    problems.append(f"{where} span other dates than the manifest's {r['first_ts']} .. {r['last_ts']}")
        return problems, lost


class _SegmentGone(Exception):
    def __init__(self, name: str, reason: str = "missing") -> None:
        super().__init__(name)
        self.name = name
        self.reason = reason


class _WriterLock:
    """The store's one-writer lock: ``flock`` on a file that names its holder.

    The kernel frees the lock when its holder dies, so a killed writer never blocks the
    next one; a *stopped* one does, and the waiter then says who holds it and gives up
    after ``timeout_s``.
    """

    def __init__(self, path: Path, timeout_s: float, home: Path) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.home = home
        self._fd: int | None = None

    def __enter__(self) -> _WriterLock:
        self.acquire()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def try_acquire(self) -> bool:
        fd = self._open()
        try:
            taken = self._flock(fd)
        except BaseException:
            os.close(fd)
            raise
        if taken:
            self._held(fd)
        else:
            os.close(fd)
        return taken

    def acquire(self) -> None:
        fd = self._open()
        try:
            self._wait(fd)
        except BaseException:  # given up, or interrupted (Ctrl-C) while waiting
            os.close(fd)
            raise
        self._held(fd)

    def _wait(self, fd: int) -> None:
        started = time.monotonic()
        warned = False
        pause = 0.01
        while not self._flock(fd):
            waited = time.monotonic() - started
            if waited >= self.timeout_s:
                raise StoreError(
                    f"the embedded store at {self.home} is locked by another writer ({self.holder()}); gave up "
                    f"after {waited:.0f} s. Let that writer finish, resume it (kill -CONT) or end it, or wait "
                    "longer with BIFROST_LOCK_TIMEOUT / lock_timeout_s in bifrost.toml"
                )
            if not warned and waited >= _sqlite.WARN_AFTER_S:
                _sqlite.log.warning(
                    "waiting for another writer of the store at %s (%s); giving up after %.0f s (BIFROST_LOCK_TIMEOUT)",
                    self.home,
                    self.holder(),
                    self.timeout_s,
                )
                warned = True
            time.sleep(min(pause, max(self.timeout_s - waited, 0.0)))
            pause = min(pause * 2, 0.2)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # nobody holds it now
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> str:
        # the holder wrote "pid host command" after taking the lock
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        pid_text, _, rest = text.partition(" ")
        host, _, command = rest.partition(" ")
        if not pid_text.isdigit():
            pids = _sqlite.lock_holders(self.path)
            return "held by " + _sqlite.describe_process(pids[0]) if pids else "its holder did not say who it is"
        if host != socket.gethostname():
            return f"held by pid {pid_text} on {host} `{command[:80]}`"
        return "held by " + _sqlite.describe_process(int(pid_text))

    def _open(self) -> int:
        if self._fd is not None:
            raise StoreError(f"{self.path}: this store object already holds its writer lock")
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open the store's writer lock: {exc}") from exc

    def _flock(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                return False
            raise StoreError(f"{self.path}: cannot take the store's writer lock: {exc}") from exc
        return True

    def _held(self, fd: int) -> None:
        self._fd = fd
        command = " ".join(sys.argv)[:200].replace("\n", " ")
        try:  # best effort: on a full disk even these bytes may not fit
            os.ftruncate(fd, 0)
            # a command line with bytes that are not UTF-8 (held as surrogates) is written escaped
            line = f"{os.getpid()} {socket.gethostname()} {command}\n"
            os.pwrite(fd, line.encode("utf-8", errors="backslashreplace"), 0)
        except OSError:
            pass


def _is_orphan(name: str, live: set[str]) -> bool:
    return (name.startswith(".seg-") and name.endswith(".tmp")) or (
        name.startswith("seg-") and name.endswith(".parquet") and name not in live
    )


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the disk is full: No space left on device"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _ns(iso: str) -> int:
    return int(pd.Timestamp(iso).as_unit("ns").value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")  # type: ignore[return-value]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_segments(
    bars_dir: Path,
    manifest: pd.DataFrame,
    symbols: Sequence[str],
    start_ns: int | None,
    end_ns: int | None,
    fields: Sequence[str],
) -> BarColumns:
    wanted = manifest.loc[list(symbols)] if len(symbols) else manifest.iloc[:0]
    names = tuple(sorted(wanted.index))
    code_of = {s: i for i, s in enumerate(names)}
    parts_codes, parts_ts = [], []
    parts_vals: dict[str, list[np.ndarray]] = {f: [] for f in fields}
    columns = ["symbol", "ts", *fields]
    for seg, group in wanted.groupby("segment", sort=True):
        try:
            pf = pq.ParquetFile(bars_dir / str(seg), read_dictionary=["symbol"])
            if int((group["row_start"] + group["rows"]).max()) > pf.metadata.num_rows:
                raise _SegmentGone(str(seg), f"shorter ({pf.metadata.num_rows} rows) than its manifest says")
            if group["rows"].sum() > 0.5 * pf.metadata.num_rows:
                table = pf.read(columns=columns)
                rows = None
            else:
                table, rows = _read_ranges(pf, group, columns)
        except FileNotFoundError:
            raise _SegmentGone(str(seg)) from None
        except (OSError, pa.ArrowException) as exc:  # truncated or overwritten: damage, not a race
            raise _SegmentGone(str(seg), f"unreadable ({exc})") from None
        sym_col = table.column("symbol").combine_chunks()
        dictionary = sym_col.dictionary.to_pylist()
        local_codes = sym_col.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        remap = np.array([code_of.get(s, -1) for s in dictionary], dtype=np.int64)
        codes = remap[local_codes] if len(dictionary) else local_codes
        ts = table.column("ts").combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
        # only the manifest's rows of each wanted symbol: a symbol revised into a newer
        # segment leaves dead rows here, which must never be read
        keep = np.zeros(codes.size, dtype=bool)
        if rows is None:
            for a, n in zip(group["row_start"], group["rows"], strict=True):
                keep[int(a) : int(a) + int(n)] = True
        else:
            keep[rows] = True
        if start_ns is not None:
            keep &= ts >= start_ns
        if end_ns is not None:
            keep &= ts < end_ns
        all_kept = bool(keep.all())
        parts_codes.append(codes if all_kept else codes[keep])
        parts_ts.append(ts if all_kept else ts[keep])
        for f in fields:
            arr = table.column(f).combine_chunks().to_numpy(zero_copy_only=False)
            parts_vals[f].append(arr if all_kept else arr[keep])
    if not parts_codes:
        empty = np.empty(0, dtype=np.int64)
        return BarColumns(symbols=names, codes=empty, ts=empty, values={f: np.empty(0) for f in fields})
    codes = np.concatenate(parts_codes)
    ts = np.concatenate(parts_ts)
    values = {f: np.concatenate(v) for f, v in parts_vals.items()}
    if len(parts_codes) > 1:
        order = np.lexsort((ts, codes))
        codes, ts = codes[order], ts[order]
        values = {f: v[order] for f, v in values.items()}
    return BarColumns(symbols=names, codes=codes, ts=ts, values=values)


def _read_ranges(pf: pq.ParquetFile, group: pd.DataFrame, columns: list[str]) -> tuple[pa.Table, np.ndarray]:
    # read only the row groups that hold the wanted symbols, then index their rows
    sizes = np.array([pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rows = np.concatenate(
        [np.arange(a, a + n, dtype=np.int64) for a, n in zip(group["row_start"], group["rows"], strict=True)]
    )
    rg_of_row = np.searchsorted(starts, rows, side="right") - 1
    groups = np.unique(rg_of_row)
    local_start = np.zeros(sizes.size, dtype=np.int64)
    local_start[groups] = np.concatenate([[0], np.cumsum(sizes[groups])[:-1]])
    local_rows = rows - starts[rg_of_row] + local_start[rg_of_row]
    return pf.read_row_groups(list(groups), columns=columns), local_rows
