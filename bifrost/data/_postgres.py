"""The PostgreSQL / TimescaleDB store, through psycopg 3 and a connection pool.

Symbols are ``COLLATE "C"``: tickers compare by code point, as Python sorts them, and the
primary-key B-tree skips locale comparisons (about 15% faster bulk loads here).
Bars go in ``<schema>.bars``: a TimescaleDB hypertable when the ``timescaledb`` extension
is available, otherwise a table range-partitioned by month with a BRIN index on ``ts``.
New symbols are bulk-loaded with binary COPY straight into the table; symbols already
present go through a staging table and an upsert that records every revised field.
One writer at a time (a transaction-scoped advisory lock, waited for at most the lock
timeout, the holder named from ``pg_locks``); readers are never blocked. An unreachable
server is one `StoreError` after the connect timeout; every psycopg failure reaches the
caller as a `StoreError` with credentials masked.
"""

from __future__ import annotations

import io
import os
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from bifrost.config import mask_secrets
from bifrost.data import _sqlite
from bifrost.data._columns import BarColumns, Frequency, bar_ns
from bifrost.data._pgcopy import COPY_COLUMNS, encode_bars
from bifrost.data._report import IngestReport
from bifrost.data._schema import LEGACY_HANDOVER, Migration, Schema, StateDb, open_schema
from bifrost.data._store import (
    FREQUENCY_MIGRATION,
    LISTING_COLUMNS,
    BarStore,
    StoreCheck,
    actions_rows,
    stored_frequency,
    symbol_rows,
)
from bifrost.data._validate import ValidatedBars
from bifrost.errors import InvalidInputError, StoreError

__all__ = ["PostgresStore"]

_FLOAT_COLS = ("open", "high", "low", "close", "volume", "adj_close")
# the mark an older bifrost reads as "written by a newer bifrost" (see bifrost.data._schema)
_HANDOVER = (
    f"INSERT INTO {{t}}schema_version (version, mode) SELECT {LEGACY_HANDOVER}, mode FROM {{t}}schema_version "
    "ORDER BY version LIMIT 1"
)
DEFAULT_CONNECT_TIMEOUT_S = 5.0

# the bars' own tables; other packages declare theirs next to their code. Append only.
_BARS_V1 = """
CREATE TABLE {t}ingests (
    id text PRIMARY KEY, ts_started timestamptz NOT NULL DEFAULT {now}, source text NOT NULL,
    origin text NOT NULL, policy text NOT NULL, symbols int NOT NULL, rows_read bigint NOT NULL,
    rows_new bigint NOT NULL, rows_revised bigint NOT NULL, rows_unchanged bigint NOT NULL,
    rows_quarantined bigint NOT NULL, quarantine_path text
);
CREATE TABLE {t}bar_revisions (
    ingest_id text NOT NULL, symbol text NOT NULL, ts timestamptz NOT NULL, field text NOT NULL,
    old_value float8, new_value float8
);
CREATE INDEX ON {t}bar_revisions (symbol, ts);
CREATE TABLE {t}corporate_actions (
    symbol text NOT NULL, ts timestamptz NOT NULL, kind text NOT NULL, value float8 NOT NULL,
    ingest_id text NOT NULL, PRIMARY KEY (symbol, ts, kind)
);
CREATE TABLE {t}symbols (
    symbol text PRIMARY KEY, sector text, source text NOT NULL, synthetic boolean NOT NULL DEFAULT false
);
CREATE TABLE {t}bars (
    symbol text COLLATE "C" NOT NULL, ts timestamptz NOT NULL,
    open float8 NOT NULL, high float8 NOT NULL, low float8 NOT NULL, close float8 NOT NULL,
    volume float8 NOT NULL, adj_close float8,
    PRIMARY KEY (symbol, ts)
) {partition};
"""


