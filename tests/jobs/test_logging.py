"""Log lines of a run carry its run id, as text or as one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

import bifrost.jobs
from bifrost.errors import InvalidInputError
from bifrost.jobs import configure_logging, current_run_id, run_context


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    yield out
    logger = logging.getLogger("bifrost")
    for handler in [h for h in logger.handlers if getattr(h, "_bifrost_jobs", False)]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def test_logging_json_lines_carry_the_run_id(stream: io.StringIO) -> None:
    configure_logging("json", stream=stream)
    log = logging.getLogger("bifrost.jobs.test")
    with run_context("20261201T181500Z-1a2b3c", "daily"):
        log.info("step %s done", "ingest")
        assert current_run_id() == "20261201T181500Z-1a2b3c"
    log.warning("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["run_id"] == "20261201T181500Z-1a2b3c" and first["job"] == "daily"
    assert (
        first["message"] == "step ingest done" and first["level"] == "INFO" and first["logger"] == "bifrost.jobs.test"
    )
    assert first["ts"].endswith("Z") and second["run_id"] is None and current_run_id() is None


def test_logging_kernel_environment_names_the_run(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIFROST_RUN_ID", "20261201T181500Z-000001")
    monkeypatch.setenv("BIFROST_JOB", "risk_report")
    monkeypatch.setenv("BIFROST_LOG_FORMAT", "text")
    configure_logging(stream=stream)
    configure_logging(stream=stream)  # again: still one line per record
    logging.getLogger("bifrost.risk").info("checked")
    [line] = stream.getvalue().splitlines()
    assert line.endswith(" INFO bifrost.risk [20261201T181500Z-000001] checked")


def test_logging_unknown_format_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIFROST_LOG_FORMAT", "xml")
    with pytest.raises(InvalidInputError, match=r"BIFROST_LOG_FORMAT must be one of \['text', 'json'\], got 'xml'"):
        configure_logging()


def test_jobs_public_names_resolve_and_the_cli_loads_no_engine() -> None:
    assert all(getattr(bifrost.jobs, name) is not None for name in bifrost.jobs.__all__)
    loaded = "sorted(m for m in ('numba', 'bifrost.strategy', 'papermill') if m in sys.modules)"
    code = f"import sys, bifrost.cli, bifrost.jobs; print({loaded})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
