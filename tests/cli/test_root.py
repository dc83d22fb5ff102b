"""`bifrost config` and `bifrost run` (the daily pipeline, what `make run` runs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bifrost.data import EmbeddedStore
from bifrost.jobs import job_history
from bifrost.risk import book_from_store, book_risk, check_limits
from bifrost.strategy import FillModel, backtest
from bifrost.strategy._engine import Commission
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


def test_cli_run_is_the_daily_pipeline_and_prints_its_summary(tmp_path: Path) -> None:
    # `bifrost run` (make run) on an empty BIFROST_HOME: the daily job chains ingest, backtest, risk on the demo market
    home = tmp_path / "home"
    done = bifrost(home, "run", "--n-symbols", "6", "--n-days", "400")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for step in ("daily_ingest", "nightly_backtest", "paper_rebalance", "risk_report", "compliance_surveillance"):
        assert re.search(rf"^  {step} +succeeded +[0-9.]+ s$", out, re.M), out
    store = EmbeddedStore(home)
    try:
        (daily,) = job_history(store, "daily")
        assert out.startswith(f"daily {daily.run_id}: succeeded in ")
        (nightly,) = job_history(store, "nightly_backtest")
        assert nightly.parent_run_id == daily.run_id
        assert int(store.list_symbols()["rows"].sum()) == 6 * 400
        # the headline numbers are the library's on the store the run left
        best, params = nightly.result["best_strategy"], nightly.result["best_params"]
        panel = store.read_panel(None, frequency="1d")
        fill = FillModel(commission=Commission(percent=0.001), slippage_bps=2.0)
        sharpe = backtest(panel, str(best), params, cash=1_000_000.0, fill=fill).metrics["sharpe_ratio"]  # type: ignore[arg-type]
        assert f"best strategy : {best} (" in out and f"Sharpe {sharpe:.2f}" in out
        var = book_risk(book_from_store(store, "demo"), method="historical", confidence=0.99).var
        assert f"99% VaR       : {var:.2%} of equity, 1 day, historical (portfolio demo)" in out
        breaches = int((check_limits(store, "demo", record=False).checks["severity"] == "breach").sum())
        assert f"limit breaches: {breaches}" in out
    finally:
        store.close()
    for line in ("tearsheet.html", "risk_demo.html", "daily.ipynb", "make dashboard", "bifrost dashboard", "make lab"):
        assert line in out
    assert "http://127.0.0.1:8866/voila/render/risk_monitor.ipynb" in out
    for path in re.findall(r"(?:^|\s)(/\S+\.(?:html|ipynb))", out):
        assert Path(path).is_file(), path


def test_cli_run_market_too_large_is_refused_before_any_kernel_starts(tmp_path: Path) -> None:
    done = bifrost(tmp_path, "run", "--n-symbols", "5000", "--n-days", "100000")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "daily_ingest:" in done.stderr and not (tmp_path / "runs").exists()


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
