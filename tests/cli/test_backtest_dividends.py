"""`bifrost backtest --dividends`: SPY's recorded dividends on raw prices, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import bifrost
from tests.conftest import SPY


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-dividends")
    ingest = bifrost(path, "data", "ingest", "csv", str(SPY), "--symbol", "SPY")
    assert ingest.returncode == 0, ingest.stderr
    return path


def _run(home: Path, *extra: str) -> dict[str, object]:
    run = bifrost(
        home, "backtest", "buy_and_hold", "--symbols", "SPY", "--start", "2015-01-01", "--end", "2019-12-31",
        "--json", *extra,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out: dict[str, object] = json.loads(run.stdout)
    return out


def test_cli_backtest_credits_dividends_as_cash_by_default_and_says_so(home: Path) -> None:
    cash, ignored = _run(home), _run(home, "--dividends", "ignore")
    reinvested = _run(home, "--dividends", "reinvest")
    assert cash["dividends"] == "cash" and cash["measured"] == "total return, dividends as cash"
    assert ignored["dividend_cash"] == 0.0 and ignored["measured"] == "price return, dividends ignored"
    assert reinvested["measured"] == "total return, dividends reinvested"
    # 484 shares bought on 2015-01-05 receive the 20 dividends of 2015-2019 ($24.2656 a share)
    assert cash["dividend_cash"] == pytest.approx(484 * 24.2656, abs=1e-6)
    assert cash["final_value"] == pytest.approx(ignored["final_value"] + 484 * 24.2656, abs=0.005)  # type: ignore[operator]
    assert ignored["final_value"] < cash["final_value"] < reinvested["final_value"]  # type: ignore[operator]
    text = bifrost(home, "backtest", "buy_and_hold", "--symbols", "SPY", "--start", "2015-01-01", "--end", "2019-12-31")
    assert "total return, dividends as cash: dividends 11,744.55 (20 credited)" in text.stdout


def test_cli_backtest_refuses_an_unknown_dividend_mode(home: Path) -> None:
    run = bifrost(home, "backtest", "buy_and_hold", "--symbols", "SPY", "--dividends", "reinvested")
    assert run.returncode == 2
    assert "reinvested" in run.stderr and "cash" in run.stderr
