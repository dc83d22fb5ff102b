"""``bifrost jobs`` as a user runs it: real processes, real kernels, the runner killed under a run."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bifrost.cli import main
from bifrost.data import EmbeddedStore
from bifrost.jobs import JobHistory, RunStatus, job_history
from tests.conftest import ORCL
from tests.jobs.conftest import kernels_of, kill_all

BIFROST = [sys.executable, "-m", "bifrost.cli"]


def _in_process(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_jobs_run_real_file_json_logs_and_key_run_once(jobs_env: Path) -> None:
    argv = ("jobs", "run", "ingest", "-p", f"path={ORCL}", "-p", "start=2014-12-01", "--key", "nightly-1", "--json")
    code, out, err = _in_process(*argv, "--log-format", "json")
    assert code == 0, err
    run = json.loads(out)
    assert run["status"] == "succeeded" and run["error"] is None and run["job"] == "ingest"
    assert Path(run["notebook"]).is_file() and Path(run["html"]).is_file()
    assert Path(run["notebook"]).parent == jobs_env / "runs" / "ingest" / run["run_id"]
    assert run["result"]["rows"] == 22  # ORCL's file: 2014-12-01 .. 2014-12-31 are lines 5016-5037
    logs = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert logs and all(entry["run_id"] == run["run_id"] and entry["job"] == "ingest" for entry in logs)
    assert any("succeeded" in entry["message"] for entry in logs)
    # each cell's end is one line (5 cells and papermill's injected one); the outputs are --verbose's
    assert [e["message"].split(" done")[0] for e in logs if " done in " in e["message"]][-1] == "cell 6/6"
    assert not any("ORCL" in e["message"] and "2014-12-01" in e["message"] for e in logs)
    code, out, _ = _in_process(*argv)
    assert code == 0 and json.loads(out)["run_id"] == run["run_id"]
    history = json.loads(_in_process("jobs", "history", "--json")[1])
    assert [r["run_id"] for r in history] == [run["run_id"]]  # one run for the one key
    assert {"started", "ended", "notebook", "html", "error", "status"} <= set(history[0])


def test_jobs_run_broken_row_fails_with_the_validation_message(
    jobs_env: Path, broken_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(broken_csv.parent)  # a relative path is the caller's file
    code, out, _ = _in_process("jobs", "run", "ingest", "-p", f"path={broken_csv.name}", "--json", "-q")
    assert code == 1
    run = json.loads(out)
    assert run["status"] == "failed" and run["error_cell"] == 3 and run["error_name"] == "ValidationError"
    # the 10th data line (line 11 of the file) got a high below its low
    assert "cell 3: ValidationError: orcl-broken.csv: 2 problem(s), nothing was stored" in run["error"]
    assert "orcl-broken.csv:11: ORCL 1995-01-16 high: high" in run["error"] and "is below low" in run["error"]
    code, shown, _ = _in_process("jobs", "show", run["run_id"])
    assert code == 0 and f"run {run['run_id']} of ingest: failed" in shown and "ValidationError" in shown
    [recorded] = json.loads(_in_process("jobs", "history", "ingest", "--json")[1])
    assert recorded["status"] == "failed" and recorded["error"] == run["error"]
    executed = json.loads(Path(run["notebook"]).read_text())
    outputs = [o for cell in executed["cells"] for o in cell.get("outputs", []) if o["output_type"] == "error"]
    assert [o["ename"] for o in outputs] == ["ValidationError"]  # the notebook shows the failure


def test_jobs_run_bad_parameters_refused_before_any_run(embedded: EmbeddedStore) -> None:
    cases = [
        (["-p", "limit=ten"], "job 'ingest': parameter 'limit': expected an integer (digits), got 'ten'"),
        (["-p", "start=2014-13-45"], "job 'ingest': parameter 'start': expected a date such as 2014-06-02"),
        (["-p", "colour=red"], "job 'ingest': parameter 'colour' is not declared by ingest.ipynb"),
        (["-p", "run_id=x"], "job 'ingest': parameter 'run_id' is filled by the runner"),
        (["-p", "novalue"], "--param takes NAME=VALUE"),
    ]
    for extra, message in cases:
        code, out, err = _in_process("jobs", "run", "ingest", "-p", f"path={ORCL}", *extra)
        assert (code, out) == (2, "") and err.startswith("bifrost: error: ") and message in err, err
        assert err.count("\n") == 1
    code, _, err = _in_process("jobs", "run", "nosuch")
    assert code == 2 and "no job 'nosuch'; known jobs: ingest, hang, die, chain, sleep" in err
    assert job_history(embedded) == [] and kernels_of(os.getpid()) == []


def test_jobs_run_value_the_config_refuses_exit_2_before_any_run(
    jobs_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BIFROST_JOBS_DIR")  # the checkout's papermill_jobs/
    code, out, err = _in_process("jobs", "run", "daily_ingest", "-p", "n_days=1", "--json")
    assert (code, out) == (2, "")
    assert err == "bifrost: error: daily_ingest: n_days must be an integer from 2 to 100,000 trading days, got 1\n"
    assert not jobs_env.exists()  # nothing recorded: not even a store was created


def test_jobs_list_json_names_notebook_and_schedule(jobs_env: Path) -> None:
    code, out, _ = _in_process("jobs", "list", "--json")
    listed = {j["name"]: j for j in json.loads(out)}
    assert code == 0 and list(listed) == ["ingest", "hang", "die", "chain", "sleep"]
    assert listed["ingest"]["schedule"] == "30 6 * * 1-5" and listed["ingest"]["timezone"] == "America/New_York"
    assert listed["ingest"]["notebook"].endswith("tests/jobs/notebooks/ingest.ipynb")


def test_jobs_runner_killed_run_shown_abandoned_and_no_kernel_left(jobs_env: Path) -> None:
    runner = subprocess.Popen(
        [*BIFROST, "jobs", "run", "sleep", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    kernel_pid = None
    try:
        deadline = time.monotonic() + 120
        while kernel_pid is None and time.monotonic() < deadline and runner.poll() is None:
            time.sleep(0.3)
            if (jobs_env / "state.sqlite").is_file():
                with EmbeddedStore(jobs_env) as store:
                    running = store.part(JobHistory).list("sleep")
                if running and running[0].status is RunStatus.RUNNING and running[0].kernel_pid:
                    kernel_pid = running[0].kernel_pid
        assert kernel_pid is not None, "the run never reached its kernel"
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
        with EmbeddedStore(jobs_env) as store:
            [run] = job_history(store, "sleep")
        assert run.status is RunStatus.ABANDONED and run.ended is not None
        assert f"the runner (pid {runner.pid}" in (run.error or "")
        assert run.notebook is not None and run.notebook.is_file()  # the partial notebook is kept and listed
        code, shown, _ = _in_process("jobs", "show", run.run_id)
        assert code == 0 and f"notebook   {run.notebook}" in shown
        deadline = time.monotonic() + 20
        while kernels_of(runner.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert kernels_of(runner.pid) == []
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        kill_all(kernels_of(runner.pid))


def test_jobs_run_sigterm_kills_the_kernel_and_records_canceled(jobs_env: Path) -> None:
    runner = subprocess.Popen(
        [*BIFROST, "jobs", "run", "sleep", "--json", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        kernel_pid = None
        while kernel_pid is None and time.monotonic() < deadline and runner.poll() is None:
            time.sleep(0.3)
            if (jobs_env / "state.sqlite").is_file():
                with EmbeddedStore(jobs_env) as store:
                    running = store.part(JobHistory).list("sleep")
                if running and running[0].status is RunStatus.RUNNING and running[0].kernel_pid:
                    kernel_pid = running[0].kernel_pid
        assert kernel_pid is not None, "the run never reached its kernel"
        runner.send_signal(signal.SIGTERM)
        out, err = runner.communicate(timeout=60)
        assert runner.returncode == 143
        run = json.loads(out)
        assert run["status"] == "canceled" and run["error"].endswith("RunInterrupted: stopped by SIGTERM")
        assert (
            err.strip().splitlines()[-1]
            == f"bifrost: run {run['run_id']} of sleep stopped by SIGTERM: recorded canceled"
        )
        assert kernels_of(runner.pid) == []
        with EmbeddedStore(jobs_env) as store:
            [recorded] = job_history(store, "sleep")
        assert recorded.status is RunStatus.CANCELED and recorded.notebook is not None
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        kill_all(kernels_of(runner.pid))


def test_jobs_run_key_of_another_request_refused(embedded: EmbeddedStore) -> None:
    from bifrost.jobs import new_run_id

    held = {"symbol": "ORCL", "path": str(ORCL)}
    first, _ = embedded.part(JobHistory).create(
        run_id=new_run_id(), job="ingest", parameters=held, version="v", idempotency_key="k1"
    )
    code, out, _ = _in_process("jobs", "run", "ingest", "-p", f"path={ORCL}", "--key", "k1", "--json")
    assert code == 0 and json.loads(out)["run_id"] == first.run_id  # the same request: its run, nothing started
    for argv in (["hang"], ["ingest", "-p", f"path={ORCL}", "-p", "limit=3"]):
        code, out, err = _in_process("jobs", "run", *argv, "--key", "k1")
        assert (code, out) == (2, "")
        assert f"idempotency key 'k1' already names run {first.run_id} of job 'ingest' with parameters" in err
    assert [r.run_id for r in job_history(embedded)] == [first.run_id] and kernels_of(os.getpid()) == []
