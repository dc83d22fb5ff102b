"""Run history: one row per attempt of a job, in the store (both backends), and the scheduler's lease.

The ``jobs`` schema (append only: a released migration never changes):

1. ``job_runs``: ``run_id`` (primary key), ``job``, ``parameters`` (JSON), ``status``,
   ``attempt`` (1, 2, ... of one request), ``parent_run_id`` (the chain's run), ``retry_of``
   (attempt 1's id, on the later attempts), ``idempotency_key`` (unique where given: on
   attempt 1), ``queued``/``started``/``ended``/``duration_s``, ``heartbeat`` (the runner's
   last sign of life), ``pid``/``host`` (the runner), ``kernel_pid``, the error summary
   (``error_cell``, ``error_name``, ``error_message``), ``notebook_path``/``html_path``,
   ``result`` (JSON, what the notebook recorded), ``version`` (bifrost's) and ``revision``
   (a store-wide counter bumped by every change but a heartbeat: `JobHistory.marker`).
   ``job_leases``: one row per named lease (the scheduler's ``scheduler``): holder, pid,
   host, acquired, expires.

A run the runner stopped tending (killed, its machine gone) would stay ``running`` forever;
`JobHistory.reap` marks it ``abandoned`` instead, when its heartbeat is older than
`ABANDON_AFTER_S`, or at once when its runner's pid is dead on this host, and kills its
kernel if that is still alive here. Reading the history reaps first.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum, auto
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import pandas as pd

from bifrost._json import dumps, finite_or_none
from bifrost.data import Migration, Schema, StateDb, Store, append_audit, register_schema
from bifrost.errors import InvalidInputError, NotFoundError

__all__ = [
    "ABANDON_AFTER_S",
    "HEARTBEAT_S",
    "JOBS_SCHEMA",
    "JobHistory",
    "Lease",
    "RunRecord",
    "RunStatus",
    "get_run",
    "job_history",
    "runs_marker",
]

HEARTBEAT_S: Final = 5.0  # how often a runner says it is alive
ABANDON_AFTER_S: Final = 3 * HEARTBEAT_S  # a running run silent this long is abandoned


class RunStatus(StrEnum):
    """Where a run is: queued → running → one of the terminal states."""

    QUEUED = auto()
    RUNNING = auto()
    SUCCEEDED = auto()  # the executed notebook has no error output and papermill recorded no exception
    FAILED = auto()  # a cell raised (error_cell says which), or the notebook could not run
    TIMED_OUT = auto()  # past the job's timeout_s: the kernel was killed
    KERNEL_DIED = auto()  # the kernel process died under the run
    CANCELED = auto()  # never started: the scheduler stopped, or an earlier chain step failed
    ABANDONED = auto()  # its runner died (heartbeat stale or pid dead): never running forever

    @property
    def terminal(self) -> bool:
        """True once the run has ended (every state but queued and running)."""
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)

    @property
    def retryable(self) -> bool:
        """True for the endings a job's ``retries`` try again."""
        return self in (RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.KERNEL_DIED)


JOBS_SCHEMA = register_schema(
    Schema(
        "jobs",
        (
            Migration(
                1,
                """
            CREATE TABLE {t}job_runs (
                run_id TEXT PRIMARY KEY, job TEXT NOT NULL, parameters TEXT NOT NULL, status TEXT NOT NULL,
                attempt INTEGER NOT NULL, parent_run_id TEXT, retry_of TEXT, idempotency_key TEXT,
                queued {timestamp} NOT NULL, started {timestamp}, ended {timestamp}, duration_s {float},
                heartbeat {timestamp}, pid INTEGER, host TEXT, kernel_pid INTEGER,
                error_cell INTEGER, error_name TEXT, error_message TEXT, notebook_path TEXT, html_path TEXT,
                result TEXT, version TEXT NOT NULL, revision {bigint} NOT NULL
            );
            CREATE UNIQUE INDEX job_runs_idempotency ON {t}job_runs (idempotency_key)
                WHERE idempotency_key IS NOT NULL;
            CREATE INDEX job_runs_job ON {t}job_runs (job, queued);
            CREATE INDEX job_runs_status ON {t}job_runs (status);
            CREATE INDEX job_runs_parent ON {t}job_runs (parent_run_id);
            CREATE TABLE {t}job_leases (
                name TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER, host TEXT,
                acquired {timestamp}, expires {timestamp} NOT NULL
            )
            """,
            ),
        ),
    )
)

