"""The scheduler on an injected clock: due runs, DST, missed runs, the lock, one run at a time, stopping.

The runner is a function of the test (the Scheduler's ``runner`` parameter) that records its
calls and returns run records; the lease, the schedule's memory and the canceled runs are
real rows in a real store (embedded, and PostgreSQL where the lock is concerned).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pytest

from bifrost.data import BarStore, EmbeddedStore
from bifrost.data._postgres import PostgresStore
from bifrost.errors import InvalidInputError
from bifrost.jobs._history import JobHistory, RunRecord, RunStatus, job_history
from bifrost.jobs._scheduler import (
    MAX_CATCH_UP,
    ScheduledRun,
    ScheduleOutcome,
    Scheduler,
    SchedulerLockedError,
    due_times,
)
from bifrost.jobs._spec import JobSpec

NY = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Runner:
    """The scheduler's runner parameter: records each call, returns a succeeded run, may act meanwhile."""

    def __init__(self, clock: Clock, *, takes: timedelta = timedelta(minutes=2), during: Any = None) -> None:
        self.clock = clock
        self.takes = takes
        self.during = during
        self.calls: list[tuple[str, str, datetime]] = []

    def __call__(self, store: BarStore, job: str, parameters: object, **options: Any) -> RunRecord:
        # what run_job does with the scheduler's queued run, without a kernel: start it, end it
        assert parameters is None and set(options) == {"jobs", "queued_run_id"}
        history = store.part(JobHistory)
        queued = history.start(options["queued_run_id"])
        started = self.clock()
        self.calls.append((job, str(queued.idempotency_key), started))
        if self.during is not None:
            self.during(job)
        self.clock.now += self.takes
        return history.finish(queued.run_id, RunStatus.SUCCEEDED)

    @property
    def jobs(self) -> list[str]:
        return [job for job, _, _ in self.calls]


def spec(tmp_path: Path, name: str = "daily_ingest", schedule: str | None = "30 6 * * 1-5", **kw: Any) -> JobSpec:
    return JobSpec(name=name, notebook=tmp_path / f"{name}.ipynb", schedule=schedule, timezone=kw.pop("tz", NY), **kw)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BarStore]:
    s = EmbeddedStore(tmp_path / "home")
    yield s
    s.close()


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BarStore]:
    s: BarStore
    if request.param == "embedded":
        s = EmbeddedStore(tmp_path / "home")
    else:
        url, schema = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
        s = PostgresStore(url, home=tmp_path / "home", schema=schema, timescale=False)
    yield s
    s.close()


def scheduler(store: BarStore, jobs: list[JobSpec], clock: Clock, runner: Runner, **kw: Any) -> Scheduler:
    return Scheduler(store, {j.name: j for j in jobs}, clock=clock, runner=runner, **kw)


# -- due times --------------------------------------------------------------------------------


def test_due_times_new_york_0630_runs_at_1130_utc_in_winter_and_1030_utc_in_summer(tmp_path: Path) -> None:
    job = spec(tmp_path)
    winter = due_times(job, utc(2026, 1, 5), utc(2026, 1, 7))  # Monday 5 January, EST (UTC-5)
    summer = due_times(job, utc(2026, 7, 6), utc(2026, 7, 8))  # Monday 6 July, EDT (UTC-4)
    assert winter == [utc(2026, 1, 5, 11, 30), utc(2026, 1, 6, 11, 30)]
    assert summer == [utc(2026, 7, 6, 10, 30), utc(2026, 7, 7, 10, 30)]


def test_due_times_across_spring_forward_moves_from_1130_to_1030_utc_and_skips_the_weekend(tmp_path: Path) -> None:
    # clocks go forward on Sunday 8 March 2026 at 02:00 in New York
    assert due_times(spec(tmp_path), utc(2026, 3, 6), utc(2026, 3, 10)) == [
        utc(2026, 3, 6, 11, 30),
        utc(2026, 3, 9, 10, 30),
    ]


def test_due_times_repeated_hour_when_clocks_go_back_runs_once(tmp_path: Path) -> None:
    # 01:30 happens twice on Sunday 1 November 2026 (EDT 05:30 UTC, then EST 06:30 UTC): one run
    job = spec(tmp_path, schedule="30 1 * * *")
    assert due_times(job, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12)) == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 2, 6, 30),
    ]
    # starting between the two 01:30s: the second is not a new due time
    assert due_times(job, utc(2026, 11, 1, 6), utc(2026, 11, 1, 12)) == []


