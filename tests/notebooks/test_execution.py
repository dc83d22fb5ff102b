"""notebooks/06_execution: an order's life, orders to the paper broker, paper beside backtest, the audit trail."""

from __future__ import annotations

import pytest

from bifrost.compliance import audit_head, verify_audit
from bifrost.data import EmbeddedStore
from bifrost.execution._manager import list_orders
from bifrost.portfolio import load_portfolio
from bifrost.strategy import Commission, FillModel, backtest
from tests.notebooks._execute import Executed, execute


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    folder = tmp_path_factory.mktemp("execution")
    return execute("06_execution", folder, home=str(folder / "home"), start="2013-01-01", fast=10, slow=30, size=100,
                   cash=100_000.0, commission=0.001)  # fmt: skip


def test_execution_order_life_cycle_refuses_the_overfill_and_the_duplicate_fill(run: Executed) -> None:
    s = run.summary
    assert s["lifecycle"] == ["new", "submitted", "accepted", "partially_filled", "filled"]
    assert [r.split(":")[0] for r in s["refusals"]] == ["InvalidTransitionError", "DuplicateFillError"]
    assert "overfill" in s["refusals"][0] and "'T-1' was already applied" in s["refusals"][1]
    assert "stateDiagram" in "".join(run.outputs("text/markdown"))  # the generated diagram


def test_execution_desk_orders_are_the_stores_and_only_the_market_order_filled(run: Executed) -> None:
    with EmbeddedStore(run.path.parent / "home") as store:
        stored = list_orders(store, portfolio="desk")
        desk = load_portfolio(store, "desk", store_dividends=False)
    assert sorted(run.summary["desk_orders"]) == sorted(stored["status"]) == [
        "canceled", "filled", "rejected", "rejected",
    ]  # fmt: skip
    assert run.summary["desk_position"] == float(desk.position("ORCL").quantity) == 100.0
    filled = stored[stored["status"] == "filled"]
    assert filled["avg_fill_price"].tolist() == [44.970001]  # ORCL's last close, 2014-12-31: no later bar


def test_execution_paper_trading_equals_the_backtest_to_the_bit(run: Executed) -> None:
    s = run.summary
    with EmbeddedStore(run.path.parent / "home") as store:
        panel = store.read_panel(["ORCL"], adjustment="split_adjusted")
    expected = backtest(panel, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, cash=100_000.0,
                        fill=FillModel(commission=Commission(percent=0.001)), dividends="ignore")  # fmt: skip
    assert s["same_fills"] is True and s["paper_fills"] == len(expected.fills) > 10
    assert s["paper_final_value"] == s["backtest_final_value"] == expected.final_value


def test_execution_audit_trail_verifies_and_the_proof_checks_but_a_forged_one_does_not(run: Executed) -> None:
    s = run.summary
    with EmbeddedStore(run.path.parent / "home") as store:
        verified, head = verify_audit(store), audit_head(store)
    assert s["audit_ok"] is True and verified.ok and s["audit_records"] == verified.records > 50
    assert s["audit_head"] == head.hash
    assert s["proof_ok"] is True and s["forged_ok"] is False
