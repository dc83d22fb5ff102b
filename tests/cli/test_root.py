"""`bifrost config` and `bifrost run`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import bifrost
from tests.conftest import ROOT


def test_cli_help_and_config_work_from_the_start(tmp_path: Path) -> None:
    assert "data" in bifrost(tmp_path, "--help").stdout
    out = bifrost(tmp_path, "config", env={"BIFROST_DATABASE_URL": "postgresql://u:s3cret@db/x"}).stdout
    assert "postgresql://u:***@db/x" in out and "s3cret" not in out


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://127.0.0.1:5432/db?user=postgres&password=S3cr3tPW",
        "postgresql://:S3cr3tPW@h/db",
        "postgresql://bob:S3cr3tPW@ss@h/db",
        "host=h password=S3cr3tPW dbname=x",  # a ConfigError quotes it
    ],
)
def test_cli_config_shows_no_credential_in_any_form(tmp_path: Path, url: str) -> None:
    # issue 10 item 20: query parameters, an empty user, an @ in the password, a libpq DSN
    env = {"BIFROST_DATABASE_URL": url, "BIFROST_RISK_SERVICE_TOKEN": "tok-0123456789abcdef"}
    done = bifrost(tmp_path, "config", env=env)
    shown = done.stdout + done.stderr
    assert "S3cr3tPW" not in shown and "tok-" not in shown and "cdef" not in shown, shown
    if url.startswith("postgresql"):
        assert done.returncode == 0 and re.search(r"keys\.risk_service_token +\*\*\* \(set\)", done.stdout)
    else:
        assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_cli_run_is_the_main_job(tmp_path: Path) -> None:
    done = bifrost(tmp_path, "run", "--symbols", "10", "--days", "300")
    assert done.returncode == 0, done.stderr
    assert "[SYNTHETIC]" in done.stdout and "10 (10 synthetic)" in done.stdout
    assert "rows       : 3000" in done.stdout


def test_cli_settings_file_not_utf8_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # issue 10 item 16: a UnicodeDecodeError traceback before
    settings = tmp_path / "bifrost.toml"
    settings.write_bytes('home = "caf\u00e9"\n'.encode("latin-1"))
    env = {**os.environ, "BIFROST_CONFIG": str(settings)}
    done = subprocess.run(
        [sys.executable, "-m", "bifrost.cli", "data", "list"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "bifrost.toml: cannot read settings: not UTF-8 text" in done.stderr