def test_due_times_every_half_hour_when_clocks_go_back_runs_in_both_passes_of_the_hour(tmp_path: Path) -> None:
    job = spec(tmp_path, schedule="*/30 * * * *")  # 01:00 and 01:30 happen twice on 1 November 2026 in New York
    assert due_times(job, utc(2026, 11, 1, 4, 59), utc(2026, 11, 1, 7, 0)) == [
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 6, 0),  # 01:00 EST
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
    ]


def test_due_times_missing_hour_when_clocks_go_forward_runs_at_0300(tmp_path: Path) -> None:
    job = spec(tmp_path, schedule="30 2 * * *")  # 02:30 does not exist on 8 March 2026 in New York
    assert due_times(job, utc(2026, 3, 7, 12), utc(2026, 3, 8, 12)) == [utc(2026, 3, 8, 7, 0)]  # 03:00 EDT


# -- due runs ---------------------------------------------------------------------------------


def test_scheduler_tick_runs_a_job_at_its_due_time_once(store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 0))  # Monday 06:00 in New York
    runner = Runner(clock)
    s = scheduler(store, [spec(tmp_path)], clock, runner)
    assert s.tick() == ()
    clock.now = utc(2026, 1, 5, 11, 29, 59)
    assert s.tick() == ()
    clock.now = utc(2026, 1, 5, 11, 30)
    (run,) = s.tick()
    assert (run.job, run.due, run.missed, run.outcome) == ("daily_ingest", utc(2026, 1, 5, 11, 30), False, "ran")
    assert runner.calls[0][1] == "schedule:daily_ingest:2026-01-05T11:30:00Z"
    assert run.run is not None and run.run.status is RunStatus.SUCCEEDED
    clock.now = utc(2026, 1, 5, 15, 0)
    assert s.tick() == ()  # nothing more that day
    assert s.next_due() == utc(2026, 1, 6, 11, 30)
    s.stop()


def test_scheduler_summer_runs_the_0630_job_at_1030_utc(store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 7, 6, 10, 0))
    runner = Runner(clock)
    s = scheduler(store, [spec(tmp_path)], clock, runner)
    s.tick()
    clock.now = utc(2026, 7, 6, 10, 29)
    assert s.tick() == ()
    clock.now = utc(2026, 7, 6, 10, 31)
    assert [r.due for r in s.tick()] == [utc(2026, 7, 6, 10, 30)]
    s.stop()


def test_scheduler_jobs_due_together_run_in_due_order_one_after_another(store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 0))
    runner = Runner(clock, takes=timedelta(minutes=20))
    jobs = [
        spec(tmp_path, "risk_report", "45 6 * * 1-5"),
        spec(tmp_path, "daily_ingest"),
        spec(tmp_path, "on_demand", None),  # no schedule: never run by the scheduler
    ]
    s = scheduler(store, jobs, clock, runner)
    s.tick()
    clock.now = utc(2026, 1, 5, 12, 0)
    assert [(r.job, r.due) for r in s.tick()] == [
        ("daily_ingest", utc(2026, 1, 5, 11, 30)),
        ("risk_report", utc(2026, 1, 5, 11, 45)),
    ]
    assert [t for _, _, t in runner.calls] == [utc(2026, 1, 5, 12, 0), utc(2026, 1, 5, 12, 20)]
    s.stop()


# -- missed while down ----------------------------------------------------------------------------


def _down_three_days(store: BarStore, tmp_path: Path, missed: str) -> tuple[Runner, Scheduler, Clock]:
    clock = Clock(utc(2026, 1, 5, 11, 0))  # Monday
    runner = Runner(clock)
    first = scheduler(store, [spec(tmp_path)], clock, runner)
    first.tick()
    clock.now = utc(2026, 1, 5, 11, 31)
    assert len(first.tick()) == 1  # Monday's run
    first.stop()
    clock.now = utc(2026, 1, 8, 12, 0)  # Thursday noon: Tuesday's, Wednesday's and Thursday's runs were missed
    return runner, scheduler(store, [spec(tmp_path)], clock, runner, missed=missed), clock


