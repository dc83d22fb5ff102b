"""The papermill runner on real kernels: a hung cell, a dead kernel with retries, a chain that stops.

Each run starts a kernel (a few seconds): the job notebooks are tiny and the tests few.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import nbformat
import pytest

from bifrost.data import EmbeddedStore
from bifrost.errors import InvalidInputError
from bifrost.jobs import JobHistory, JobSpec, RunStatus, job_history, record_result, run_chain, run_job
from tests.conftest import ORCL
from tests.jobs.conftest import kernels_of


def test_run_job_hung_cell_past_timeout_is_timed_out(embedded: EmbeddedStore, jobs: dict[str, JobSpec]) -> None:
    record = run_job(embedded, "hang", jobs=jobs)
    assert record.status is RunStatus.TIMED_OUT and record.error_cell == 3  # markdown, import, parameters, sleep
    assert record.error == "cell 3: TimeoutError: the run passed its timeout of 3 s; the kernel was killed"
    assert record.duration_s is not None and record.duration_s >= 3
    executed = nbformat.read(str(record.notebook), as_version=4)
    assert executed.cells[-1].source.startswith("time.sleep(seconds)")  # the notebook is kept, as far as it ran
    assert record.html is not None and record.html.is_file()
    assert kernels_of(os.getpid()) == []


def test_run_job_dead_kernel_retried_with_backoff_then_kernel_died(
    embedded: EmbeddedStore, jobs: dict[str, JobSpec]
) -> None:
    waits: list[float] = []
    record = run_job(embedded, "die", jobs=jobs, sleep=waits.append)
    attempts = job_history(embedded, "die")
    assert waits == [7.0]  # retry_backoff_s * 2**0 after attempt 1
    assert [(r.attempt, r.status) for r in attempts] == [(2, RunStatus.KERNEL_DIED), (1, RunStatus.KERNEL_DIED)]
    assert record.run_id == attempts[0].run_id and attempts[0].retry_of == attempts[1].run_id
    assert record.error == "cell 3: DeadKernelError: the kernel died while running cell 3"
    assert kernels_of(os.getpid()) == []


def test_run_chain_failed_step_cancels_the_rest(embedded: EmbeddedStore, jobs: dict[str, JobSpec]) -> None:
    jobs = {**jobs, "die": dataclasses.replace(jobs["die"], retries=0)}
    parent = embedded.part(JobHistory).create(run_id="20261201T000000Z-aaaaaa", job="chain", parameters={}, version="v")
    records = run_chain(
        embedded, ["ingest", "die", "hang"], parent_run_id=parent[0].run_id, jobs=jobs,
        parameters={"ingest": {"path": str(ORCL), "start": "2014-12-01"}},
    )  # fmt: skip
    assert [(r.job, r.status) for r in records] == [
        ("ingest", RunStatus.SUCCEEDED), ("die", RunStatus.KERNEL_DIED), ("hang", RunStatus.CANCELED),
    ]  # fmt: skip
    assert all(r.parent_run_id == parent[0].run_id for r in records)
    assert records[2].error == "not started: step die ended kernel_died" and records[2].started is None
    ingest = records[0]
    # ORCL's file: lines 5016-5037 are 2014-12-01 .. 2014-12-31 (22 rows), line 5016's close 42.080002
    assert dict(ingest.result) == {"rows": 22, "first_close": 42.080002, "run_id": ingest.run_id, "scale": 1.0}
    assert (ingest.notebook.parent / "first.txt").read_text() == "42.080002\n"  # output_dir was the run's folder
    html = ingest.html.read_text()
    assert 'src="http' not in html and 'import("http' not in html and '<link href="http' not in html
    assert ingest.notebook.parent == embedded.home / "runs" / "ingest" / ingest.run_id


def test_run_chain_bad_step_parameter_refused_before_any_run(embedded: EmbeddedStore, jobs: dict[str, JobSpec]) -> None:
    with pytest.raises(InvalidInputError, match=r"job 'die': parameter 'code': expected an integer"):
        run_chain(embedded, ["ingest", "die"], parent_run_id=None, jobs=jobs, parameters={"die": {"code": "x"}})
    assert job_history(embedded) == []


def test_record_result_writes_the_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    monkeypatch.setenv("BIFROST_RUN_DIR", str(tmp_path))
    record_result({"sharpe": np.float64(1.25), "n": np.int64(3)})
    assert record_result({"var_99": float("nan"), "symbols": ("A", "B")}) == {"var_99": None, "symbols": ["A", "B"]}
    assert json.loads((tmp_path / "result.json").read_text()) == {
        "sharpe": 1.25, "n": 3, "var_99": None, "symbols": ["A", "B"],
    }  # fmt: skip
    with pytest.raises(InvalidInputError, match=r"record_result: 'f' is a builtin_function_or_method; record numbers"):
        record_result({"f": len})


@pytest.mark.postgres
def test_run_job_on_postgres_kernel_writes_the_same_store(
    pg_url: str, pg_schema: str, jobs_env: Path, jobs: dict[str, JobSpec]
) -> None:
    from bifrost.data._postgres import PostgresStore

    with PostgresStore(pg_url, home=jobs_env, schema=pg_schema, timescale=False) as store:
        record = run_job(store, "ingest", {"path": str(ORCL), "start": "2014-12-01"}, jobs=jobs)
        assert record.status is RunStatus.SUCCEEDED, record.error
        # the kernel ingested into this schema: ORCL's 5036 data lines (5037 lines, one header)
        assert len(store.read_bars("ORCL")) == 5036
        assert [r.run_id for r in job_history(store)] == [record.run_id] and record.result["rows"] == 22
        assert record.notebook is not None and record.notebook.parent == jobs_env / "runs" / "ingest" / record.run_id


def test_outcome_error_output_without_exception_is_failed(tmp_path: Path, jobs: dict[str, JobSpec]) -> None:
    # what an engine that swallowed the exception leaves: the notebook itself says the run failed
    from bifrost.jobs._runner import _Kernel, _outcome

    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"exception": False}
    injected = nbformat.v4.new_code_cell("n = 1")
    injected.metadata["tags"] = ["injected-parameters"]
    broken = nbformat.v4.new_code_cell("1 / 0")
    broken.outputs = [
        nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])
    ]
    expected = nbformat.v4.new_code_cell("assert False")
    expected.metadata["tags"] = ["raises-exception"]
    expected.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
    nb.cells = [nbformat.v4.new_code_cell("import os"), injected, expected, broken]
    path = tmp_path / "done.ipynb"
    nbformat.write(nb, str(path))
    status, cell, name, message = _outcome(path, None, _Kernel(), jobs["ingest"])
    assert (status, cell, name, message) == (RunStatus.FAILED, 2, "ZeroDivisionError", "division by zero")
    nb.cells = nb.cells[:3]
    nbformat.write(nb, str(path))
    assert _outcome(path, None, _Kernel(), jobs["ingest"])[0] is RunStatus.SUCCEEDED  # raises-exception may
    nb.metadata["papermill"] = {"exception": True}
    nbformat.write(nb, str(path))
    assert _outcome(path, None, _Kernel(), jobs["ingest"])[0] is RunStatus.FAILED
