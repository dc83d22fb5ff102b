"""The embedded store: Parquet segments for bars, SQLite (WAL) for the manifest and state.

Bars live in immutable Parquet *segments*. Which segment (and which rows of it) holds a
symbol is recorded in SQLite, together with corporate actions, revisions and the ingest
log. An ingest writes its new segment under a temporary name, fsyncs and renames it, then
commits the manifest in one SQLite transaction: that COMMIT is the only moment the store
changes. A writer killed at any point leaves the previous state whole; the next writer
removes the orphan files. Writers serialise on a kernel file lock (freed if the holder
dies); readers take a consistent snapshot of the manifest and retry if a segment they
were about to read was compacted away by a concurrent writer.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock

from bifrost.data import _sqlite
from bifrost.data._columns import BarColumns
from bifrost.data._report import IngestReport
from bifrost.data._store import BarStore, actions_rows, merge_bars, symbol_rows
from bifrost.data._validate import ValidatedBars
from bifrost.errors import StoreError

__all__ = ["EmbeddedStore"]

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
    """Bars and state under one folder (``BIFROST_HOME``); safe for many processes."""

    backend = "embedded"

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.home = Path(home)
        self.bars_dir = self.home / "bars"
        try:
            self.bars_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the embedded store at {self.home}: {exc}") from exc
        self.db_path = self.home / "state.sqlite"
        self._lock = FileLock(str(self.bars_dir / ".writer.lock"))
        self._con = _sqlite.connect(self.db_path)
        _sqlite.migrate(self._con, self.db_path)

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection of the transactional part (ledgers, orders, audit, jobs)."""
        return self._con

    def close(self) -> None:
        self._con.close()

    def describe(self) -> dict[str, str]:
        return {
            "backend": "embedded",
            "mode": "parquet segments + sqlite (WAL)",
            "location": str(self.home),
            "schema_version": str(_sqlite.schema_version(self._con)),
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
            manifest = self._manifest()
            present = [s for s in symbols if s in manifest.index]
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
            rows = symbol_rows(symbols, symbol_meta, source)
            report = IngestReport.of_write(
                validated,
                ingest_id=ingest_id,
                source=source,
                counts=(n_new, n_revised, n_unchanged),
                quarantine_path=quarantine_path,
                synthetic=any(r[3] for r in rows),
            )
            self._commit(report, validated.actions, rows, segment, len(merged), revisions)
            self._collect_garbage()
        return report

    def compact(self) -> None:
        """Rewrite every live bar into one new segment and delete the others."""
        with self._lock:
            manifest = self._manifest()
            if manifest.empty:
                return
            live = self._read_columns(list(manifest.index), None, None, _COLUMNS, manifest).to_frame()
            segment = self._write_segment(live)
            con = self._con
            con.execute("BEGIN IMMEDIATE")
            try:
                self._install_segment(segment, len(live))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            self._collect_garbage()

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
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh, row_group_size=_ROW_GROUP, compression="lz4")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.bars_dir / name)
        _fsync_dir(self.bars_dir)
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
        symbols: list[tuple[str, str | None, str, bool]],
        segment: tuple[str, pd.DataFrame] | None,
        segment_rows: int,
        revisions: pd.DataFrame,
    ) -> None:
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
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
                "INSERT INTO symbols VALUES (?, ?, ?, ?) ON CONFLICT(symbol) DO UPDATE SET "
                "sector=coalesce(excluded.sector, sector), source=excluded.source, synthetic=excluded.synthetic",
                symbols,
            )
            con.execute(
                "INSERT INTO ingests VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ','now'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                report.log_row(),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

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

    def _collect_garbage(self) -> None:
        live = {r[0] for r in self._con.execute("SELECT file FROM bar_segments")}
        for path in self.bars_dir.iterdir():
            if path.name.startswith(".seg-") or (path.suffix == ".parquet" and path.name not in live):
                path.unlink(missing_ok=True)

    # -- reading ---------------------------------------------------------------------
    def _manifest(self) -> pd.DataFrame:
        rows = self._con.execute(
            "SELECT symbol, segment, row_start, rows, first_ts, last_ts FROM bar_symbols ORDER BY symbol"
        ).fetchall()
        return pd.DataFrame(rows, columns=["symbol", "segment", "row_start", "rows", "first_ts", "last_ts"]).set_index(
            "symbol"
        )

    def _segment_rows(self) -> dict[str, int]:
        return dict(self._con.execute("SELECT file, rows FROM bar_segments").fetchall())

    def _known_symbols(self) -> set[str]:
        return {r[0] for r in self._con.execute("SELECT symbol FROM bar_symbols")}

    def _read_columns(
        self,
        symbols: Sequence[str],
        start_ns: int | None,
        end_ns: int | None,
        fields: Sequence[str],
        manifest: pd.DataFrame | None = None,
    ) -> BarColumns:
        if manifest is not None:  # the writer's own snapshot, under its lock
            return _read_segments(self.bars_dir, manifest, symbols, start_ns, end_ns, fields)
        for _ in range(_READ_RETRIES - 1):
            try:
                return _read_segments(self.bars_dir, self._manifest(), symbols, start_ns, end_ns, fields)
            except FileNotFoundError:
                continue  # a writer compacted a segment away after our snapshot: take a new one
        return _read_segments(self.bars_dir, self._manifest(), symbols, start_ns, end_ns, fields)

    def list_symbols(self) -> pd.DataFrame:
        rows = self._con.execute(
            "SELECT b.symbol, b.first_ts, b.last_ts, b.rows, s.sector, s.source, s.synthetic "
            "FROM bar_symbols b LEFT JOIN symbols s USING (symbol) ORDER BY b.symbol"
        ).fetchall()
        frame = pd.DataFrame(rows, columns=["symbol", "first", "last", "rows", "sector", "source", "synthetic"])
        frame["first"] = pd.to_datetime(frame["first"], utc=True)
        frame["last"] = pd.to_datetime(frame["last"], utc=True)
        frame["synthetic"] = frame["synthetic"].fillna(0).astype(bool)
        return frame

    def read_actions(self, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        rows = self._con.execute("SELECT symbol, ts, kind, value FROM corporate_actions ORDER BY symbol, ts").fetchall()
        frame = pd.DataFrame(rows, columns=["symbol", "ts", "kind", "value"])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        if symbols is not None:
            frame = frame[frame["symbol"].isin(list(symbols))].reset_index(drop=True)
        return frame

    def ingest_log(self) -> pd.DataFrame:
        cur = self._con.execute("SELECT * FROM ingests ORDER BY ts_started, id")
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])

    def revisions(self, symbol: str | None = None) -> pd.DataFrame:
        sql = "SELECT ingest_id, symbol, ts, field, old_value, new_value FROM bar_revisions"
        cur = self._con.execute(
            sql + (" WHERE symbol = ?" if symbol else "") + " ORDER BY rowid", (symbol,) if symbol else ()
        )
        frame = pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        return frame


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
        pf = pq.ParquetFile(bars_dir / str(seg), read_dictionary=["symbol"])
        total = pf.metadata.num_rows
        if group["rows"].sum() > 0.5 * total:
            table = pf.read(columns=columns)
            rows = None
        else:
            table, rows = _read_ranges(pf, group, columns)
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
