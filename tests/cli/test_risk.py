"""`bifrost risk`: the verbs on a stored portfolio (the measures themselves are tested in tests/risk)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import bifrost
from tests.conftest import ORCL

TXNS = "txn_id,ts,type,symbol,quantity,price,amount\n1,2014-01-02,deposit,,,,10000\n2,2014-01-02,buy,ORCL,100,37.84,\n"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli-risk")
    (base / "txns.csv").write_text(TXNS)
    assert bifrost(base / "home", "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0
    assert bifrost(base / "home", "portfolio", "import", "P1", str(base / "txns.csv")).returncode == 0
    return base / "home"


def test_cli_risk_alerts_of_an_unknown_portfolio_exits_2_naming_it(home: Path) -> None:
    # it listed "no alerts" and exited 0
    done = bifrost(home, "risk", "alerts", "NOSUCH")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("bifrost: error: no portfolio 'NOSUCH' in the store (portfolios: P1)")
    known = bifrost(home, "risk", "alerts", "P1")
    assert known.returncode == 0 and known.stdout.strip() == "no alerts", known.stderr


def test_cli_risk_var_old_option_names_are_aliases_of_the_library_names(home: Path) -> None:
    new = bifrost(home, "risk", "var", "P1", "--horizon-days", "10", "--lookback-days", "250", "--json")
    old = bifrost(home, "risk", "var", "P1", "--horizon", "10", "--lookback", "250", "--json")
    assert new.returncode == 0 and old.returncode == 0, new.stderr + old.stderr
    assert json.loads(new.stdout) == json.loads(old.stdout)
    assert json.loads(new.stdout)["horizon_days"] == 10


def test_cli_risk_var_option_given_twice_is_refused(home: Path) -> None:
    done = bifrost(home, "risk", "var", "P1", "--horizon-days", "10", "--horizon", "5")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "bifrost risk var: --horizon-days is given twice (then as --horizon); give it once" in done.stderr


def test_cli_risk_stress_window_days_and_window_are_one_option(home: Path) -> None:
    new = bifrost(home, "risk", "stress", "P1", "--window-days", "5", "--window-days", "20", "--json")
    old = bifrost(home, "risk", "stress", "P1", "--window", "5", "--window", "20", "--json")
    assert new.returncode == 0 and json.loads(new.stdout) == json.loads(old.stdout), new.stderr + old.stderr
