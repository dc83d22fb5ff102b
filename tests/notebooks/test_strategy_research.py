"""notebooks/04_strategy_research: backtest, custom strategy, sweep, walk-forward, look-ahead, backtrader bridge."""

from __future__ import annotations

import pytest

from bifrost.data import EmbeddedStore
from bifrost.strategy import Commission, FillModel, backtest, sweep, walk_forward
from tests.notebooks._execute import Executed, execute

START, END = "2011-01-01", "2015-01-01"
FAST, SLOW = [10, 40], [30, 50]
COSTS = FillModel(commission=Commission(percent=0.001))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    folder = tmp_path_factory.mktemp("strategy")
    return execute("04_strategy_research", folder, home=str(folder / "home"), symbols=["ORCL"], start=START, end=END,
                   fast_grid=FAST, slow_grid=SLOW, train_bars=250, test_bars=250, commission=0.001)  # fmt: skip


def test_strategy_backtrader_bridge_agrees_with_the_engine_fill_for_fill(run: Executed) -> None:
    assert run.summary["backtrader_final_value"] == pytest.approx(run.summary["engine_final_value"], abs=1e-6)
    assert run.summary["backtrader_n_fills"] == run.summary["engine_n_fills"] > 0


def test_strategy_lookahead_guard_names_the_cheat_and_clears_the_honest_strategy(run: Executed) -> None:
    assert run.summary["lookahead_cheat_ok"] is False
    assert run.summary["lookahead_cheat_symbol"] == "ORCL"
    assert run.summary["lookahead_honest_ok"] is True


def test_strategy_sweep_walk_forward_and_backtest_equal_the_library(run: Executed) -> None:
    with EmbeddedStore(run.path.parent / "home") as store:
        panel = store.read_panel(["ORCL"], START, END)
    assert run.summary["bars"] == len(panel.ts) == 1006  # ORCL 2011-2014: 1006 lines in orcl-1995-2014.txt
    base = backtest(panel, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, fill=COSTS)
    assert run.summary["base_final_value"] == base.final_value
    grid = sweep(panel, "sma_cross", {"fast": FAST, "slow": SLOW, "size": [100]}, fill=COSTS)
    assert (run.summary["sweep_sets"], run.summary["sweep_skipped"]) == (grid.n_sets, grid.skipped) == (3, 1)  # 40 ≥ 30
    assert run.summary["sweep_best"] == grid.best()
    wf = walk_forward(panel, "sma_cross", {"fast": FAST, "slow": SLOW, "size": [100]}, train_bars=250, test_bars=250,
                      fill=COSTS)  # fmt: skip
    assert run.summary["walk_forward_folds"] == len(wf.folds) == 4  # 1006 bars: 250 in sample, then 250+250+250+6
    assert run.summary["walk_forward_total_return"] == wf.total_return


def test_strategy_notebook_shows_heatmap_and_progress(run: Executed) -> None:
    html = "".join(run.outputs("text/html"))
    assert "sma_cross: sharpe_ratio by fast and slow" in html
    assert "sma_cross walk-forward: 4 folds, out of sample" in html
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for c in run.notebook.cells for o in c.get("outputs", []))  # the sweep's tqdm bar  # fmt: skip