def test_scheduler_down_three_days_runs_the_job_once_on_start(any_store: BarStore, tmp_path: Path) -> None:
    runner, second, clock = _down_three_days(any_store, tmp_path, "once")
    (run,) = second.tick()
    assert (run.due, run.missed, run.outcome) == (utc(2026, 1, 8, 11, 30), True, ScheduleOutcome.RAN)
    assert runner.jobs == ["daily_ingest", "daily_ingest"]  # Monday's, then one for the three missed days
    clock.now = utc(2026, 1, 8, 23, 0)
    assert second.tick() == ()
    clock.now = utc(2026, 1, 9, 11, 30)  # Friday on time
    assert [(r.due, r.missed) for r in second.tick()] == [(utc(2026, 1, 9, 11, 30), False)]
    second.stop()


def test_scheduler_down_three_days_with_skip_waits_for_the_next_due_time(store: BarStore, tmp_path: Path) -> None:
    runner, second, clock = _down_three_days(store, tmp_path, "skip")
    assert second.tick() == ()
    assert second.tick() == ()
    clock.now = utc(2026, 1, 9, 11, 30)
    assert [r.due for r in second.tick()] == [utc(2026, 1, 9, 11, 30)]
    assert len(runner.calls) == 2
    second.stop()


def test_scheduler_down_three_days_with_all_runs_each_missed_due_time_in_order(store: BarStore, tmp_path: Path) -> None:
    runner, second, _ = _down_three_days(store, tmp_path, "all")
    assert [(r.due, r.missed) for r in second.tick()] == [
        (utc(2026, 1, 6, 11, 30), True),
        (utc(2026, 1, 7, 11, 30), True),
        (utc(2026, 1, 8, 11, 30), True),
    ]
    assert len({key for _, key, _ in runner.calls}) == 4  # one idempotency key per due time
    assert second.tick() == ()
    second.stop()


def test_scheduler_missed_all_is_capped_at_max_catch_up(store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 0))
    runner = Runner(clock, takes=timedelta(0))
    minutely = spec(tmp_path, "tick", "* * * * *", tz="UTC")
    first = scheduler(store, [minutely], clock, runner)
    first.start()
    first.stop()
    clock.advance(hours=5, seconds=30)  # 300 minutes missed
    second = scheduler(store, [minutely], clock, runner, missed="all")
    runs = second.tick()
    assert len(runs) == MAX_CATCH_UP and all(r.missed for r in runs)
    assert (runs[0].due, runs[-1].due) == (utc(2026, 1, 5, 14, 21), utc(2026, 1, 5, 16, 0))  # the latest 100
    second.stop()


def test_scheduler_a_job_never_seen_has_missed_nothing(store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 8, 12, 0))  # long after Thursday 06:30 in New York
    runner = Runner(clock)
    s = scheduler(store, [spec(tmp_path)], clock, runner)
    assert s.tick() == ()
    assert s.next_due() == utc(2026, 1, 9, 11, 30)
    s.stop()


def _stopped_while_the_first_ran(store: BarStore, tmp_path: Path) -> tuple[list[JobSpec], Clock]:
    clock = Clock(utc(2026, 1, 5, 11, 0))
    stop = threading.Event()
    runner = Runner(clock, during=lambda job: stop.set())  # Ctrl-C while the first job runs
    jobs = [spec(tmp_path), spec(tmp_path, "risk_report", "30 6 * * 1-5")]
    s = scheduler(store, jobs, clock, runner)
    s.start()
    clock.now = utc(2026, 1, 5, 11, 30)
    s._stop = stop  # what run_forever does with its stop event
    first, second = s.tick()
    assert (first.job, first.outcome) == ("daily_ingest", ScheduleOutcome.RAN)
    assert (second.job, second.outcome) == ("risk_report", ScheduleOutcome.CANCELED)
    s.stop()
    return jobs, clock


def test_scheduler_stopped_before_a_due_job_started_records_it_canceled(store: BarStore, tmp_path: Path) -> None:
    _stopped_while_the_first_ran(store, tmp_path)
    (canceled,) = job_history(store, "risk_report")
    assert canceled.status is RunStatus.CANCELED and canceled.started is None
    assert canceled.error_message is not None and "scheduler stopped before it started" in canceled.error_message
    assert [r.status for r in job_history(store, "daily_ingest")] == [RunStatus.SUCCEEDED]


def test_scheduler_canceled_due_time_runs_once_at_the_next_start(store: BarStore, tmp_path: Path) -> None:
    jobs, clock = _stopped_while_the_first_ran(store, tmp_path)
    clock.advance(hours=1)
    again = scheduler(store, jobs, clock, Runner(clock))
    assert [(r.job, r.missed, r.outcome) for r in again.tick()] == [("risk_report", True, ScheduleOutcome.RAN)]
    again.stop()


