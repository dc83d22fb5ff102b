# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Nightly backtest
#
# The configured strategies over the configured universe: for each strategy a sweep of its grid
# (every set on every symbol, with its heatmap), the best set backtested on the universe as one
# portfolio; the best strategy's walk-forward and its tearsheet (HTML in the run's folder). The
# best backtest's fills become the demo portfolio, so that the risk report measures something real.

# %%
from IPython.display import display

from bifrost.data import open_store
from bifrost.jobs import NightlyBacktestConfig, backtest_step, record_result

# %% tags=["parameters"]
grids: dict = {"sma_cross": {"fast": "5:20:5", "slow": "40:100:20", "size": 0.1, "size_type": "percent"}, "momentum": {"lookback": [60, 120], "top_n": [3, 5]}}  # noqa: E501 (papermill reads a parameter from one line)
symbols: list = []  # the universe; empty: every daily symbol in the store
start = None
end = None
commission: float = 0.001  # fraction of each fill's value
slippage_bps: float = 2.0
cash: float = 1_000_000.0
train_bars: int = 250  # walk-forward: in-sample bars per fold
test_bars: int = 125  # walk-forward: out-of-sample bars per fold
anchored: bool = False
objective: str = "sharpe_ratio"
portfolio: str = "demo"  # the portfolio the best backtest's fills are stored as; "": none
run_id = None  # filled by the runner
output_dir = None  # filled by the runner: where the tearsheet goes

# %%
config = NightlyBacktestConfig.from_parameters(
    grids=grids, symbols=symbols, start=start, end=end, commission=commission, slippage_bps=slippage_bps,
    cash=cash, train_bars=train_bars, test_bars=test_bars, anchored=anchored, objective=objective,
    portfolio=portfolio, output_dir=output_dir,
)  # fmt: skip
display(config)

# %%
store = open_store()
step = backtest_step(store, config)
step.table()

# %% [markdown]
# ## Sweeps

# %%
for run in step.runs:
    display(run.sweep)
    figure = run.heatmap()  # a static plotly figure (HTML), or None with fewer than two swept parameters
    if figure is not None:
        display(figure)

# %% [markdown]
# ## The best strategy

# %%
display(step.best.result)

# %%
display(step.walk_forward if step.walk_forward is not None else step.notes)

# %%
step.best.result.tearsheet()

# %% [markdown]
# ## The demo portfolio

# %%
step.portfolio.summary() if step.portfolio is not None else "no portfolio stored (portfolio='')"

# %%
record_result(step.result())
step.result()
