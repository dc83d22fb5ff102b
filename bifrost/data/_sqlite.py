"""The embedded store's transactional part: SQLite in WAL mode, and the bars' own tables there.

Writers take SQLite's one write slot (``BEGIN IMMEDIATE``) and wait for it at most the
store's lock timeout, saying after a second that they wait and for which process (Linux
names the holder in ``/proc/locks``). Readers begin a deferred, read-only transaction: in
WAL mode they read a snapshot and never wait for a writer. Every SQLite failure inside a
transaction (a full disk, a damaged file) becomes one `StoreError`, after a rollback that
never hides it.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bifrost.data._schema import Migration, Schema
from bifrost.data._store import FREQUENCY_MIGRATION
from bifrost.errors import StoreError

__all__ = [
    "DEFAULT_LOCK_TIMEOUT_S",
    "SCHEMA",
    "WARN_AFTER_S",
    "connect",
    "describe_process",
    "lock_holders",
    "transaction",
    "wait_in_two_steps",
]

log = logging.getLogger("bifrost.data.store")

DEFAULT_LOCK_TIMEOUT_S = 120.0
WARN_AFTER_S = 1.0
_WAL_WRITE_LOCK_BYTE = 120  # SQLite's WAL write lock: byte 120 of the -shm file (os_unix.c, WALINDEX_LOCK_OFFSET)

# The embedded store's own tables (bars' manifest, ingests, actions, symbols); other
# packages declare theirs next to their code. Append only: a released migration never changes.
SCHEMA = Schema(
    "data",
    (
        Migration(
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
        FREQUENCY_MIGRATION,
    ),
    legacy=1,
)


def connect(path: Path, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> sqlite3.Connection:
    """Open the state database in WAL mode with autocommit; transactions are explicit."""
    try:
        con = sqlite3.connect(path, timeout=lock_timeout_s, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the state database: {exc}") from exc
    return con


@contextmanager
def transaction(
    con: sqlite3.Connection, path: Path, *, write: bool, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> Iterator[sqlite3.Connection]:
    """Run the body in one transaction: committed on success, rolled back on any error.

    ``write`` takes the write slot (waiting at most ``lock_timeout_s``); otherwise the
    transaction is read-only and reads one snapshot without waiting for a writer.

    Raises
    ------
    StoreError
        If the write slot stays taken, or SQLite fails (disk full, I/O error, damaged file).
    """
    if write:
        _begin_immediate(con, path, lock_timeout_s)
    else:
        try:
            con.execute("PRAGMA query_only=ON")  # a read that tries to write fails loudly
            con.execute("BEGIN DEFERRED")
        except sqlite3.Error as exc:
            _reset_query_only(con)
            raise StoreError(f"{path}: cannot read the state database: {exc}") from exc
    try:
        yield con
        con.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(con)
        what = "writing the state database failed (nothing was changed)" if write else "reading it failed"
        raise StoreError(f"{path}: {what}: {exc}") from exc
    except BaseException:
        _rollback(con)
        raise
    finally:
        if not write:
            _reset_query_only(con)


def _reset_query_only(con: sqlite3.Connection) -> None:
    try:
        con.execute("PRAGMA query_only=OFF")
    except sqlite3.Error as exc:  # the connection is broken; its next use reports that
        log.warning("could not end a read-only transaction: %s", exc)


def _rollback(con: sqlite3.Connection) -> None:
    # SQLite rolls back by itself on some errors (SQLITE_FULL, SQLITE_IOERR): a second
    # ROLLBACK would raise "no transaction is active" and hide the first error
    if not con.in_transaction:
        return
    try:
        con.execute("ROLLBACK")
    except sqlite3.Error as exc:
        log.warning("rollback of the state database failed after an earlier error: %s", exc)


def wait_in_two_steps(take: Callable[[float], bool], timeout_s: float, say_waiting: Callable[[], None]) -> bool:
    """Take a lock the way every store waits: a second, then say so, then the rest of ``timeout_s``.

    ``take(wait_s)`` tries for at most ``wait_s`` seconds and says whether it got the lock;
    ``say_waiting`` (a warning naming the holder) runs once, after the first second.
    Return False if the lock stayed taken for the whole timeout.
    """
    first = min(WARN_AFTER_S, timeout_s)
    for wait_s in (first, timeout_s - first):
        if take(wait_s):
            return True
        if wait_s == first and timeout_s > first:
            say_waiting()
    return False


def _begin_immediate(con: sqlite3.Connection, path: Path, lock_timeout_s: float) -> None:
    started = time.monotonic()

    def take(wait_s: float) -> bool:
        con.execute(f"PRAGMA busy_timeout = {max(int(wait_s * 1000), 0)}")
        try:
            con.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise StoreError(f"{path}: cannot begin a write: {exc}") from exc
            return False
        finally:
            con.execute(f"PRAGMA busy_timeout = {int(lock_timeout_s * 1000)}")

    def say_waiting() -> None:
        log.warning(
            "waiting for another writer of %s (%s); giving up after %.0f s (BIFROST_LOCK_TIMEOUT)",
            path,
            _holder_text(Path(f"{path}-shm"), _WAL_WRITE_LOCK_BYTE),
            lock_timeout_s,
        )

    if wait_in_two_steps(take, lock_timeout_s, say_waiting):
        return
    waited = time.monotonic() - started
    raise StoreError(
        f"{path} is locked by another writer ({_holder_text(Path(f'{path}-shm'), _WAL_WRITE_LOCK_BYTE)}); "
        f"gave up after {waited:.0f} s. Let that process finish, resume it (kill -CONT) or end it, "
        "or wait longer with BIFROST_LOCK_TIMEOUT / lock_timeout_s in bifrost.toml"
    )


def lock_holders(path: Path, byte: int | None = None) -> list[int]:
    """Return the pids holding a write lock on ``path`` (at ``byte``, if given), from ``/proc/locks``.

    Empty where the platform cannot tell (no ``/proc``) or nobody holds one.
    """
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = []
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a waiter, not a holder
            continue
        # "1: POSIX  ADVISORY  WRITE 1234 fe:00:5515721 120 120", FLOCK locks end "0 EOF"
        if len(parts) < 8 or parts[3] != "WRITE" or parts[5] != device:
            continue
        if byte is not None and parts[6] != "0" and not (int(parts[6]) <= byte <= _end(parts[7])):
            continue
        if parts[4].isdigit() and int(parts[4]) != os.getpid():
            pids.append(int(parts[4]))
    return sorted(set(pids))


def _end(text: str) -> int:
    return 1 << 62 if text == "EOF" else int(text)


def describe_process(pid: int) -> str:
    """Describe process ``pid`` for a message: its command line and whether it is stopped."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            command = " ".join(fh.read().replace(b"\0", b" ").decode(errors="replace").split())  # one line
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"pid {pid}, no longer running"
        except PermissionError:
            pass
        return f"pid {pid}"
    shown = command if len(command) <= 80 else command[:77] + "..."
    stopped = ", which is stopped (SIGSTOP): `kill -CONT` resumes it" if state in ("T", "t") else ""
    return f"pid {pid} `{shown}`{stopped}"


def _holder_text(path: Path, byte: int | None) -> str:
    pids = lock_holders(path, byte)
    if not pids:
        return f"held by a process this machine ({socket.gethostname()}) cannot name"
    return "held by " + "; ".join(describe_process(p) for p in pids)
