"""`bifrost backtest` trades split-adjusted bars by default: a recorded split is no crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import bifrost

# QA's repro: the demo market's CON001 splits 3:1 on 2015-10-01
SPAN = ("--symbols", "CON001", "--start", "2015-06-01", "--end", "2015-12-31")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-splits")
    run = bifrost(path, "data", "ingest", "synthetic", "--n-symbols", "20", "--n-days", "750", "--seed", "7")
    assert run.returncode == 0, run.stderr
    return path


def test_cli_backtest_default_is_split_adjusted_across_a_split(home: Path) -> None:
    default = bifrost(home, "backtest", "buy_and_hold", *SPAN, "--json")
    assert default.returncode == 0, default.stderr
    explicit = bifrost(home, "backtest", "buy_and_hold", *SPAN, "--adjustment", "split_adjusted", "--json")
    assert json.loads(default.stdout)["metrics"] == json.loads(explicit.stdout)["metrics"]
    assert -0.3 < json.loads(default.stdout)["metrics"]["total_return"] < 0.3
    assert "split_adjusted" in bifrost(home, "backtest", "buy_and_hold", "--help").stdout


def test_cli_backtest_raw_across_a_split_warns_and_shows_the_false_loss(home: Path) -> None:
    raw = bifrost(home, "backtest", "buy_and_hold", *SPAN, "--adjustment", "raw", "--json")
    assert raw.returncode == 0, raw.stderr
    assert "CON001 3:1 split on 2015-10-01" in raw.stderr and "split_adjusted" in raw.stderr
    assert json.loads(raw.stdout)["metrics"]["total_return"] < -0.5
