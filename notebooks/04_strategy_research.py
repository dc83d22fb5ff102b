# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Strategy research: backtest, your own strategy, sweep, walk-forward, look-ahead, backtrader
#
# The backtest engine is vectorised where it can be and numba-compiled where it must loop; its
# `sma_cross` reproduces backtrader's fills to the cent. This notebook:
#
# 1. backtests a built-in strategy with trading costs,
# 2. writes a **custom strategy** (a function from a panel to `Signals`, parameters keyword-only,
#    constraints and warm-up declared),
# 3. **sweeps** a parameter grid (with a progress bar) and draws its **heatmap**,
# 4. runs a **walk-forward** (choose on the past, trade the next window, stitch the out-of-sample),
# 5. catches a strategy that **looks ahead**,
# 6. runs an **unmodified backtrader strategy** through the bridge on the same data.
#
# Data: backtrader's Yahoo files in `../shared/data/backtrader/` (ORCL, NVDA, YHOO).

# %%
import tempfile
from pathlib import Path

import backtrader as bt
import numpy as np
import plotly.graph_objects as go
from IPython.display import JSON, display

import bifrost
from bifrost.data import CsvSource, EmbeddedStore, Panel, ingest
from bifrost.figures import NotebookFigure  # a plotly Figure shown as plain HTML (JupyterLab, nbconvert, Voila)
from bifrost.strategy import (
    Commission,
    FillModel,
    Signals,
    backtest,
    check_lookahead,
    declare,
    run_backtrader,
    sweep,
    walk_forward,
)
from bifrost.strategy import indicators as ind

# %% tags=["parameters"]
data_dir = None  # None: ../shared/data beside the repository
home = None  # None: a fresh scratch store in a temporary folder; a path keeps the store
symbols = ["ORCL", "NVDA"]  # backtrader files: ORCL, NVDA, YHOO
start = "2008-01-01"
end = "2015-01-01"  # half-open
fast_grid = [5, 10, 20, 40]
slow_grid = [30, 50, 100, 200]
train_bars = 500
test_bars = 250
commission = 0.001  # 0.1% of the traded value

# %%
DATA = Path(data_dir) if data_dir else Path(bifrost.__file__).resolve().parents[2] / "shared" / "data"
HOME = Path(home) if home else Path(tempfile.mkdtemp(prefix="bifrost-strategy-"))
store = EmbeddedStore(HOME)
for symbol in symbols:
    csv_file = next((DATA / "backtrader").glob(f"{symbol.lower()}-*.txt"))
    print(ingest(store, CsvSource(csv_file, symbol=symbol), start=start, end=end).summary())
panel = store.read_panel(symbols, start, end)  # raw prices, as traded
costs = FillModel(commission=Commission(percent=commission))

# %% [markdown]
# ## 1. A built-in strategy, with costs
# Every result says its costs; fills are at the next open by default.

# %%
base = backtest(panel, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, fill=costs)
display(base)
display(base.fills.head())

# %% [markdown]
# ## 2. Your own strategy
# A strategy is a function of the panel (`panel["close"]` is a time × symbols array) with
# keyword-only parameters, returning `Signals`. `@declare` states the rules its parameters obey
# (a sweep skips sets that break them) and the bars of history it needs before it can trade
# (walk-forward feeds each fold that much warm-up). The indicators are backtrader's definitions.


# %%
@declare("exit_period <= period", warmup=lambda p: p["period"])
def breakout(panel: Panel, *, period: int = 20, exit_period: int = 10) -> Signals:
    """Buy a new `period`-bar high, sell below the `exit_period`-bar moving average."""
    close = panel["close"]
    return Signals(
        entries=close >= ind.highest(close, period),
        exits=close < ind.sma(close, exit_period),
        size=0.4,
        size_type="percent",  # 40% of equity per entry
        stop_loss=0.08,  # and a stop 8% under the entry price
    )


custom = backtest(panel, breakout, {"period": 50, "exit_period": 20}, fill=costs)
display(custom)