def test_scheduler_interrupted_by_a_second_ctrl_c_cancels_what_waits_and_releases_the_lease(
    store: BarStore, tmp_path: Path
) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 29))

    def interrupt(job: str) -> None:
        raise KeyboardInterrupt  # the second Ctrl-C, inside the first job

    runner = Runner(clock, during=interrupt)
    jobs = [spec(tmp_path), spec(tmp_path, "risk_report")]
    s = scheduler(store, jobs, clock, runner, poll_s=60, sleep=lambda seconds, stop: clock.advance(seconds=seconds))
    with pytest.raises(KeyboardInterrupt):
        s.run_forever(threading.Event())
    (waiting,) = job_history(store, "risk_report")
    assert waiting.status is RunStatus.CANCELED and "interrupted" in str(waiting.error_message)
    assert store.part(JobHistory).lease("scheduler") is None


def test_scheduler_due_time_a_killed_scheduler_requested_is_not_run_again(store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 0))
    runner = Runner(clock)
    first = scheduler(store, [spec(tmp_path)], clock, runner)
    first.start()
    first.stop()
    # a scheduler that queued Monday's run and was killed before it remembered doing so
    history = store.part(JobHistory)
    killed, _ = history.create(
        run_id="killed", job="daily_ingest", parameters={}, version="t", idempotency_key=schedule_key_for_monday()
    )
    history.start(killed.run_id)
    history.finish(killed.run_id, RunStatus.ABANDONED)
    clock.now = utc(2026, 1, 5, 11, 30)
    second = scheduler(store, [spec(tmp_path)], clock, runner)
    (run,) = second.tick()
    assert (run.outcome, run.run and run.run.run_id) == (ScheduleOutcome.ALREADY_RUN, "killed")
    assert runner.calls == [] and second.tick() == ()
    second.stop()


def test_scheduler_due_time_a_killed_scheduler_only_queued_runs_once_at_the_next_start(
    store: BarStore, tmp_path: Path
) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 0))
    runner = Runner(clock)
    first = scheduler(store, [spec(tmp_path)], clock, runner)
    first.start()
    first.stop()
    # a scheduler that queued Monday's run and was killed while another job ran: reaped before it started
    history = store.part(JobHistory)
    queued, _ = history.create(
        run_id="queued", job="daily_ingest", parameters={}, version="t", idempotency_key=schedule_key_for_monday()
    )
    history.finish(queued.run_id, RunStatus.ABANDONED)
    clock.now = utc(2026, 1, 5, 12, 0)
    second = scheduler(store, [spec(tmp_path)], clock, runner)
    (run,) = second.tick()
    assert run.outcome is ScheduleOutcome.RAN and run.run is not None and run.run.run_id != "queued"
    assert runner.calls[0][1] == schedule_key_for_monday()
    assert history.get("queued").idempotency_key is None
    second.stop()


def schedule_key_for_monday() -> str:
    return "schedule:daily_ingest:2026-01-05T11:30:00Z"


# -- the lock ---------------------------------------------------------------------------------------


def test_scheduler_second_on_the_same_store_refuses_naming_the_holder(any_store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 0))
    first = scheduler(any_store, [spec(tmp_path)], clock, Runner(clock), poll_s=10, lease_s=60)
    first.start()
    second = scheduler(any_store, [spec(tmp_path)], clock, Runner(clock), poll_s=10, lease_s=60)
    with pytest.raises(
        SchedulerLockedError, match=f"another scheduler holds the lock \\({first.holder}, pid {os.getpid()}"
    ):
        second.start()
    clock.advance(seconds=59)
    first.tick()  # renewed: good for another 60 s
    clock.advance(seconds=59)
    with pytest.raises(SchedulerLockedError):
        second.tick()
    first.stop()
    second.start()  # released: taken at once
    assert second.started == clock()
    second.stop()


def test_scheduler_expired_lease_is_taken_over_and_the_old_holder_stops(any_store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 0))
    first = scheduler(any_store, [spec(tmp_path)], clock, Runner(clock), poll_s=10, lease_s=60)
    first.start()
    clock.advance(seconds=61)  # the first stalled past its lease
    second = scheduler(any_store, [spec(tmp_path)], clock, Runner(clock), poll_s=10, lease_s=60)
    second.start()
    lease = any_store.part(JobHistory).lease("scheduler")
    assert lease is not None and lease.holder == second.holder
    with pytest.raises(SchedulerLockedError, match=f"lost its lock to {second.holder}"):
        first.tick()
    first.stop()  # releases nothing of the second's
    lease = any_store.part(JobHistory).lease("scheduler")
    assert lease is not None and lease.holder == second.holder
    second.stop()


