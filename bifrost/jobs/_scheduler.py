"""The scheduler: run each job at the times of its cron schedule, one scheduler per store.

Policy (what the README states, and the tests hold):

- **Due times.** A job's due times are its cron expression (croniter) read in the job's
  time zone (zoneinfo), so a ``30 6 * * 1-5`` job in ``America/New_York`` runs at 11:30 UTC
  in winter and 10:30 UTC in summer. On the night clocks go forward, a time that does not
  exist runs at the first minute that does (02:30 runs at 03:00); on the night they go back,
  a job at fixed hours runs once at a time that happens twice (the first time), while a job
  whose hour field is ``*`` (``*/15 * * * *``) runs in both passes of that hour.
- **One scheduler per store.** A scheduler holds the lease ``scheduler`` in the store's
  ``job_leases`` table (its holder id, pid, host, expiry) and renews it on every pass and
  before every run (for as long as that run may last: its timeouts, retries and back-off). A
  second scheduler on the store refuses to start with `SchedulerLockedError`, naming the
  holder. A lease past its expiry is taken over; so is the lease of a holder on this host
  whose process has died (a killed scheduler), without waiting for the expiry.
- **One run of a job at a time.** Each pass records every due run ``queued`` in the run
  history, then runs them one after another in the scheduler's process, oldest due time
  first. A due time that passes while the scheduler is busy (running this job or another)
  is *queued*, never dropped: the job runs as soon as the scheduler is free, and several due
  times of one job that passed meanwhile run as **one** run. A job with a run still
  ``queued`` or ``running`` elsewhere (``bifrost jobs run`` in another terminal) is not
  started; its due time waits for that run to end, then runs once.
- **Missed while down.** The store remembers the last due time the scheduler handled for
  each job. On start, a job whose due times passed while no scheduler ran is run **once**
  (``missed="once"``, the default: three days down is one run, never a catch-up storm), or
  not at all (``"skip"``: it waits for its next due time), or once per missed due time, in
  order, at most `MAX_CATCH_UP` of the latest (``"all"``). A job no scheduler of this store
  has seen before has missed nothing: it first runs at its next due time (run it now with
  ``bifrost jobs run NAME``).
- **Each due time runs once.** A scheduled run carries the idempotency key
  ``schedule:<job>:<due time UTC>``, and the due time is marked handled before the run
  starts, so a scheduler killed mid-run, restarted or taken over never runs that due time
  again (the killed run shows ``abandoned`` in the history). A run it had queued but not
  started (``canceled``, or ``abandoned`` while queued) gives its key back: that due time
  counts as missed.
- **Stopping.** `Scheduler.serve` turns Ctrl-C (SIGINT) and SIGTERM into a stop: the
  running job finishes (its kernel runs in its own session, so the terminal's Ctrl-C does
  not reach it), the jobs still waiting in that pass are recorded ``canceled`` (their due
  times count as missed at the next start), and the lease is released. A second Ctrl-C
  interrupts the running job.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum, auto
from types import FrameType
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

import pandas as pd
from croniter import croniter

import bifrost
from bifrost.data import Migration, Schema, Store, register_schema
from bifrost.errors import InvalidInputError, SchedulerLockedError, StoreError
from bifrost.jobs._history import JOBS_SCHEMA, JobHistory, RunRecord, RunStatus, _pid_alive, job_history
from bifrost.jobs._runner import new_run_id, run_job
from bifrost.jobs._spec import JobSpec

__all__ = [
    "KEEP_RUNS",
    "LEASE_NAME",
    "MAX_CATCH_UP",
    "SCHEDULER_SCHEMA",
    "MissedPolicy",
    "ScheduleOutcome",
    "ScheduledRun",
    "Scheduler",
    "SchedulerLockedError",
    "due_times",
]

log = logging.getLogger("bifrost.jobs.scheduler")

MissedPolicy = Literal["once", "skip", "all"]
"""What a starting scheduler does with due times that passed while none ran (module docstring)."""

LEASE_NAME: Final = "scheduler"
MAX_CATCH_UP: Final = 100  # missed="all" runs at most this many of the latest missed due times
KEEP_RUNS: Final = 1000  # run_forever returns at most this many of the latest ScheduledRuns
_RUN_MARGIN_S: Final = 120.0  # per attempt, past its timeout: kernel start, the HTML export, the history
_ACTIVE: Final = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
_NEVER_STARTED: Final = frozenset({RunStatus.CANCELED, RunStatus.ABANDONED})

# The scheduler's memory: the last due time it handled per job, so that a restart knows
# what it missed. The lease itself lives in the jobs schema's job_leases table.
SCHEDULER_SCHEMA = register_schema(
    Schema(
        "scheduler",
        (
            Migration(
                1,
                """
                CREATE TABLE {t}job_schedule (
                    job TEXT PRIMARY KEY, due {timestamp} NOT NULL, run_id TEXT, outcome TEXT NOT NULL,
                    updated {timestamp} NOT NULL
                )
                """,
            ),
        ),
        requires=(JOBS_SCHEMA,),
    )
)


class ScheduleOutcome(StrEnum):
    """What a scheduler pass did with one due job."""

    RAN = auto()  # the runner ran it: see the run's own status
    DEFERRED = auto()  # a run of the job is queued or running elsewhere: tried again next pass
    CANCELED = auto()  # the scheduler stopped before it started: recorded canceled
    ALREADY_RUN = auto()  # its due time's run already started (a killed scheduler's): not run again
    ERROR = auto()  # the runner refused the run or failed before it started: the message in `error`


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledRun:
    """One due job of one scheduler pass and what became of it.

    ``due`` is the due time (UTC; the latest when several collapsed into one), ``missed``
    says it passed while no scheduler ran. ``run`` is the runner's record (``ran``), the
    canceled row (``canceled``), the run in the way (``deferred``), the earlier request of
    that due time (``already_run``), None on ``error`` (the message in ``error``).
    """

    job: str
    due: datetime
    missed: bool
    outcome: ScheduleOutcome
    run: RunRecord | None = None
    error: str | None = None

    @property
    def idempotency_key(self) -> str:
        """The key the run was requested with: ``schedule:<job>:<due UTC>``."""
        return schedule_key(self.job, self.due)


def schedule_key(job: str, due: datetime) -> str:
    # one key per job and due time: a retried or restarted scheduler never starts it twice
    return f"schedule:{job}:{due.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _zone(spec: JobSpec) -> ZoneInfo:
    return ZoneInfo(spec.timezone)


def _utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _from_db(value: object) -> datetime:
    # SQLite gives back the ISO text written; PostgreSQL a timestamptz as a datetime
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def due_times(spec: JobSpec, after: datetime, until: datetime, *, limit: int | None = None) -> list[datetime]:
    """Return the job's due times in ``(after, until]``, oldest first, in UTC.

    Parameters
    ----------
    spec
        The job; its ``schedule`` (cron) is read in its ``timezone``.
    after, until
        Timezone-aware bounds: ``after`` excluded, ``until`` included.
    limit
        Keep at most this many of the latest (None: all of them).

    Returns
    -------
    list of datetime
        UTC due times. When clocks go back, a job at fixed hours runs once at a wall time
        that happens twice (the first time), a job whose hour field is ``*`` in both; when
        they go forward, a time that does not exist runs at croniter's next existing minute.
    """
    start, end = _utc(after, "after"), _utc(until, "until")
    if spec.schedule is None or end <= start:
        return []
    zone = _zone(spec)
    fixed_hours = not spec.schedule.split()[1].startswith("*")
    it = croniter(spec.schedule, start.astimezone(zone))
    found: deque[datetime] = deque(maxlen=limit)
    while True:
        t: datetime = it.get_next(datetime)
        at = t.astimezone(UTC)
        if at > end:
            break
        if at > start and not (fixed_hours and _repeat(at, zone)):
            found.append(at)
    return list(found)


def _repeat(at: datetime, zone: ZoneInfo) -> bool:
    # the second time of a wall time that happens twice (the hour clocks go back)
    wall = at.astimezone(zone).replace(tzinfo=None)
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset() and at == second.astimezone(UTC)


def _latest_due(spec: JobSpec, until: datetime) -> datetime | None:
    # the latest due time at or before ``until``; croniter's get_prev may step over the first
    # of a repeated wall time, so the times after its answer are counted forward again
    if spec.schedule is None:
        return None
    zone = _zone(spec)
    prev: datetime = croniter(spec.schedule, until.astimezone(zone) + timedelta(microseconds=1)).get_prev(datetime)
    guess = prev.astimezone(UTC)
    # a repeated hour's first time is one hour before its second: two hours back finds it
    found = due_times(spec, guess - timedelta(hours=2), until, limit=1)
    return found[-1] if found else guess


def _max_run_s(spec: JobSpec, jobs: Mapping[str, JobSpec]) -> float:
    # the longest a run of ``spec`` may take: every attempt to its timeout, the back-offs between
    chained = sum((_max_run_s(jobs[s], jobs) for s in spec.steps if s in jobs and s != spec.name), 0.0)
    attempts = 1 + spec.retries
    backoff = sum((spec.backoff_s(k) for k in range(1, attempts)), 0.0)
    return chained + attempts * (float(spec.timeout_s) + _RUN_MARGIN_S) + backoff


Runner = Callable[..., RunRecord]


class Scheduler:
    """Run the jobs of ``jobs`` at their cron times against ``store``: one scheduler per store.

    The policy (due times in each job's time zone, the lease, one run at a time, missed runs,
    stopping) is stated in this module's docstring and the README.

    Parameters
    ----------
    store
        The store the runs are recorded in; it also holds the lease and the schedule's memory.
    jobs
        The jobs by name (`load_jobs`); a job without a schedule is never run by the scheduler.
    clock
        Returns the time now, timezone-aware (UTC by default); tests inject their own.
    runner
        Runs one job: called as ``runner(store, name, None, jobs=jobs, idempotency_key=key)``
        and returns its `RunRecord` (`run_job` by default).
    missed
        What to do on start with due times that passed while no scheduler ran: ``"once"``
        (run each such job once), ``"skip"`` (wait for the next due time), ``"all"`` (run
        each missed due time, at most `MAX_CATCH_UP`).
    poll_s
        The longest wait between two passes of `run_forever`, in seconds (it wakes earlier
        for a due time).
    lease_s
        How long the lease outlives each renewal when no job runs, in seconds; more than
        ``poll_s``. Default: four polls, at least a minute.
    sleep
        ``sleep(seconds, stop)`` waits between passes and returns early when ``stop`` is set
        (default: ``stop.wait(seconds)``); tests inject one that moves their clock.

    Raises
    ------
    InvalidInputError
        If an option is out of range or a job names a step that is not in ``jobs``.
    """

    def __init__(
        self,
        store: Store,
        jobs: Mapping[str, JobSpec],
        *,
        clock: Callable[[], datetime] = _utc_now,
        runner: Runner = run_job,
        missed: MissedPolicy = "once",
        poll_s: float = 30.0,
        lease_s: float | None = None,
        sleep: Callable[[float, threading.Event], object] | None = None,
    ) -> None:
        if missed not in get_args(MissedPolicy):
            raise InvalidInputError(f"missed must be one of {', '.join(get_args(MissedPolicy))}, got {missed!r}")
        if not isinstance(poll_s, int | float) or not 0.0 < float(poll_s) < 86_400.0:
            raise InvalidInputError(f"poll_s must be a number of seconds in (0, 86400), got {poll_s!r}")
        lease = max(4.0 * float(poll_s), 60.0) if lease_s is None else lease_s
        if not isinstance(lease, int | float) or not float(lease) > float(poll_s):
            raise InvalidInputError(f"lease_s must be more than poll_s ({poll_s} s), got {lease_s!r}")
        if not callable(clock) or not callable(runner):
            raise InvalidInputError("clock and runner must be callables")
        for name, spec in jobs.items():
            for step in spec.steps:
                if step not in jobs:
                    raise InvalidInputError(f"job {name!r}: step {step!r} is not a job in the jobs given")
        self._store = store
        self._jobs: dict[str, JobSpec] = dict(jobs)
        self._clock = clock
        self._runner = runner
        self._missed: MissedPolicy = missed
        self._poll_s = float(poll_s)
        self._lease_s = float(lease)
        self._sleep = sleep
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._started: datetime | None = None
        self._stop: threading.Event | None = None
        self._queued: set[str] = set()  # the runs this pass queued and has not started yet

    # -- the public passes ----------------------------------------------------------------
    @property
    def started(self) -> datetime | None:
        """When this scheduler took the lease (UTC), None before `start`."""
        return self._started

    def start(self) -> None:
        """Take the store's scheduler lease and remember the jobs it has not seen yet.

        Raises
        ------
        SchedulerLockedError
            If another live scheduler holds the lease.
        """
        if self._started is not None:
            return
        now = self._now()
        self._take_lease(now, now + timedelta(seconds=self._lease_s))
        self._started = now
        first: list[tuple[str, datetime]] = []
        with self._store.transaction(schema=SCHEDULER_SCHEMA, lock="jobs:scheduler") as db:
            known = {str(r[0]) for r in db.rows("SELECT job FROM {t}job_schedule")}
            for name, spec in sorted(self._jobs.items()):
                if name in known or spec.schedule is None:
                    continue
                # never seen: its past due times were not missed by a scheduler; anchor just before now
                latest = _latest_due(spec, now - timedelta(microseconds=1))
                if latest is not None:
                    first.append((name, latest))
            db.many(
                "INSERT INTO {t}job_schedule (job, due, run_id, outcome, updated) VALUES (?, ?, NULL, 'first seen', ?)",
                [(name, due.isoformat(), now.isoformat()) for name, due in first],
            )
        log.info(
            "scheduler %s started: %d job(s) scheduled, missed runs: %s",
            self.holder,
            sum(1 for s in self._jobs.values() if s.schedule is not None),
            self._missed,
        )

    def stop(self) -> None:
        """Release the lease (if held); a later `start` takes it again."""
        if self._started is None:
            return
        self._started = None
        self._store.part(JobHistory).release_lease(LEASE_NAME, self.holder)
        log.info("scheduler %s stopped: lease released", self.holder)

    def pending(self, now: datetime | None = None) -> list[tuple[str, datetime, bool]]:
        """Return the due runs a pass at ``now`` would start: ``(job, due UTC, missed)``, in order.

        Missed due times follow the policy (one per job, none, or each); due times that came
        while the scheduler ran collapse into one. Reads the store; starts nothing.
        """
        return self._plan(self._now() if now is None else _utc(now, "now"))[0]

    def _plan(self, at: datetime) -> tuple[list[tuple[str, datetime, bool]], list[tuple[str, datetime]]]:
        # (the runs due at ``at``, the latest missed due time of each job the "skip" policy passes over)
        if self._started is None:
            raise InvalidInputError("the scheduler is not started: call start() (or tick/run_forever) first")
        anchors = self._anchors()
        found: list[tuple[str, datetime, bool]] = []
        skipped: list[tuple[str, datetime]] = []
        for name, spec in self._jobs.items():
            anchor = anchors.get(name)
            if anchor is None or spec.schedule is None:
                continue
            latest = _latest_due(spec, at)
            if latest is None or latest <= anchor:
                continue
            if self._missed == "all":
                before = min(latest, self._started - timedelta(microseconds=1))
                found.extend((name, t, True) for t in due_times(spec, anchor, before, limit=MAX_CATCH_UP))
            if latest >= self._started:  # due while the scheduler ran: one run for all that passed since
                found.append((name, latest, False))
            elif self._missed == "once":
                found.append((name, latest, True))
            elif self._missed == "skip":
                skipped.append((name, latest))
        found.sort(key=lambda x: (x[1], x[0]))
        return found, skipped

    def tick(self, now: datetime | None = None) -> tuple[ScheduledRun, ...]:
        """Do one pass at ``now`` (default: the clock): renew the lease, run what is due, in order.

        Returns
        -------
        tuple of ScheduledRun
            One per due run the pass met: ran, deferred (a run of the job
            is active elsewhere), canceled (the scheduler was asked to stop first),
            already_run (a scheduler before this one requested that due time) or error.

        Raises
        ------
        SchedulerLockedError
            If another scheduler holds the lease (or took it over from this one).
        """
        if self._started is None:
            self.start()
        at = self._now() if now is None else _utc(now, "now")
        self._renew(self._lease_s)
        due_runs, skipped = self._plan(at)
        for name, due in skipped:
            log.info("job %s: due %s passed while no scheduler ran; skipped (missed='skip')", name, due.isoformat())
            self._mark(name, due, None, "skipped")
        done: list[ScheduledRun] = []
        queued: list[tuple[str, datetime, bool, RunRecord]] = []
        for name, due, missed in due_runs:  # every due run is queued first: the history shows what waits
            waiting = self._queue(name, due, missed)
            if isinstance(waiting, ScheduledRun):
                done.append(waiting)
            else:
                queued.append((name, due, missed, waiting))
        try:
            for name, due, missed, record in queued:
                if self._stop is not None and self._stop.is_set():
                    done.append(self._cancel(name, due, missed, record))
                else:
                    done.append(self._run_one(name, due, missed, record))
        finally:  # interrupted (a second Ctrl-C): what never started is canceled, never left queued
            self._cancel_left(queued)
        self._renew(self._lease_s)
        return tuple(done)

    def next_due(self, now: datetime | None = None) -> datetime | None:
        """Return the earliest due time after ``now`` of any scheduled job (UTC), or None."""
        at = self._now() if now is None else _utc(now, "now")
        nexts = []
        for spec in self._jobs.values():
            if spec.schedule is None:
                continue
            t: datetime = croniter(spec.schedule, at.astimezone(_zone(spec))).get_next(datetime)
            nexts.append(t.astimezone(UTC))
        return min(nexts, default=None)

    def run_forever(self, stop: threading.Event) -> tuple[ScheduledRun, ...]:
        """Pass after pass until ``stop`` is set; then release the lease. Return the passes' runs.

        ``stop`` is checked between jobs: the running job finishes, the jobs still waiting in
        its pass are recorded ``canceled``. A KeyboardInterrupt (no handler: see `serve`)
        interrupts the running job; the lease is released all the same. A pass that fails
        on the store (`StoreError`: unreachable, locked past the timeout) is logged and the
        next pass tries again. Returns the latest `KEEP_RUNS` `ScheduledRun` s.

        Raises
        ------
        SchedulerLockedError
            If another scheduler holds the lease (at start, or took it over).
        """
        self._stop = stop
        history: deque[ScheduledRun] = deque(maxlen=KEEP_RUNS)
        try:
            self.start()
            while not stop.is_set():
                try:
                    history.extend(self.tick())
                except SchedulerLockedError:
                    raise
                except StoreError as exc:  # the store unreachable or locked for a while: try again next pass
                    log.error("scheduler %s: a pass failed (%s); trying again in %g s", self.holder, exc, self._poll_s)
                if stop.is_set():
                    break
                now = self._now()
                upcoming = self.next_due(now)
                wait_s = self._poll_s
                if upcoming is not None:
                    wait_s = min(wait_s, max((upcoming - now).total_seconds(), 0.0) + 0.001)
                if self._sleep is None:
                    stop.wait(wait_s)
                else:
                    self._sleep(wait_s, stop)
        finally:
            self._stop = None
            self._release_quietly()
        return tuple(history)

    def serve(self) -> tuple[ScheduledRun, ...]:
        """Run `run_forever` in the foreground: Ctrl-C or SIGTERM stops after the running job.

        The first signal sets the stop (logged); a second Ctrl-C interrupts the running job
        (KeyboardInterrupt). The previous handlers are restored on return. Off the main
        thread no handler can be installed: it runs as `run_forever` with its own stop.
        """
        stop = threading.Event()
        if threading.current_thread() is not threading.main_thread():
            return self.run_forever(stop)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            if stop.is_set() and signum == signal.SIGINT:
                raise KeyboardInterrupt
            stop.set()
            log.warning(
                "scheduler %s: %s received, stopping after the running job (Ctrl-C again interrupts it)",
                self.holder,
                signal.Signals(signum).name,
            )

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self.run_forever(stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- one run ---------------------------------------------------------------------------
    def _queue(self, name: str, due: datetime, missed: bool) -> RunRecord | ScheduledRun:
        # a queued row for the due time, or what the pass did instead (deferred, already run)
        active = self._active_run(name)
        if active is not None:
            log.info("job %s due %s: run %s is %s, waiting for it", name, due.isoformat(), active.run_id, active.status)
            return ScheduledRun(job=name, due=due, missed=missed, outcome=ScheduleOutcome.DEFERRED, run=active)
        history = self._store.part(JobHistory)

        def request() -> tuple[RunRecord, bool]:
            return history.create(
                run_id=new_run_id(pd.Timestamp(self._now())),
                job=name,
                parameters=dict(self._jobs[name].parameters),
                version=bifrost.__version__,
                idempotency_key=schedule_key(name, due),
            )

        record, created = request()
        if not created and record.started is None and record.status in _NEVER_STARTED:
            # requested before but never started (a killed scheduler's queued run): queued afresh
            history.release_key(record.run_id)
            record, created = request()
        if created:
            self._queued.add(record.run_id)
        else:  # a scheduler before this one started this due time's run (and was killed)
            log.info("job %s due %s: already requested as run %s (%s)", name, due.isoformat(), record.run_id,
                     record.status)  # fmt: skip
            self._mark(name, due, record.run_id, f"already requested: {record.status}")
            return ScheduledRun(job=name, due=due, missed=missed, outcome=ScheduleOutcome.ALREADY_RUN, run=record)
        return record

    def _run_one(self, name: str, due: datetime, missed: bool, queued: RunRecord) -> ScheduledRun:
        spec = self._jobs[name]
        active = self._active_run(name)
        if active is not None:  # started elsewhere while this pass ran other jobs: try again next pass
            self._queued.discard(queued.run_id)
            self._store.part(JobHistory).cancel(
                queued.run_id, f"not started: run {active.run_id} of {name} is {active.status}", forget_key=True
            )
            return ScheduledRun(job=name, due=due, missed=missed, outcome=ScheduleOutcome.DEFERRED, run=active)
        # marked before the run: a scheduler killed mid-run never starts this due time again
        self._queued.discard(queued.run_id)
        self._mark(name, due, queued.run_id, "started")
        self._renew(self._lease_s + _max_run_s(spec, self._jobs))
        log.info("job %s due %s%s: starting run %s", name, due.isoformat(), " (missed while down)" if missed else "",
                 queued.run_id)  # fmt: skip
        try:
            record = self._runner(self._store, name, None, jobs=self._jobs, queued_run_id=queued.run_id)
        except Exception as exc:  # a refused or broken run must not stop the schedule of the others
            log.exception("job %s due %s: the runner failed before the run started", name, due.isoformat())
            self._mark(name, due, queued.run_id, f"error: {type(exc).__name__}")
            history = self._store.part(JobHistory)
            if history.get(queued.run_id).status is RunStatus.QUEUED:
                history.cancel(queued.run_id, f"not started: {type(exc).__name__}: {exc}")
            return ScheduledRun(
                job=name, due=due, missed=missed, outcome=ScheduleOutcome.ERROR, error=f"{type(exc).__name__}: {exc}"
            )
        self._mark(name, due, record.run_id, str(record.status))
        log.info("job %s due %s: run %s %s", name, due.isoformat(), record.run_id, record.status)
        return ScheduledRun(job=name, due=due, missed=missed, outcome=ScheduleOutcome.RAN, run=record)

    def _cancel(self, name: str, due: datetime, missed: bool, queued: RunRecord) -> ScheduledRun:
        reason = f"canceled: the scheduler stopped before it started (due {due.isoformat()})"
        self._queued.discard(queued.run_id)
        record = self._store.part(JobHistory).cancel(queued.run_id, reason, forget_key=True)
        log.info("job %s due %s: %s", name, due.isoformat(), reason)
        # not marked handled: the next scheduler counts this due time as missed
        return ScheduledRun(job=name, due=due, missed=missed, outcome=ScheduleOutcome.CANCELED, run=record)

    def _cancel_left(self, queued: list[tuple[str, datetime, bool, RunRecord]]) -> None:
        for _name, due, _missed, record in queued:
            if record.run_id in self._queued:
                self._queued.discard(record.run_id)
                reason = f"canceled: the scheduler was interrupted before it started (due {due.isoformat()})"
                self._store.part(JobHistory).cancel(record.run_id, reason, forget_key=True)

    def _active_run(self, name: str) -> RunRecord | None:
        # a queued or running run of the job but this pass's own queued ones (job_history
        # marks a stale running run abandoned before it answers)
        for record in job_history(self._store, name, limit=20):
            if record.status in _ACTIVE and record.run_id not in self._queued:
                return record
        return None

    # -- the store: schedule memory and lease --------------------------------------------------
    def _now(self) -> datetime:
        return _utc(self._clock(), "the scheduler's clock")

    def _anchors(self) -> dict[str, datetime]:
        with self._store.transaction(schema=SCHEDULER_SCHEMA, read_only=True) as db:
            return {str(job): _from_db(due) for job, due in db.rows("SELECT job, due FROM {t}job_schedule")}

    def _mark(self, name: str, due: datetime, run_id: str | None, outcome: str) -> None:
        now = self._now().isoformat()
        with self._store.transaction(schema=SCHEDULER_SCHEMA, lock="jobs:scheduler") as db:
            db.run("DELETE FROM {t}job_schedule WHERE job = ?", (name,))
            db.run(
                "INSERT INTO {t}job_schedule (job, due, run_id, outcome, updated) VALUES (?, ?, ?, ?, ?)",
                (name, due.isoformat(), run_id, outcome, now),
            )

    def _take_lease(self, now: datetime, expires: datetime) -> None:
        history = self._store.part(JobHistory)
        ttl_s = (expires - now).total_seconds()
        taken, lease = history.acquire_lease(LEASE_NAME, self.holder, ttl_s=ttl_s, now=pd.Timestamp(now))
        if taken:
            return
        dead = lease.host == socket.gethostname() and lease.pid is not None and not _pid_alive(int(lease.pid))
        if dead and history.release_lease(LEASE_NAME, lease.holder):
            log.warning(
                "scheduler %s: taking over the lock from %s (pid %s on %s): its process is gone",
                self.holder,
                lease.holder,
                lease.pid,
                lease.host,
            )
            taken, lease = history.acquire_lease(LEASE_NAME, self.holder, ttl_s=ttl_s, now=pd.Timestamp(now))
            if taken:
                return
        raise SchedulerLockedError(
            f"{self._store.describe().get('location', 'the store')}: another scheduler holds the lock "
            f"({lease.holder}, pid {lease.pid} on {lease.host}, until {lease.expires.isoformat()}); stop it first, "
            "or wait for its lease to expire if it was killed on another host"
        )

    def _renew(self, for_s: float) -> None:
        now = self._now()
        taken, lease = self._store.part(JobHistory).acquire_lease(
            LEASE_NAME, self.holder, ttl_s=for_s, now=pd.Timestamp(now)
        )
        if not taken:
            self._started = None
            raise SchedulerLockedError(
                f"scheduler {self.holder} lost its lock to {lease.holder} (pid {lease.pid} on {lease.host}): "
                "it stalled past its lease; it stops"
            )

    def _release_quietly(self) -> None:
        try:
            self.stop()
        except StoreError as exc:  # the lease expires by itself; say why it was left
            log.warning("scheduler %s: could not release its lock (%s); it expires by itself", self.holder, exc)
