"""Job components in process: a run started from the page is recorded, listed with its links, viewable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bifrost.data import EmbeddedStore
from bifrost.jobs import job_history, load_jobs
from bifrost.ui import job_monitor, run_link
from tests.conftest import ORCL
from tests.jobs.conftest import NOTEBOOKS


@pytest.fixture
def jobs_home(ui_store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> EmbeddedStore:
    monkeypatch.setenv("BIFROST_HOME", str(ui_store.home))
    monkeypatch.setenv("BIFROST_JOBS_DIR", str(NOTEBOOKS))
    for name in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG", "BIFROST_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    return ui_store


def test_run_link_is_under_the_runs_route() -> None:
    path = Path("/x/home/runs/daily/0193abc/daily.html")
    assert run_link(path) == "/bifrost/runs/daily/0193abc/daily.html"
    assert run_link(None) is None


def test_job_monitor_run_now_records_a_run_the_table_lists_with_links(jobs_home: EmbeddedStore) -> None:
    page = job_monitor(jobs_home, load_jobs(NOTEBOOKS), watch=False)
    control, runs = page.components["control"], page.components["runs"]
    assert list(control.picker.options) == sorted(load_jobs(NOTEBOOKS))
    assert "no runs yet" in runs.html.value
    control.picker.value = "ingest"
    # tests/jobs/notebooks/jobs.toml: ingest is scheduled 30 6 * * 1-5 in New York with symbol=ORCL
    assert "schedule 30 6 * * 1-5 (America/New_York), timeout 120 s, retries 0; defaults: symbol=ORCL" in (
        control.info.value)  # fmt: skip
    control.parameters.value = f"path={ORCL} limit=3"
    control.button.click()
    assert control.thread is not None
    control.thread.join(300)
    assert control.error.message == ""
    (record,) = job_history(jobs_home)
    assert str(record.status) == "succeeded" and control.last.run_id == record.run_id
    assert f"data-key='{record.run_id}'" in runs.html.value  # redrawn when the run ended
    assert "<span class='bf-status-succeeded'>succeeded</span>" in runs.html.value
    # tests/jobs/notebooks/ingest.ipynb records rows and first_close: ORCL's 2014-01-02 close 37.84 (orcl-1995-2014.txt)
    assert record.result["first_close"] == 37.84
    assert "first_close=37.84" in runs.html.value
    assert f"href='/bifrost/runs/ingest/{record.run_id}/{Path(str(record.html)).name}'" in runs.html.value
    assert "ingest succeeded" in control.message.value
    viewer = page.components["viewer"]
    assert viewer.picker.value == record.run_id  # the newest run is shown at once
    (shown,) = viewer.output.outputs
    href = f"/bifrost/runs/ingest/{record.run_id}/{Path(str(record.html)).name}"
    assert shown["data"]["text/html"].startswith(f"<iframe class='bf-run-frame' src='{href}'")
    lab = job_monitor(jobs_home, load_jobs(NOTEBOOKS), link_base=None, watch=False)  # JupyterLab: no route
    (inline,) = lab.components["viewer"].output.outputs
    assert inline["data"]["text/html"].startswith("<iframe class='bf-run-frame' srcdoc='")
    assert "href=" not in lab.components["runs"].html.value


def test_job_monitor_without_jobs_says_so(jobs_home: EmbeddedStore) -> None:
    page = job_monitor(jobs_home, {}, watch=False)
    control = page.components["control"]
    assert list(control.picker.options) == []
    assert "no jobs declared" in control.info.value
    assert control.start() is None
    assert control.error.message == "no job chosen (papermill_jobs/jobs.toml declares none?)"


def test_job_monitor_bad_parameters_are_a_message(jobs_home: EmbeddedStore) -> None:
    page = job_monitor(jobs_home, load_jobs(NOTEBOOKS), watch=False)
    control = page.components["control"]
    control.picker.value = "ingest"
    control.parameters.value = "limit"
    assert control.start() is None
    assert control.error.message == "params: 'limit' is not name=value (e.g. n_symbols=5)"
    control.parameters.value = "colour=red"
    thread = control.start()
    assert thread is not None
    thread.join(120)
    assert "colour" in control.error.message
    assert job_history(jobs_home) == []  # refused before a kernel started