_COLUMNS: Final = (
    "run_id", "job", "parameters", "status", "attempt", "parent_run_id", "retry_of", "idempotency_key",
    "queued", "started", "ended", "duration_s", "heartbeat", "pid", "host", "kernel_pid",
    "error_cell", "error_name", "error_message", "notebook_path", "html_path", "result", "version",
)  # fmt: skip
_SELECT: Final = f"SELECT {', '.join(_COLUMNS)} FROM {{t}}job_runs"
_WRITE_LOCK: Final = "jobs:runs"
_LIVE: Final = (str(RunStatus.QUEUED), str(RunStatus.RUNNING))


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _iso(ts: pd.Timestamp | None) -> str | None:
    # one text format on SQLite, so that its text sorts as time
    return None if ts is None else ts.tz_convert("UTC").isoformat(timespec="microseconds")


def _ts(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One attempt of a job, as the history holds it.

    ``error`` is the one-line summary (``"cell 4: ValueError: ..."``); ``notebook`` and
    ``html`` are the executed notebook and its HTML export; ``result`` the headline numbers
    the notebook recorded (`bifrost.jobs.record_result`).
    """

    run_id: str
    job: str
    parameters: Mapping[str, object]
    status: RunStatus
    attempt: int = 1
    parent_run_id: str | None = None
    retry_of: str | None = None
    idempotency_key: str | None = None
    queued: pd.Timestamp
    started: pd.Timestamp | None = None
    ended: pd.Timestamp | None = None
    duration_s: float | None = None
    heartbeat: pd.Timestamp | None = None
    pid: int | None = None
    host: str | None = None
    kernel_pid: int | None = None
    error_cell: int | None = None
    error_name: str | None = None
    error_message: str | None = None
    notebook: Path | None = None
    html: Path | None = None
    result: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    version: str = ""

    @property
    def error(self) -> str | None:
        """The error as one line: ``cell N: Name: message``, ``Name: message``, or None."""
        if self.error_name is None and self.error_message is None:
            return None
        head = f"cell {self.error_cell}: " if self.error_cell is not None else ""
        name = f"{self.error_name}: " if self.error_name else ""
        return f"{head}{name}{self.error_message or ''}".rstrip(": ")

    def to_dict(self) -> dict[str, Any]:
        """Return the run as JSON-ready data (what ``bifrost jobs ... --json`` prints)."""
        return {
            "run_id": self.run_id,
            "job": self.job,
            "status": str(self.status),
            "attempt": self.attempt,
            "parameters": dict(self.parameters),
            "parent_run_id": self.parent_run_id,
            "retry_of": self.retry_of,
            "idempotency_key": self.idempotency_key,
            "queued": _iso(self.queued),
            "started": _iso(self.started),
            "ended": _iso(self.ended),
            "duration_s": self.duration_s,
            "error": self.error,
            "error_cell": self.error_cell,
            "error_name": self.error_name,
            "error_message": self.error_message,
            "notebook": None if self.notebook is None else str(self.notebook),
            "html": None if self.html is None else str(self.html),
            "result": dict(self.result),
            "heartbeat": _iso(self.heartbeat),
            "pid": self.pid,
            "host": self.host,
            "version": self.version,
        }

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.to_dict().items()
            if v not in (None, {}, [])
        )
        return f"<table>{rows}</table>"


def _record(row: Sequence[Any]) -> RunRecord:
    r = dict(zip(_COLUMNS, row, strict=True))
    return RunRecord(
        run_id=r["run_id"],
        job=r["job"],
        parameters=MappingProxyType(json.loads(r["parameters"] or "{}")),
        status=RunStatus(r["status"]),
        attempt=int(r["attempt"]),
        parent_run_id=r["parent_run_id"],
        retry_of=r["retry_of"],
        idempotency_key=r["idempotency_key"],
        queued=_ts(r["queued"]),  # type: ignore[arg-type]
        started=_ts(r["started"]),
        ended=_ts(r["ended"]),
        duration_s=None if r["duration_s"] is None else float(r["duration_s"]),
        heartbeat=_ts(r["heartbeat"]),
        pid=r["pid"],
        host=r["host"],
        kernel_pid=r["kernel_pid"],
        error_cell=r["error_cell"],
        error_name=r["error_name"],
        error_message=r["error_message"],
        notebook=None if r["notebook_path"] is None else Path(r["notebook_path"]),
        html=None if r["html_path"] is None else Path(r["html_path"]),
        result=MappingProxyType(json.loads(r["result"] or "{}")),
        version=r["version"],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """Who holds a named lease (the scheduler's lock) until when."""

    name: str
    holder: str
    pid: int | None
    host: str | None
    acquired: pd.Timestamp | None
    expires: pd.Timestamp


def _revision(db: StateDb) -> int:
    # the next value of the store-wide change counter (writes are serialised by the write lock)
    found = db.rows("SELECT coalesce(max(revision), 0) FROM {t}job_runs")
    return int(found[0][0]) + 1


class JobHistory:
    """The run history part of a store: ``store.part(JobHistory)``.

    Every write is one transaction under the lock ``jobs:runs``; reads are snapshots.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    @contextlib.contextmanager
    def _write(self) -> Iterator[StateDb]:
        with self._store.transaction(schema=JOBS_SCHEMA, lock=_WRITE_LOCK) as db:
            yield db

    @contextlib.contextmanager
    def _read(self) -> Iterator[StateDb]:
        with self._store.transaction(schema=JOBS_SCHEMA, read_only=True) as db:
            yield db

    # -- writing ---------------------------------------------------------------------
    def create(
        self,
        *,
        run_id: str,
        job: str,
        parameters: Mapping[str, object],
        version: str,
        attempt: int = 1,
        parent_run_id: str | None = None,
        retry_of: str | None = None,
        idempotency_key: str | None = None,
        notebook: Path | None = None,
        html: Path | None = None,
        status: RunStatus = RunStatus.QUEUED,
    ) -> tuple[RunRecord, bool]:
        """Record a new run (``queued`` by default); return it and whether it is new.

        With an ``idempotency_key`` that already has a run, nothing is written: the latest
        attempt of that run is returned with False.
        """
        if idempotency_key is not None and (not isinstance(idempotency_key, str) or not idempotency_key.strip()):
            raise InvalidInputError(f"an idempotency key is non-empty text, got {idempotency_key!r}")
        if idempotency_key is not None and len(idempotency_key) > 200:
            raise InvalidInputError(f"an idempotency key has at most 200 characters, got {len(idempotency_key)}")
        now = _now()
        with self._write() as db:
            if idempotency_key is not None:
                found = db.rows("SELECT run_id FROM {t}job_runs WHERE idempotency_key = ?", (idempotency_key,))
                if found:
                    return self._latest_attempt(db, str(found[0][0])), False
            db.run(
                "INSERT INTO {t}job_runs (run_id, job, parameters, status, attempt, parent_run_id, retry_of, "
                "idempotency_key, queued, heartbeat, pid, host, notebook_path, html_path, result, version, revision) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id, job, dumps(dict(parameters)), str(status), attempt, parent_run_id, retry_of,
                    idempotency_key, _iso(now), _iso(now), os.getpid(), socket.gethostname(),
                    None if notebook is None else str(notebook), None if html is None else str(html), "{}",
                    version, _revision(db),
                ),
            )  # fmt: skip
            run = self._get(db, run_id)
            _audit_run(db, run, "queued" if status == RunStatus.QUEUED else "created")
            return run, True

    def _latest_attempt(self, db: StateDb, first: str) -> RunRecord:
        rows = db.rows(f"{_SELECT} WHERE run_id = ? OR retry_of = ? ORDER BY attempt DESC", (first, first))
        return _record(rows[0])

    def start(self, run_id: str, *, kernel_pid: int | None = None, notebook: Path | None = None) -> RunRecord:
        """Mark a queued run ``running`` in this process, now; ``notebook`` is where its executed copy is written."""
        now = _now()
        with self._write() as db:
            db.run(
                "UPDATE {t}job_runs SET status = ?, started = ?, heartbeat = ?, pid = ?, host = ?, kernel_pid = ?, "
                "notebook_path = coalesce(?, notebook_path), revision = ? WHERE run_id = ?",
                (
                    str(RunStatus.RUNNING), _iso(now), _iso(now), os.getpid(), socket.gethostname(), kernel_pid,
                    None if notebook is None else str(notebook), _revision(db), run_id,
                ),
            )  # fmt: skip
            return self._get(db, run_id)

    def beat(self, run_id: str, *, kernel_pid: int | None = None) -> None:
        """Record that the run's runner is alive (and its kernel's pid once known)."""
        with self._write() as db:
            db.run(
                "UPDATE {t}job_runs SET heartbeat = ?, kernel_pid = coalesce(?, kernel_pid) "
                "WHERE run_id = ? AND status = ?",
                (_iso(_now()), kernel_pid, run_id, str(RunStatus.RUNNING)),
            )

    def finish(
        self,
        run_id: str,
        status: RunStatus,
        *,
        error_cell: int | None = None,
        error_name: str | None = None,
        error_message: str | None = None,
        notebook: Path | None = None,
        html: Path | None = None,
        result: Mapping[str, object] | None = None,
    ) -> RunRecord:
        """Record the end of a run: its terminal ``status``, error summary and outputs."""
        if not RunStatus(status).terminal:
            raise InvalidInputError(f"run {run_id}: finish takes a terminal status, got {status}")
        now = _now()
        with self._write() as db:
            current = self._get(db, run_id)
            start = current.started
            duration = None if start is None else max((now - start).total_seconds(), 0.0)
            db.run(
                "UPDATE {t}job_runs SET status = ?, ended = ?, duration_s = ?, error_cell = ?, error_name = ?, "
                "error_message = ?, notebook_path = ?, html_path = ?, result = ?, revision = ? WHERE run_id = ?",
                (
                    str(status), _iso(now), duration, error_cell, error_name, error_message,
                    None if notebook is None else str(notebook), None if html is None else str(html),
                    dumps(dict(result or current.result)), _revision(db), run_id,
                ),
            )  # fmt: skip
            run = self._get(db, run_id)
            _audit_run(db, run, "ended")
            return run

    def cancel(self, run_id: str, reason: str, *, forget_key: bool = False) -> RunRecord:
        """Mark a queued run ``canceled`` (it never started), saying why.

        With ``forget_key`` its idempotency key is dropped, so that the same request (a
        scheduled due time canceled by Ctrl-C) may be made again and run.
        """
        with self._write() as db:
            before = self._get(db, run_id)
            db.run(
                "UPDATE {t}job_runs SET status = ?, ended = ?, error_message = ?, revision = ?"
                + (", idempotency_key = NULL" if forget_key else "")
                + " WHERE run_id = ? AND status = ?",
                (str(RunStatus.CANCELED), _iso(_now()), reason, _revision(db), run_id, str(RunStatus.QUEUED)),
            )
            run = self._get(db, run_id)
            if before.status == RunStatus.QUEUED:
                _audit_run(db, run, "ended")
            return run

    def release_key(self, run_id: str) -> RunRecord:
        """Take the idempotency key off a run that never started, so that its request may be made again.

        For a run ``canceled`` before it started, or ``abandoned`` while still queued (its
        scheduler was killed): the scheduler then queues that due time afresh.

        Raises
        ------
        InvalidInputError
            If the run started, or is still queued or running.
        NotFoundError
            If there is no such run.
        """
        with self._write() as db:
            run = self._get(db, run_id)
            if run.started is not None or run.status not in (RunStatus.CANCELED, RunStatus.ABANDONED):
                raise InvalidInputError(
                    f"run {run_id} is {run.status}" + (" and started" if run.started is not None else "")
                    + ": only a run that never started (canceled, or abandoned while queued) gives its key back"
                )  # fmt: skip
            db.run(
                "UPDATE {t}job_runs SET idempotency_key = NULL, revision = ? WHERE run_id = ?",
                (_revision(db), run_id),
            )
            return self._get(db, run_id)

    def reap(self, *, abandon_after_s: float = ABANDON_AFTER_S) -> list[RunRecord]:
        """Mark ``abandoned`` every live run whose runner is gone; return them.

        A ``running`` run whose heartbeat is older than ``abandon_after_s``, or a ``queued``
        or ``running`` run whose runner's pid is dead on this host. A kernel such a run
        left alive on this host is killed.
        """
        now = _now()
        with self._read() as db:
            live = [_record(r) for r in db.rows(f"{_SELECT} WHERE status IN (?, ?)", _LIVE)]
        gone = [r for r in live if _runner_gone(r, now, abandon_after_s)]
        if not gone:
            return []
        out = []
        with self._write() as db:
            for run in gone:
                before = self._get(db, run.run_id)
                db.run(
                    "UPDATE {t}job_runs SET status = ?, ended = ?, duration_s = ?, error_name = ?, error_message = ?, "
                    "revision = ? WHERE run_id = ? AND status IN (?, ?)",
                    (
                        str(RunStatus.ABANDONED), _iso(now),
                        None if run.started is None else max((now - run.started).total_seconds(), 0.0),
                        "RunnerLost", _lost_message(run, now), _revision(db), run.run_id, *_LIVE,
                    ),
                )  # fmt: skip
                out.append(self._get(db, run.run_id))
                if not before.status.terminal:  # it may have ended meanwhile
                    _audit_run(db, out[-1], "ended")
        for run in gone:
            _kill_kernel(run)
        return out

    # -- reading ---------------------------------------------------------------------
    def _get(self, db: StateDb, run_id: str) -> RunRecord:
        rows = db.rows(f"{_SELECT} WHERE run_id = ?", (run_id,))
        if not rows:
            raise NotFoundError(f"no run {run_id!r} in the job history (`bifrost jobs history` lists them)")
        return _record(rows[0])

    def get(self, run_id: str) -> RunRecord:
        """Return one run; raise `NotFoundError` if the history has none of that id."""
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInputError(f"a run id is text such as 20261201T181500Z-1a2b3c, got {run_id!r}")
        with self._read() as db:
            return self._get(db, run_id)

    def by_key(self, idempotency_key: str) -> RunRecord | None:
        """Return the latest attempt of the run requested with ``idempotency_key``, or None."""
        with self._read() as db:
            found = db.rows("SELECT run_id FROM {t}job_runs WHERE idempotency_key = ?", (idempotency_key,))
            return self._latest_attempt(db, str(found[0][0])) if found else None

    def list(
        self,
        job: str | None = None,
        *,
        limit: int = 50,
        parent_run_id: str | None = None,
        statuses: Sequence[RunStatus] | None = None,
    ) -> list[RunRecord]:
        """Return runs newest first: of ``job`` (None: all), children of ``parent_run_id``, in ``statuses``."""
        where, params = [], []
        if job is not None:
            where.append("job = ?")
            params.append(job)
        if parent_run_id is not None:
            where.append("parent_run_id = ?")
            params.append(parent_run_id)
        if statuses:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params += [str(RunStatus(s)) for s in statuses]
        sql = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY queued DESC, run_id DESC"
        with self._read() as db:
            rows = db.rows(f"{sql} LIMIT ?", (*params, limit))
        return [_record(r) for r in rows]

    def marker(self) -> str:
        """Return a short text that changes whenever a run row is added or changes (not on heartbeats)."""
        with self._read() as db:
            count, revision = db.rows("SELECT count(*), coalesce(max(revision), 0) FROM {t}job_runs")[0]
        return f"{int(count)}:{int(revision)}"

    # -- the lease -------------------------------------------------------------------
    def acquire_lease(
        self, name: str, holder: str, *, ttl_s: float, now: pd.Timestamp | None = None
    ) -> tuple[bool, Lease]:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl_s``.

        Returns (True, the lease) when ``holder`` now holds it: it was free, expired, or
        already ``holder``'s (renewed); (False, the current holder's lease) otherwise.
        """
        now = _now() if now is None else _ts(now)
        assert now is not None
        expires = now + pd.Timedelta(seconds=float(ttl_s))
        with self._store.transaction(schema=JOBS_SCHEMA, lock=f"jobs:lease:{name}") as db:
            current = self._lease(db, name)
            if current is not None and current.holder != holder and current.expires > now:
                return False, current
            pid, host = os.getpid(), socket.gethostname()
            if current is None:
                db.run(
                    "INSERT INTO {t}job_leases (name, holder, pid, host, acquired, expires) VALUES (?, ?, ?, ?, ?, ?)",
                    (name, holder, pid, host, _iso(now), _iso(expires)),
                )
            else:
                acquired = current.acquired if current.holder == holder else now
                db.run(
                    "UPDATE {t}job_leases SET holder = ?, pid = ?, host = ?, acquired = ?, expires = ? WHERE name = ?",
                    (holder, pid, host, _iso(acquired), _iso(expires), name),
                )
            lease = self._lease(db, name)
            assert lease is not None
            return True, lease

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease ``name`` back if ``holder`` holds it; return whether it did."""
        with self._store.transaction(schema=JOBS_SCHEMA, lock=f"jobs:lease:{name}") as db:
            current = self._lease(db, name)
            if current is None or current.holder != holder:
                return False
            db.run("DELETE FROM {t}job_leases WHERE name = ? AND holder = ?", (name, holder))
            return True

    def lease(self, name: str) -> Lease | None:
        """Return the lease ``name`` (expired or not), or None if nobody has taken it."""
        with self._read() as db:
            return self._lease(db, name)

    @staticmethod
    def _lease(db: StateDb, name: str) -> Lease | None:
        rows = db.rows("SELECT name, holder, pid, host, acquired, expires FROM {t}job_leases WHERE name = ?", (name,))
        if not rows:
            return None
        n, holder, pid, host, acquired, expires = rows[0]
        return Lease(name=n, holder=holder, pid=pid, host=host, acquired=_ts(acquired), expires=_ts(expires))  # type: ignore[arg-type]


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is dead
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _runner_gone(run: RunRecord, now: pd.Timestamp, abandon_after_s: float) -> bool:
    if run.host == socket.gethostname() and run.pid is not None and not _pid_alive(run.pid):
        return True
    if run.status is RunStatus.RUNNING and run.heartbeat is not None:
        return (now - run.heartbeat).total_seconds() > abandon_after_s
    return False


def _lost_message(run: RunRecord, now: pd.Timestamp) -> str:
    if run.host == socket.gethostname() and run.pid is not None and not _pid_alive(run.pid):
        return f"the runner (pid {run.pid} on {run.host}) is gone; the run was abandoned"
    silent = 0.0 if run.heartbeat is None else (now - run.heartbeat).total_seconds()
    return f"the runner (pid {run.pid} on {run.host}) sent no heartbeat for {silent:.0f} s; the run was abandoned"


def _kill_kernel(run: RunRecord) -> None:
    # the kernel of an abandoned run, if it outlived its runner here (it is its own session
    # leader, so its group goes with it); only a process that is a kernel, never a reused pid
    pid = run.kernel_pid
    if pid is None or run.host != socket.gethostname() or not _pid_alive(pid):
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"ipykernel" not in f.read():
                return
        os.killpg(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        return


def _audit_run(db: StateDb, run: RunRecord, event: str) -> None:
    # the run's `job.run` record in the audit trail, in the transaction that changed it
    facts = run.to_dict()
    keep = ("job", "status", "attempt", "parameters", "parent_run_id", "retry_of", "idempotency_key", "queued",
            "started", "ended", "duration_s", "error", "host", "pid", "version")  # fmt: skip
    append_audit(db, "job.run", run.run_id, finite_or_none({"event": event, **{k: facts[k] for k in keep}}))


def job_history(store: Store, job: str | None = None, *, limit: int = 50) -> list[RunRecord]:
    """Return the runs of ``job`` (None: every job), newest first, at most ``limit``.

    Runs whose runner is gone are marked ``abandoned`` first, so that no run shows
    ``running`` forever.

    Raises
    ------
    InvalidInputError
        If ``limit`` is not a positive integer.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
        raise InvalidInputError(f"limit must be an integer in 1..100000, got {limit!r}")
    history = store.part(JobHistory)
    history.reap()
    return history.list(job, limit=limit)


def get_run(store: Store, run_id: str) -> RunRecord:
    """Return the run ``run_id`` (after marking runs whose runner is gone ``abandoned``).

    Raises
    ------
    NotFoundError
        If the history has no such run.
    """
    history = store.part(JobHistory)
    history.reap()
    return history.get(run_id)


def runs_marker(store: Store) -> str:
    """Return a short text that changes whenever a run is recorded or changes state (cheap: one query)."""
    return store.part(JobHistory).marker()
