"""The run history on every backend: rows, idempotency, abandoned runs, the change marker, leases."""

from __future__ import annotations

import socket
import subprocess

import pandas as pd
import pytest

from bifrost.data import BarStore
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.jobs import (
    JOBS_SCHEMA,
    JobHistory,
    RunStatus,
    get_run,
    job_history,
    new_run_id,
    runs_marker,
)
from tests.conftest import embedded_and_postgres


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _set(store: BarStore, run_id: str, **columns: object) -> None:
    # what another (now dead) runner left in the row
    assignments = ", ".join(f"{name} = ?" for name in columns)
    with store.transaction(schema=JOBS_SCHEMA, lock="jobs:runs") as db:
        db.run(f"UPDATE {{t}}job_runs SET {assignments} WHERE run_id = ?", (*columns.values(), run_id))


@embedded_and_postgres
def test_history_run_lifecycle_recorded_newest_first(store: BarStore) -> None:
    history = store.part(JobHistory)
    first, created = history.create(run_id=new_run_id(), job="ingest", parameters={"n": 3}, version="0.1.0")
    assert created and first.status is RunStatus.QUEUED and first.attempt == 1
    history.start(first.run_id, kernel_pid=None)
    done = history.finish(
        first.run_id, RunStatus.FAILED, error_cell=4, error_name="ValidationError", error_message="line 12: high < low",
        result={"rows": 252},
    )  # fmt: skip
    second, _ = history.create(run_id=new_run_id(), job="hang", parameters={}, version="0.1.0")
    assert done.status is RunStatus.FAILED and done.error == "cell 4: ValidationError: line 12: high < low"
    assert done.started is not None and done.ended is not None and done.duration_s is not None
    assert done.duration_s == pytest.approx((done.ended - done.started).total_seconds(), abs=1e-3)
    assert dict(done.result) == {"rows": 252} and dict(done.parameters) == {"n": 3}
    runs = job_history(store)
    assert [r.run_id for r in runs] == [second.run_id, first.run_id]
    assert [r.run_id for r in job_history(store, "ingest")] == [first.run_id]
    shown = get_run(store, first.run_id).to_dict()
    assert shown["status"] == "failed" and shown["error"].startswith("cell 4: ValidationError")
    assert {"run_id", "job", "status", "notebook", "html", "error", "started", "ended"} <= set(shown)


@embedded_and_postgres
def test_history_idempotency_key_returns_the_first_run(store: BarStore) -> None:
    history = store.part(JobHistory)
    request = {"job": "a", "parameters": {}, "version": "v", "idempotency_key": "k1"}
    first, created = history.create(run_id=new_run_id(), **request)  # type: ignore[arg-type]
    again, created_again = history.create(run_id=new_run_id(), **request)  # type: ignore[arg-type]
    assert created and not created_again and again.run_id == first.run_id
    retry, _ = history.create(
        run_id=new_run_id(), job="a", parameters={}, version="v", attempt=2, retry_of=first.run_id
    )
    assert history.by_key("k1") is not None and history.by_key("k1").run_id == retry.run_id  # the latest attempt
    assert len(history.list("a")) == 2


@embedded_and_postgres
def test_history_dead_runner_marked_abandoned(store: BarStore) -> None:
    history = store.part(JobHistory)
    run, _ = history.create(run_id=new_run_id(), job="a", parameters={}, version="v")
    history.start(run.run_id)
    _set(store, run.run_id, pid=_dead_pid())
    [shown] = job_history(store, "a")
    assert shown.status is RunStatus.ABANDONED and shown.ended is not None
    assert "is gone; the run was abandoned" in (shown.error or "")


@embedded_and_postgres
def test_history_silent_runner_elsewhere_marked_abandoned(store: BarStore) -> None:
    history = store.part(JobHistory)
    live, _ = history.create(run_id=new_run_id(), job="a", parameters={}, version="v")
    silent, _ = history.create(run_id=new_run_id(), job="a", parameters={}, version="v")
    for run in (live, silent):
        history.start(run.run_id)
        _set(store, run.run_id, host="elsewhere")  # its pid cannot be checked from here
    old = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=60)).isoformat()
    _set(store, silent.run_id, heartbeat=old)
    statuses = {r.run_id: r.status for r in job_history(store)}
    assert statuses == {live.run_id: RunStatus.RUNNING, silent.run_id: RunStatus.ABANDONED}
    assert "sent no heartbeat for 60 s" in (history.get(silent.run_id).error or "")
    assert socket.gethostname() != "elsewhere"


