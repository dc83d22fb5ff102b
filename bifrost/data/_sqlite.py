"""The embedded store's transactional part: SQLite in WAL mode, with versioned migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from bifrost.errors import SchemaVersionError, StoreError

__all__ = ["MIGRATIONS", "connect", "migrate", "schema_version"]

# Append only: a released migration never changes. Later packages add theirs here.
MIGRATIONS: Sequence[tuple[int, str]] = (
    (
        1,
        """
        CREATE TABLE ingests (
            id TEXT PRIMARY KEY, ts_started TEXT NOT NULL, source TEXT NOT NULL,
            origin TEXT NOT NULL, policy TEXT NOT NULL, symbols INTEGER NOT NULL,
            rows_read INTEGER NOT NULL, rows_new INTEGER NOT NULL,
            rows_revised INTEGER NOT NULL, rows_unchanged INTEGER NOT NULL,
            rows_quarantined INTEGER NOT NULL, quarantine_path TEXT
        );
        CREATE TABLE bar_segments (file TEXT PRIMARY KEY, rows INTEGER NOT NULL);
        CREATE TABLE bar_symbols (
            symbol TEXT PRIMARY KEY, segment TEXT NOT NULL REFERENCES bar_segments(file),
            row_start INTEGER NOT NULL, rows INTEGER NOT NULL,
            first_ts TEXT NOT NULL, last_ts TEXT NOT NULL
        );
        CREATE TABLE bar_revisions (
            ingest_id TEXT NOT NULL, symbol TEXT NOT NULL, ts TEXT NOT NULL,
            field TEXT NOT NULL, old_value REAL, new_value REAL
        );
        CREATE INDEX bar_revisions_symbol ON bar_revisions(symbol, ts);
        CREATE TABLE corporate_actions (
            symbol TEXT NOT NULL, ts TEXT NOT NULL, kind TEXT NOT NULL, value REAL NOT NULL,
            ingest_id TEXT NOT NULL, PRIMARY KEY (symbol, ts, kind)
        );
        CREATE TABLE symbols (
            symbol TEXT PRIMARY KEY, sector TEXT, source TEXT NOT NULL,
            synthetic INTEGER NOT NULL DEFAULT 0
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE portfolios (
            name TEXT PRIMARY KEY, inception TEXT NOT NULL, cost_basis TEXT NOT NULL,
            long_only INTEGER NOT NULL, base_currency TEXT NOT NULL,
            created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
        );
        CREATE TABLE transactions (
            portfolio TEXT NOT NULL REFERENCES portfolios(name), seq INTEGER NOT NULL, txn_id TEXT NOT NULL,
            ts TEXT NOT NULL, kind TEXT NOT NULL, symbol TEXT, side TEXT, quantity TEXT, price TEXT,
            commission TEXT, fees TEXT, amount TEXT, per_share TEXT, ratio TEXT, pay_date TEXT,
            currency TEXT, PRIMARY KEY (portfolio, txn_id), UNIQUE (portfolio, seq)
        );
        """,
    ),
    (
        3,
        """
        CREATE TABLE risk_limits (
            portfolio TEXT NOT NULL REFERENCES portfolios(name), name TEXT NOT NULL, metric TEXT NOT NULL,
            threshold REAL NOT NULL, warn_at REAL NOT NULL, method TEXT NOT NULL, confidence REAL NOT NULL,
            horizon_days INTEGER NOT NULL, PRIMARY KEY (portfolio, name)
        );
        CREATE TABLE risk_alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, as_of TEXT NOT NULL,
            portfolio TEXT NOT NULL, limit_name TEXT NOT NULL, metric TEXT NOT NULL, subject TEXT NOT NULL,
            value REAL NOT NULL, threshold REAL NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL
        );
        CREATE INDEX risk_alerts_portfolio ON risk_alerts(portfolio, ts);
        """,
    ),
)


def connect(path: Path) -> sqlite3.Connection:
    """Open the state database in WAL mode with autocommit; transactions are explicit."""
    try:
        con = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the state database: {exc}") from exc
    return con


def schema_version(con: sqlite3.Connection) -> int:
    """Return the applied schema version (0 for a new database)."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(con: sqlite3.Connection, path: Path) -> int:
    """Apply pending migrations in one transaction each; refuse a newer database."""
    latest = MIGRATIONS[-1][0]
    current = schema_version(con)
    if current > latest:
        raise SchemaVersionError(
            f"{path}: schema version {current} was written by a newer bifrost "
            f"(this one knows up to {latest}); upgrade bifrost to open it"
        )
    for version, script in MIGRATIONS:
        if version <= current:
            continue
        con.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(con) >= version:  # another process migrated meanwhile
                con.execute("ROLLBACK")
                continue
            for statement in filter(str.strip, script.split(";")):
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
                (version,),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return latest