class PostgresStore(BarStore):
    """Bars and state in PostgreSQL (``BIFROST_DATABASE_URL``), TimescaleDB when present."""

    backend = "postgres"

    def __init__(
        self,
        url: str,
        *,
        home: str | Path = ".bifrost",
        schema: str = "bifrost",
        pool_size: int = 4,  # 1 for servers that allow one client session (PGlite)
        timescale: bool | None = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        lock_timeout_s: float = _sqlite.DEFAULT_LOCK_TIMEOUT_S,
        create: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("connect_timeout_s", connect_timeout_s), ("lock_timeout_s", lock_timeout_s)):
            if not 0 < value < float("inf"):
                raise InvalidInputError(f"{name} must be a positive, finite number of seconds, got {value!r}")
        self.url = url
        self.home = Path(home)
        self.schema = schema
        self.connect_timeout_s = float(connect_timeout_s)
        self.lock_timeout_s = float(lock_timeout_s)
        self._s = sql.Identifier(schema)
        # direct attempts first (until the timeout: a server may be restarting), so that an
        # unreachable server is one error, not a pool retrying and logging in the background
        libpq_timeout = max(2, round(connect_timeout_s))  # libpq takes whole seconds, and 1 means 2
        _probe(url, connect_timeout_s)
        try:
            self.pool = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                open=True,
                timeout=max(30.0, self.lock_timeout_s),
                kwargs={"prepare_threshold": None, "connect_timeout": libpq_timeout, **_application_name(url)},
                configure=_configure,
            )
            self.pool.wait(timeout=max(connect_timeout_s, 2.0))
        except (psycopg.Error, Exception) as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {_safe(url)}: {_one_line(exc)}") from None
        try:
            self.mode = self._migrate(timescale, create=create)
        except BaseException:
            self.pool.close()
            raise

    def close(self) -> None:
        self.pool.close()

    def _location(self) -> str:
        return f"{_safe(self.url)} schema {self.schema}"

    @contextmanager
    def _transaction(self, *, lock: str | None, read_only: bool) -> Iterator[StateDb]:
        with self._errors("reading" if read_only else "writing"), self.pool.connection() as pg, pg.cursor() as cur:
            if read_only:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            elif lock is not None:
                self._advisory_lock(pg, lock)
            yield StateDb(cur, f'"{self.schema}".', "postgres", lock=lock, read_only=read_only)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        # psycopg's failures (server gone, disk full, a constraint) as one StoreError
        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(
                f"PostgreSQL at {_safe(self.url)} schema {self.schema}: {what} failed: {_one_line(exc)}"
                + ("; nothing was changed" if what == "writing" else "")
            ) from exc

    def _advisory_lock(self, con: psycopg.Connection[Any], what: str) -> None:
        # the transaction-scoped lock named ``what``, waited for as every store waits
        key = _lock_key(self.schema, what)
        started = time.monotonic()

        def take(wait_s: float) -> bool:
            con.execute("SAVEPOINT bifrost_lock")
            con.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{max(int(wait_s * 1000), 1)}ms")))
            try:
                con.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            except psycopg.errors.LockNotAvailable:
                con.execute("ROLLBACK TO SAVEPOINT bifrost_lock")
                return False
            con.execute("SET LOCAL lock_timeout = 0")
            con.execute("RELEASE SAVEPOINT bifrost_lock")
            return True

        def say_waiting() -> None:
            _sqlite.log.warning(
                "waiting for another %s writer of PostgreSQL schema %s (%s); giving up after %.0f s "
                "(BIFROST_LOCK_TIMEOUT)",
                what,
                self.schema,
                self._lock_holder(con, key),
                self.lock_timeout_s,
            )

        if _sqlite.wait_in_two_steps(take, self.lock_timeout_s, say_waiting):
            return
        raise StoreError(
            f"PostgreSQL schema {self.schema} is locked by another {what} writer ({self._lock_holder(con, key)}); "
            f"gave up after {time.monotonic() - started:.0f} s. Let that writer finish or end it "
            "(pg_terminate_backend), or wait longer with BIFROST_LOCK_TIMEOUT / lock_timeout_s in bifrost.toml"
        )

    @staticmethod
    def _lock_holder(con: psycopg.Connection[Any], key: int) -> str:
        rows = con.execute(
            "SELECT l.classid::bigint, l.objid::bigint, a.pid, a.application_name, a.client_addr::text, a.state, "
            "a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
        unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
        for classid, objid, pid, app, addr, state, port in rows:
            if (int(classid) << 32) | int(objid) == unsigned:
                client = f"{addr}:{port}" if addr else "a local socket"
                return f"held by PostgreSQL backend pid {pid} ({app or 'no application name'}, from {client}, {state})"
        return "its holder could not be found in pg_locks"

    def compact(self) -> None:
        """Do nothing: PostgreSQL reorganises its own storage (autovacuum)."""

    def verify(self, *, repair: bool = False) -> StoreCheck:
        """Check that every symbol the store lists has bars and every bar's symbol is listed.

        ``repair`` does nothing here: PostgreSQL keeps its own files consistent.
        """
        s = self._s
        with self._errors("checking"), self.pool.connection() as con:
            unlisted = con.execute(
                sql.SQL(
                    "SELECT DISTINCT symbol FROM {}.bars b WHERE NOT EXISTS "
                    "(SELECT 1 FROM {}.symbols s WHERE s.symbol = b.symbol) ORDER BY 1 LIMIT 20"
                ).format(s, s)
            ).fetchall()
            empty = con.execute(
                sql.SQL(
                    "SELECT symbol FROM {}.symbols s WHERE NOT EXISTS "
                    "(SELECT 1 FROM {}.bars b WHERE b.symbol = s.symbol) ORDER BY 1 LIMIT 20"
                ).format(s, s)
            ).fetchall()
            counts = con.execute(sql.SQL("SELECT count(DISTINCT symbol), count(*) FROM {}.bars").format(s)).fetchone()
        problems = [
            f"bars of {r[0]!r} are stored but the symbol is not listed (reads cannot reach them)" for r in unlisted
        ]
        problems += [f"{r[0]!r} is listed but has no bars" for r in empty]
        return StoreCheck(
            backend=self.backend,
            location=f"{_safe(self.url)} schema {self.schema}",
            symbols=int(counts[0]) if counts else 0,
            rows=int(counts[1]) if counts else 0,
            segments=0,
            problems=tuple(problems),
        )

    def environment(self) -> dict[str, str]:
        return {
            "BIFROST_HOME": str(self.home.resolve()),
            "BIFROST_DATABASE_URL": self.url,
            "BIFROST_DATABASE_SCHEMA": self.schema,
        }

    def describe(self) -> dict[str, str]:
        return {
            "backend": "postgres",
            "mode": self.mode,
            "location": self._location(),
            "schema_version": str(LEGACY_HANDOVER),  # the store's format: versions kept per package
            "schemas": self._versions(),
        }

    # -- schema ------------------------------------------------------------------------
    def _migrate(self, timescale: bool | None, *, create: bool = True) -> str:
        with self._errors("opening the store"), self.pool.connection() as con:
            if not create:
                found = con.execute("SELECT to_regclass(%s)", (f'"{self.schema}".schema_version',)).fetchone()
                if not found or found[0] is None:
                    raise StoreError(
                        f"no store in PostgreSQL schema {self.schema} at {_safe(self.url)}: check "
                        "BIFROST_DATABASE_URL (`bifrost config` shows it); `bifrost data ingest` creates a store"
                    )
            self._advisory_lock(con, "schema:data")  # two processes creating one schema: one at a time
            con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(self._s))
            con.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.schema_version (version int NOT NULL, "
                    "applied timestamptz NOT NULL DEFAULT now(), mode text NOT NULL)"
                ).format(self._s)
            )
        bars = Schema(
            "data", (Migration(1, run=lambda db: self._create_bars(db, timescale)), FREQUENCY_MIGRATION), legacy=1
        )
        open_schema(self._transaction, bars, self._location(), handover=_HANDOVER)
        self._schemas_applied.add(bars.package)
        self._apply_registered()
        with self._transaction(lock=None, read_only=True) as db:
            return str(db.rows("SELECT mode FROM {t}schema_version ORDER BY version LIMIT 1")[0][0])

    def _create_bars(self, db: StateDb, timescale: bool | None) -> None:
        # the bars' migration 1: a hypertable where TimescaleDB is, else partitions by month
        available = db.rows("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
        use_ts = bool(available and available[0][0]) if timescale is None else timescale
        if use_ts:
            db.run("CREATE EXTENSION IF NOT EXISTS timescaledb")
        db.script(_BARS_V1.replace("{partition}", "" if use_ts else "PARTITION BY RANGE (ts)"))
        if use_ts:
            db.run(
                "SELECT create_hypertable(?, 'ts', chunk_time_interval => interval '365 days')",
                (f"{self.schema}.bars",),
            )
            mode = "timescaledb hypertable"
        else:
            db.run("CREATE INDEX ON {t}bars USING brin (ts)")
            mode = "partitioned by month + BRIN"
        db.run("INSERT INTO {t}schema_version (version, mode) VALUES (?, ?)", (LEGACY_HANDOVER, mode))

    def _ensure_partitions(self, con: psycopg.Connection, ts_ns: np.ndarray) -> None:
        if self.mode.startswith("timescaledb") or ts_ns.size == 0:
            return
        months = np.unique(ts_ns.astype("datetime64[ns]").astype("datetime64[M]"))
        for m in months:
            lo = pd.Timestamp(m)
            hi = lo + pd.offsets.MonthBegin(1)
            name = f"bars_y{lo.year:04d}m{lo.month:02d}"
            con.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} PARTITION OF {}.bars FOR VALUES FROM ({}) TO ({})").format(
                    self._s,
                    sql.Identifier(name),
                    self._s,
                    sql.Literal(f"{lo:%Y-%m-%d} 00:00+00"),
                    sql.Literal(f"{hi:%Y-%m-%d} 00:00+00"),
                )
            )

    # -- writing -----------------------------------------------------------------------
    def write(
        self,
        validated: ValidatedBars,
        *,
        ingest_id: str,
        source: str,
        quarantine_path: str | None = None,
        symbol_meta: pd.DataFrame | None = None,
    ) -> IngestReport:
        cols = BarColumns.from_frame(validated.bars)
        symbols = cols.symbols
        s = self._s
        with self._errors("writing"), self.pool.connection() as con:
            self._advisory_lock(con, "bars")
            self._ensure_partitions(con, cols.ts)
            found = con.execute(
                sql.SQL("SELECT symbol, frequency FROM {}.symbols WHERE symbol = ANY(%s)").format(s), (list(symbols),)
            ).fetchall()
            self._check_frequency({str(r[0]): str(r[1]) for r in found}, validated)
            present = {r[0] for r in found}
            fresh, known = cols.split([sym not in present for sym in symbols])
            n_new, n_revised, n_unchanged = len(fresh), 0, 0
            if len(fresh):
                self._copy(con, sql.SQL("{}.bars").format(s), fresh)  # straight in: nothing to merge
            if len(known):
                new, n_revised, n_unchanged = self._merge(con, known, ingest_id, validated.bars.columns)
                n_new += new
            con.cursor().executemany(
                sql.SQL(
                    "INSERT INTO {}.corporate_actions VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (symbol, ts, kind) DO UPDATE SET "
                    "value = excluded.value, ingest_id = excluded.ingest_id"
                ).format(s),
                list(actions_rows(validated.actions, ingest_id)),
            )
            rows = symbol_rows(symbols, symbol_meta, source, validated.frequency)
            con.cursor().executemany(
                sql.SQL(
                    "INSERT INTO {}.symbols (symbol, sector, source, synthetic, frequency) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (symbol) DO UPDATE SET "
                    "sector = coalesce(excluded.sector, {}.symbols.sector), source = excluded.source, "
                    "synthetic = excluded.synthetic"
                ).format(s, s),
                rows,
            )
            report = IngestReport.of_write(
                validated,
                ingest_id=ingest_id,
                source=source,
                counts=(n_new, n_revised, n_unchanged),
                quarantine_path=quarantine_path,
                synthetic=any(r[3] for r in rows),
            )
            con.execute(
                sql.SQL(
                    "INSERT INTO {}.ingests (id, source, origin, policy, symbols, rows_read, rows_new, "
                    "rows_revised, rows_unchanged, rows_quarantined, quarantine_path) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ).format(s),
                report.log_row(),
            )
        return report

    @staticmethod
    def _copy(con: psycopg.Connection, table: sql.Composable, cols: BarColumns) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            table, sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
        )
        with con.cursor() as cur, cur.copy(statement) as copy:
            buffer = bytearray()
            for chunk in encode_bars(cols):
                buffer += chunk
                if len(buffer) > 8 << 20:
                    copy.write(bytes(buffer))
                    buffer.clear()
            copy.write(bytes(buffer))

    def _merge(
        self, con: psycopg.Connection, cols: BarColumns, ingest_id: str, given: pd.Index
    ) -> tuple[int, int, int]:
        s = self._s
        con.execute(sql.SQL("CREATE TEMP TABLE bifrost_stage (LIKE {}.bars) ON COMMIT DROP").format(s))
        self._copy(con, sql.Identifier("bifrost_stage"), cols)
        compared = [c for c in _FLOAT_COLS if c in given]
        values = sql.SQL(", ").join(
            sql.SQL("({}, b.{}, n.{})").format(sql.Literal(c), sql.Identifier(c), sql.Identifier(c)) for c in compared
        )
        con.execute(
            sql.SQL(
                "INSERT INTO {}.bar_revisions SELECT %s, n.symbol, n.ts, f.field, f.old, f.new "
                "FROM bifrost_stage n JOIN {}.bars b USING (symbol, ts) "
                "CROSS JOIN LATERAL (VALUES {}) AS f(field, old, new) WHERE f.old IS DISTINCT FROM f.new"
            ).format(s, s, values),
            (ingest_id,),
        )
        revised_row = con.execute(
            sql.SQL("SELECT count(DISTINCT (symbol, ts)) FROM {}.bar_revisions WHERE ingest_id = %s").format(s),
            (ingest_id,),
        ).fetchone()
        existing_row = con.execute(
            sql.SQL("SELECT count(*) FROM bifrost_stage n JOIN {}.bars b USING (symbol, ts)").format(s)
        ).fetchone()
        revised = int(revised_row[0]) if revised_row else 0
        existing = int(existing_row[0]) if existing_row else 0
        # only the fields this source provides: a source without adj_close keeps the stored one
        assign = sql.SQL(", ").join(
            sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in compared
        )
        mine = sql.SQL(", ").join(sql.SQL("{}.bars.{}").format(s, sql.Identifier(c)) for c in compared)
        theirs = sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in compared)
        con.execute(
            sql.SQL(
                "INSERT INTO {}.bars SELECT * FROM bifrost_stage ON CONFLICT (symbol, ts) DO UPDATE SET {} "
                "WHERE ROW({}) IS DISTINCT FROM ROW({})"
            ).format(s, assign, mine, theirs)
        )
        return len(cols) - existing, revised, existing - revised

    # -- reading -----------------------------------------------------------------------
    def _where(self, names: Sequence[str], start_ns: int | None, end_ns: int | None) -> sql.Composable:
        conditions = [sql.SQL("symbol = ANY({})").format(sql.Literal(list(names)))]
        if start_ns is not None:
            conditions.append(sql.SQL("ts >= to_timestamp({})").format(sql.Literal(start_ns / 1e9)))
        if end_ns is not None:
            conditions.append(sql.SQL("ts < to_timestamp({})").format(sql.Literal(end_ns / 1e9)))
        return sql.SQL(" AND ").join(conditions)

    def _read_columns(
        self, symbols: Sequence[str], start_ns: int | None, end_ns: int | None, fields: Sequence[str]
    ) -> BarColumns:
        names = tuple(sorted(symbols))
        select = sql.SQL(
            "SELECT symbol, (extract(epoch FROM ts) * 1000000)::int8, {} FROM {}.bars WHERE {} ORDER BY symbol, ts"
        ).format(sql.SQL(", ").join(map(sql.Identifier, fields)), self._s, self._where(names, start_ns, end_ns))
        return self._copy_out(select, names, fields)

    def _aggregate_columns(
        self,
        symbols: Sequence[str],
        start_ns: int | None,
        end_ns: int | None,
        fields: Sequence[str],
        frequency: Frequency,
    ) -> BarColumns:
        # fixed lengths (intraday, days, weeks) on a grid from Monday 2000-01-03 00:00 UTC,
        # which every shorter length divides: days at 00:00 UTC, weeks from Monday; months at the 1st
        bucket: sql.Composable
        if frequency == "1mo":
            bucket = sql.SQL(
                "time_bucket('1 month', ts)" if self.mode.startswith("timescaledb") else "date_trunc('month', ts)"
            )
        else:
            step = sql.Literal(f"{bar_ns(frequency) // 10**9} seconds")
            if self.mode.startswith("timescaledb"):
                bucket = sql.SQL("time_bucket({}::interval, ts)").format(step)
            else:
                bucket = sql.SQL("date_bin({}::interval, ts, '2000-01-03 00:00+00')").format(step)
        aggregate = {
            "open": "(array_agg(open ORDER BY ts))[1]",
            "high": "max(high)",
            "low": "min(low)",
            "close": "(array_agg(close ORDER BY ts DESC))[1]",
            "adj_close": "(array_agg(adj_close ORDER BY ts DESC))[1]",
            "volume": "sum(volume)",
        }
        names = tuple(sorted(symbols))
        select = sql.SQL(
            "SELECT symbol, (extract(epoch FROM {bucket}) * 1000000)::int8 AS bucket_us, {aggs} FROM {s}.bars "
            "WHERE {where} GROUP BY symbol, bucket_us ORDER BY symbol, bucket_us"
        ).format(
            bucket=bucket,
            aggs=sql.SQL(", ").join(sql.SQL(aggregate[f]) for f in fields),
            s=self._s,
            where=self._where(names, start_ns, end_ns),
        )
        return replace(self._copy_out(select, names, fields), frequency=frequency)

    def _copy_out(self, select: sql.Composable, names: tuple[str, ...], fields: Sequence[str]) -> BarColumns:
        query = sql.SQL("COPY ({}) TO STDOUT (FORMAT CSV)").format(select)
        buf = io.BytesIO()
        with self._errors("reading"), self.pool.connection() as con, con.cursor() as cur, cur.copy(query) as copy:
            for block in copy:
                buf.write(block)
        buf.seek(0)
        frame = (
            pd.read_csv(
                buf,
                header=None,
                names=["symbol", "us", *fields],
                dtype={"symbol": str, "us": np.int64, **{f: np.float64 for f in fields}},
            )
            if buf.getbuffer().nbytes
            else pd.DataFrame({"symbol": [], "us": [], **{f: [] for f in fields}})
        )
        code_of = {s: i for i, s in enumerate(names)}
        codes: np.ndarray = (
            frame["symbol"].map(code_of).to_numpy(dtype=np.int64) if len(frame) else np.empty(0, dtype=np.int64)
        )
        return BarColumns(
            symbols=names,
            codes=codes,
            ts=frame["us"].to_numpy(dtype=np.int64) * 1000,
            values={f: frame[f].to_numpy(dtype=np.float64) for f in fields},
        )

    def _query(self, query: sql.Composable, params: Sequence[object] = ()) -> pd.DataFrame:
        with self._errors("reading"), self.pool.connection() as con, con.cursor() as cur:
            cur.execute(query, list(params))  # type: ignore[call-overload]
            names = [d.name for d in cur.description or []]
            return pd.DataFrame(cur.fetchall(), columns=names)

    def _symbol_frequencies(self) -> dict[str, Frequency]:
        frame = self._query(sql.SQL("SELECT symbol, frequency FROM {}.symbols").format(self._s))
        if frame.empty:
            return {}
        return {
            str(sym): stored_frequency(str(sym), f) for sym, f in zip(frame["symbol"], frame["frequency"], strict=True)
        }

    def list_symbols(self) -> pd.DataFrame:
        frame = self._query(
            sql.SQL(
                "SELECT b.symbol, b.first, b.last, b.rows, s.sector, s.source, s.synthetic, s.frequency FROM "
                "(SELECT symbol, min(ts) AS first, max(ts) AS last, count(*) AS rows FROM {}.bars GROUP BY symbol) b "
                "LEFT JOIN {}.symbols s USING (symbol) ORDER BY b.symbol"
            ).format(self._s, self._s)
        )
        if frame.empty:
            return pd.DataFrame(columns=list(LISTING_COLUMNS))
        frame["first"] = pd.to_datetime(frame["first"], utc=True)
        frame["last"] = pd.to_datetime(frame["last"], utc=True)
        frame["rows"] = frame["rows"].astype(np.int64)
        frame["synthetic"] = frame["synthetic"].fillna(False).astype(bool)
        frame["frequency"] = frame["frequency"].fillna("1d")
        return frame

    def read_actions(self, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        query = sql.SQL("SELECT symbol, ts, kind, value FROM {}.corporate_actions").format(self._s)
        params: list[object] = []
        if symbols is not None:
            query = query + sql.SQL(" WHERE symbol = ANY(%s)")
            params.append(list(symbols))
        frame = self._query(query + sql.SQL(" ORDER BY symbol, ts"), params)
        if frame.empty:
            frame = pd.DataFrame({"symbol": [], "ts": [], "kind": [], "value": []})
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame["value"] = frame["value"].astype(np.float64)
        return frame

    def ingest_log(self) -> pd.DataFrame:
        return self._query(sql.SQL("SELECT * FROM {}.ingests ORDER BY ts_started, id").format(self._s))

    def revisions(self, symbol: str | None = None) -> pd.DataFrame:
        query = sql.SQL("SELECT ingest_id, symbol, ts, field, old_value, new_value FROM {}.bar_revisions").format(
            self._s
        )
        params: list[object] = []
        if symbol:
            query = query + sql.SQL(" WHERE symbol = %s")
            params.append(symbol)
        frame = self._query(query + sql.SQL(" ORDER BY ts, field"), params)
        if frame.empty:
            frame = pd.DataFrame(columns=["ingest_id", "symbol", "ts", "field", "old_value", "new_value"])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        return frame


def _configure(con: psycopg.Connection) -> None:
    con.execute("SET TIME ZONE 'UTC'")
    con.commit()


def _lock_key(schema: str, what: str) -> int:
    # one key per (schema, lock name): the state's locks (``portfolio:NAME``), ``bars``, ``schema:PACKAGE``
    return zlib.crc32(f"{schema}:{what}".encode()) - (1 << 31)


def _safe(url: str) -> str:
    return mask_secrets(url)


def _application_name(url: str) -> dict[str, str]:
    # pg_stat_activity then names the client process that holds a lock (unless the URL names itself)
    if "application_name" in url:
        return {}
    command = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return {"application_name": f"bifrost pid {os.getpid()} {command}"[:63]}


def _probe(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        try:
            psycopg.connect(url, connect_timeout=max(2, round(remaining))).close()
            return
        except psycopg.Error as exc:
            if time.monotonic() + 0.25 < deadline:
                time.sleep(0.25)
                continue
            raise StoreError(
                f"cannot connect to PostgreSQL at {_safe(url)} within {timeout_s:g} s: {_one_line(exc)} "
                "(check BIFROST_DATABASE_URL and that the server runs; BIFROST_CONNECT_TIMEOUT sets the wait)"
            ) from None


def _one_line(exc: BaseException) -> str:
    # psycopg's messages span lines ("connection failed: ...\n\tIs the server running ...")
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return mask_secrets(text or type(exc).__name__)