# %% [markdown]
# ## 3. A sweep and its heatmap
# `sweep` runs every parameter set on every symbol (`backend="ray"` fans out to a Ray cluster
# with bit-identical results); sets that break a declared rule (`fast < slow`) are skipped and
# counted. `summary()` ranks the sets by the objective averaged over the symbols.

# %%
grid = sweep(panel, "sma_cross", {"fast": fast_grid, "slow": slow_grid, "size": [100]}, fill=costs, progress=True)
display(grid)

# %%
display(grid.heatmap("fast", "slow"))
best = grid.best()
print("best set:", best)

# %% [markdown]
# ## 4. Walk-forward
# Choose the best set on `train_bars` bars, trade it on the next `test_bars`, roll forward. The
# out-of-sample equity is what the method would have earned; the in-sample Sharpe is what it
# promised.

# %%
wf = walk_forward(panel, "sma_cross", {"fast": fast_grid, "slow": slow_grid, "size": [100]},
                  train_bars=train_bars, test_bars=test_bars, fill=costs)  # fmt: skip
display(wf.folds)
oos = NotebookFigure(go.Scatter(x=wf.equity.index, y=wf.equity, name="out-of-sample equity"))
oos.update_layout(title=f"sma_cross walk-forward: {len(wf.folds)} folds, out of sample", yaxis_title="USD")
display(oos)

# %% [markdown]
# ## 5. The look-ahead guard
# A signal that depends on tomorrow's close looks brilliant in a backtest. `check_lookahead`
# reruns the strategy on the data cut at random points and names the first past signal that
# changed; `assert_no_lookahead` raises instead (for a test suite).


# %%
def peeking(panel: Panel, *, period: int = 10) -> Signals:
    close = panel["close"]
    tomorrow = np.roll(close, -1, axis=0)  # the bug: the next bar's close, known today
    return Signals(entries=(tomorrow > close) & (close > ind.sma(close, period)), exits=tomorrow < close)


cheat = check_lookahead(panel, peeking, {"period": 10})
honest = check_lookahead(panel, breakout, {"period": 50, "exit_period": 20})
print(cheat)
print(honest)

# %% [markdown]
# ## 6. An unmodified backtrader strategy
# `run_backtrader(panel, StrategyClass, params)` feeds bifrost's bars to backtrader's Cerebro,
# runs the class as written, and returns the same `BacktestResult` as the engine: the same
# metrics, tearsheet and ledger. On `sma_cross` the two agree fill for fill.


# %%
class SmaCross(bt.Strategy):  # written for backtrader, nothing of bifrost in it
    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        sma_fast, sma_slow = bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow)
        self.crossover = bt.ind.CrossOver(sma_fast, sma_slow)

    def next(self) -> None:
        if not self.position and self.crossover > 0:
            self.buy(size=100)
        elif self.position and self.crossover < 0:
            self.close()


one = store.read_panel(symbols[:1], start, end)
bridged = run_backtrader(one, SmaCross, {"fast": 10, "slow": 30})
engine = backtest(one, "sma_cross", {"fast": 10, "slow": 30, "size": 100})
display(bridged)
print(f"backtrader {bridged.final_value:,.2f} · bifrost engine {engine.final_value:,.2f}")

# %% tags=["summary"]
summary = {
    "bars": len(panel.ts),
    "base_final_value": base.final_value,
    "base_sharpe_ratio": base.metrics["sharpe_ratio"],
    "custom_final_value": custom.final_value,
    "custom_n_trades": custom.n_trades,
    "sweep_sets": grid.n_sets,
    "sweep_skipped": grid.skipped,
    "sweep_best": best,
    "walk_forward_folds": len(wf.folds),
    "walk_forward_total_return": wf.total_return,
    "lookahead_cheat_ok": cheat.ok,
    "lookahead_cheat_symbol": cheat.symbol,
    "lookahead_honest_ok": honest.ok,
    "backtrader_final_value": bridged.final_value,
    "engine_final_value": engine.final_value,
    "backtrader_n_fills": len(bridged.fills),
    "engine_n_fills": len(engine.fills),
}
display(JSON(summary))