def test_scheduler_lease_of_a_killed_scheduler_on_this_host_is_taken_over_before_expiry(
    store: BarStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    script = (
        "import os, signal\n"
        "from bifrost.data import EmbeddedStore\n"
        "from bifrost.jobs._scheduler import Scheduler\n"
        f"s = Scheduler(EmbeddedStore({str(home)!r}), {{}}, runner=lambda *a, **k: None, lease_s=3600)\n"
        "s.start()\n"
        "print(s.holder, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    lease = store.part(JobHistory).lease("scheduler")
    assert lease is not None and lease.holder == done.stdout.strip()  # held for an hour more
    clock = Clock(datetime.now(UTC))
    s = scheduler(store, [spec(tmp_path)], clock, Runner(clock))
    s.start()
    lease = store.part(JobHistory).lease("scheduler")
    assert lease is not None and lease.holder == s.holder
    s.stop()


# -- one run at a time ------------------------------------------------------------------------------


def test_scheduler_due_times_passed_while_a_job_overran_collapse_into_one_run(store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 5, 10, 30))
    runner = Runner(clock, takes=timedelta(hours=3, minutes=10))  # an hourly job that takes over three hours
    hourly = spec(tmp_path, "hourly", "0 * * * *", tz="UTC")
    s = scheduler(store, [hourly], clock, runner)
    s.tick()
    clock.now = utc(2026, 1, 5, 11, 0)
    assert [r.due for r in s.tick()] == [utc(2026, 1, 5, 11, 0)]
    # 12:00, 13:00 and 14:00 passed while it ran: one run after it, never three
    assert [(r.due, r.missed) for r in s.tick()] == [(utc(2026, 1, 5, 14, 0), False)]
    assert len(runner.calls) == 2 and runner.calls[1][2] == utc(2026, 1, 5, 14, 10)
    s.stop()


def test_scheduler_job_running_in_another_process_is_not_started_again(store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 0))
    runner = Runner(clock)
    s = scheduler(store, [spec(tmp_path)], clock, runner)
    s.tick()
    history = store.part(JobHistory)
    other, _ = history.create(run_id="by-hand", job="daily_ingest", parameters={}, version="test")
    history.start(other.run_id)  # `bifrost jobs run daily_ingest` in another terminal (this pid: alive)
    clock.now = utc(2026, 1, 5, 11, 30)
    (deferred,) = s.tick()
    assert (deferred.outcome, deferred.run and deferred.run.run_id) == (ScheduleOutcome.DEFERRED, "by-hand")
    assert runner.calls == []
    history.finish(other.run_id, RunStatus.SUCCEEDED)
    clock.advance(minutes=1)
    (run,) = s.tick()
    assert (run.outcome, run.due) == (ScheduleOutcome.RAN, utc(2026, 1, 5, 11, 30))
    assert s.tick() == ()
    s.stop()


def test_scheduler_job_started_elsewhere_while_it_waited_is_deferred_then_run_once(
    store: BarStore, tmp_path: Path
) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 0))
    history = store.part(JobHistory)

    def by_hand(job: str) -> None:  # while daily_ingest runs, someone runs risk_report by hand
        other, _ = history.create(run_id="by-hand", job="risk_report", parameters={}, version="test")
        history.start(other.run_id)

    runner = Runner(clock, during=by_hand)
    jobs = [spec(tmp_path), spec(tmp_path, "risk_report")]
    s = scheduler(store, jobs, clock, runner)
    s.start()
    clock.now = utc(2026, 1, 5, 11, 30)
    first, second = s.tick()
    assert (first.job, first.outcome) == ("daily_ingest", ScheduleOutcome.RAN)
    assert (second.job, second.outcome, second.run and second.run.run_id) == (
        "risk_report",
        ScheduleOutcome.DEFERRED,
        "by-hand",
    )
    runner.during = None
    assert [r.outcome for r in s.tick()] == [ScheduleOutcome.DEFERRED]  # still running by hand
    history.finish("by-hand", RunStatus.SUCCEEDED)
    (run,) = s.tick()
    assert (run.job, run.due, run.outcome) == ("risk_report", utc(2026, 1, 5, 11, 30), ScheduleOutcome.RAN)
    assert runner.jobs == ["daily_ingest", "risk_report"] and s.tick() == ()
    s.stop()


