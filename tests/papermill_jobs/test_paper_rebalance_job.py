"""The paper_rebalance job notebook run by the runner on real bars: it records the order manager's orders and fills.

One real papermill kernel (about 5 s): the job once on ORCL/NVDA/YHOO (2013-2014); the step itself
(a rerun of a day, rejections, fills at the next open) is tested in process in tests/jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.execution._manager import list_orders
from bifrost.jobs import DailySummary, RunStatus, load_jobs, run_job
from bifrost.jobs._pipelines import target_weights
from bifrost.portfolio import load_portfolio
from bifrost.strategy import FillModel
from tests.conftest import NVDA, ORCL, YHOO

PARAMS = {
    "strategy": "sma_cross",
    "params": {"fast": 5, "slow": 20, "size": 0.03, "size_type": "percent"},
    "commission": 0.0,
    "slippage_bps": 0.0,
}


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EmbeddedStore]:
    # the repository's papermill_jobs/ on a fresh embedded store (the kernels inherit it from the runner)
    for name in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG", "BIFROST_JOBS_DIR", "BIFROST_LOG_FORMAT", "BIFROST_BROKER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BIFROST_HOME", str(tmp_path / "home"))
    opened = EmbeddedStore(tmp_path / "home")
    try:
        for path, symbol in ((ORCL, "ORCL"), (NVDA, "NVDA"), (YHOO, "YHOO")):
            ingest(opened, CsvSource(path, symbol=symbol), None, "2013-01-01")
        yield opened
    finally:
        opened.close()


def test_jobs_toml_declares_paper_rebalance_and_daily_runs_it_before_the_risk_report() -> None:
    jobs = load_jobs()
    assert jobs["paper_rebalance"].config == "PaperRebalanceConfig"
    steps = jobs["daily"].steps
    assert "paper_rebalance" in steps and steps.index("nightly_backtest") < steps.index("paper_rebalance")
    assert steps.index("paper_rebalance") < steps.index("risk_report")  # the risk report measures the paper book


def test_paper_rebalance_job_trades_the_targets_into_the_ledger_and_shows_the_blotter(store: EmbeddedStore) -> None:
    run = run_job(store, "paper_rebalance", PARAMS)
    assert run.status is RunStatus.SUCCEEDED, run.error
    result = run.result
    assert result["portfolio"] == "paper" and result["as_of"] == "2014-12-31"

    # the targets are the library's; the orders are the store's, filled at the last close into the ledger
    panel = store.read_panel(["NVDA", "ORCL", "YHOO"], adjustment="split_adjusted")
    weights = target_weights(panel, "sma_cross", PARAMS["params"], fill=FillModel())  # type: ignore[arg-type]
    assert result["weights"] == {s: w for s, w in weights.items() if w != 0}
    stored = list_orders(store, portfolio="paper")
    assert result["orders"] == result["filled"] == len(stored) == 3 and set(stored["status"]) == {"filled"}
    ledger = load_portfolio(store, "paper", store_dividends=False)
    assert dict(zip(stored["symbol"], stored["filled_quantity"], strict=True)) == {
        p.symbol: float(p.quantity) for p in ledger.positions() if p.quantity
    }
    assert run.notebook is not None
    shown = run.notebook.read_text()
    assert all(cid in shown for cid in stored["client_order_id"])  # the blotter is in the executed notebook
    line = DailySummary(run=run, steps=(run,)).text().splitlines()[2]
    assert line == "paper book    : paper on 2014-12-31: 3 order(s), 3 filled, 0 rejected (bifrost orders list)"
    assert result["repeated"] is False  # a rerun of the day sends nothing: tests/jobs/test_paper_rebalance.py