@embedded_and_postgres
def test_history_marker_changes_with_rows_not_heartbeats(store: BarStore) -> None:
    history = store.part(JobHistory)
    empty = runs_marker(store)
    run, _ = history.create(run_id=new_run_id(), job="a", parameters={}, version="v")
    created = runs_marker(store)
    history.start(run.run_id)
    started = runs_marker(store)
    history.beat(run.run_id, kernel_pid=12345)
    assert runs_marker(store) == started and history.get(run.run_id).kernel_pid == 12345
    history.finish(run.run_id, RunStatus.SUCCEEDED)
    assert len({empty, created, started, runs_marker(store)}) == 4


@embedded_and_postgres
def test_history_cancel_forget_key_lets_the_request_run_again(store: BarStore) -> None:
    history = store.part(JobHistory)
    run, _ = history.create(run_id=new_run_id(), job="a", parameters={}, version="v", idempotency_key="due:1")
    canceled = history.cancel(run.run_id, "the scheduler stopped", forget_key=True)
    assert canceled.status is RunStatus.CANCELED and canceled.error == "the scheduler stopped"
    again, created = history.create(run_id=new_run_id(), job="a", parameters={}, version="v", idempotency_key="due:1")
    assert created and again.run_id != run.run_id


@embedded_and_postgres
def test_history_lease_one_holder_until_expiry(store: BarStore) -> None:
    history = store.part(JobHistory)
    t0 = pd.Timestamp("2026-12-01 18:00", tz="UTC")
    ok, lease = history.acquire_lease("scheduler", "s1", ttl_s=30, now=t0)
    assert ok and lease.holder == "s1" and lease.expires == t0 + pd.Timedelta(seconds=30)
    refused, held = history.acquire_lease("scheduler", "s2", ttl_s=30, now=t0 + pd.Timedelta(seconds=10))
    assert not refused and held.holder == "s1"
    renewed, lease = history.acquire_lease("scheduler", "s1", ttl_s=30, now=t0 + pd.Timedelta(seconds=20))
    assert renewed and lease.acquired == t0 and lease.expires == t0 + pd.Timedelta(seconds=50)
    taken, lease = history.acquire_lease("scheduler", "s2", ttl_s=30, now=t0 + pd.Timedelta(seconds=51))
    assert taken and lease.holder == "s2"
    assert not history.release_lease("scheduler", "s1") and history.release_lease("scheduler", "s2")
    assert history.lease("scheduler") is None


@embedded_and_postgres
def test_history_unknown_run_and_bad_arguments_refused(store: BarStore) -> None:
    with pytest.raises(NotFoundError, match=r"no run 'nope'"):
        get_run(store, "nope")
    with pytest.raises(InvalidInputError, match=r"limit must be an integer"):
        job_history(store, limit=0)
    with pytest.raises(InvalidInputError, match=r"terminal status"):
        store.part(JobHistory).finish("x", RunStatus.RUNNING)


@embedded_and_postgres
def test_history_release_key_only_for_a_run_that_never_started(store: BarStore) -> None:
    history = store.part(JobHistory)
    queued, _ = history.create(run_id=new_run_id(), job="a", parameters={}, version="v", idempotency_key="due:2")
    _set(store, queued.run_id, pid=_dead_pid())  # its scheduler was killed while it waited
    [abandoned] = job_history(store, "a")
    assert abandoned.status is RunStatus.ABANDONED and abandoned.started is None
    assert history.release_key(abandoned.run_id).idempotency_key is None
    ran, _ = history.create(run_id=new_run_id(), job="a", parameters={}, version="v", idempotency_key="due:3")
    history.start(ran.run_id)
    history.finish(ran.run_id, RunStatus.SUCCEEDED)
    with pytest.raises(InvalidInputError, match=r"is succeeded and started: only a run that never started"):
        history.release_key(ran.run_id)
    again, created = history.create(run_id=new_run_id(), job="a", parameters={}, version="v", idempotency_key="due:2")
    assert created and again.run_id != abandoned.run_id