# -- run_forever and Ctrl-C --------------------------------------------------------------------------


def test_scheduler_run_forever_runs_a_week_on_the_injected_sleep_and_releases_the_lease(
    store: BarStore, tmp_path: Path
) -> None:
    clock = Clock(utc(2026, 1, 4, 12, 0))  # Sunday
    runner = Runner(clock)
    waits: list[float] = []
    stop = threading.Event()

    def sleep(seconds: float, event: threading.Event) -> None:
        assert event is stop
        waits.append(seconds)
        clock.advance(seconds=seconds)
        if clock() >= utc(2026, 1, 11, 12, 0):
            stop.set()

    s = scheduler(store, [spec(tmp_path)], clock, runner, poll_s=3600, sleep=sleep)
    runs = s.run_forever(stop)
    assert [r.due for r in runs] == [utc(2026, 1, d, 11, 30) for d in range(5, 10)]  # Monday to Friday
    assert max(waits) <= 3600
    assert store.part(JobHistory).lease("scheduler") is None


def test_scheduler_serve_ctrl_c_during_a_run_stops_after_it(store: BarStore, tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 5, 11, 29))
    before = signal.getsignal(signal.SIGINT)
    runner = Runner(clock, during=lambda job: os.kill(os.getpid(), signal.SIGINT))
    jobs = [spec(tmp_path), spec(tmp_path, "risk_report")]

    def sleep(seconds: float, event: threading.Event) -> None:
        clock.advance(seconds=seconds)

    runs = scheduler(store, jobs, clock, runner, poll_s=60, sleep=sleep).serve()
    assert [(r.job, r.outcome) for r in runs] == [("daily_ingest", "ran"), ("risk_report", "canceled")]
    assert runner.jobs == ["daily_ingest"]  # it finished; the other never started
    assert signal.getsignal(signal.SIGINT) is before
    assert store.part(JobHistory).lease("scheduler") is None


# -- bad options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"missed": "catch_up"}, "missed must be one of once, skip, all, got 'catch_up'"),
        ({"poll_s": 0}, "poll_s must be"),
        ({"poll_s": 10, "lease_s": 5}, r"lease_s must be more than poll_s \(10 s\)"),
    ],
)
def test_scheduler_bad_option_raises_invalid_input(
    store: BarStore, tmp_path: Path, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        Scheduler(store, {"j": spec(tmp_path, "j")}, runner=Runner(Clock(utc(2026, 1, 5))), **options)


def test_scheduler_naive_clock_raises_invalid_input(store: BarStore, tmp_path: Path) -> None:
    s = Scheduler(store, {}, clock=lambda: datetime(2026, 1, 5), runner=Runner(Clock(utc(2026, 1, 5))))
    with pytest.raises(InvalidInputError, match="the scheduler's clock must be a timezone-aware datetime"):
        s.start()


def test_scheduled_run_key_names_the_job_and_the_utc_due_time() -> None:
    run = ScheduledRun(job="daily", due=utc(2026, 1, 5, 11, 30), missed=False, outcome=ScheduleOutcome.RAN)
    assert run.idempotency_key == "schedule:daily:2026-01-05T11:30:00Z"


# -- the real runner ----------------------------------------------------------------------------------


def test_scheduler_with_run_job_runs_a_due_notebook_and_records_it_under_its_key(
    store: BarStore, tmp_path: Path
) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("run_id = None\nn = 10", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("total = sum(range(n))\nprint('total', total)"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)
    tiny = JobSpec(
        name="tiny", notebook=path, schedule="*/5 * * * *", timezone="UTC", timeout_s=120, parameters={"n": 7}
    )
    clock = Clock(utc(2026, 1, 5, 11, 3))
    s = Scheduler(store, {"tiny": tiny}, clock=clock)
    assert s.tick() == ()
    clock.now = utc(2026, 1, 5, 11, 5, 1)
    (run,) = s.tick()
    s.stop()
    assert run.outcome is ScheduleOutcome.RAN and run.run is not None
    assert run.run.status is RunStatus.SUCCEEDED, run.run.error
    (recorded,) = job_history(store, "tiny")
    assert (recorded.run_id, recorded.idempotency_key) == (run.run.run_id, "schedule:tiny:2026-01-05T11:05:00Z")
    assert recorded.notebook is not None and "total 21" in recorded.notebook.read_text()  # sum(range(7))
