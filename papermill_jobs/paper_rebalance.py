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
# # Paper rebalance
#
# A strategy's target weights on the trading day (its signals at the day's close, sized as its
# backtest sizes them) become market orders that move the paper portfolio to those weights:
# through the order manager's pre-trade checks (risk limits, trading state) to the paper broker,
# which fills them with the backtest's fill model at the next bar's open, or at the day's close
# when the store holds no later bar. Every order, event and fill is in the store and the audit
# trail; the portfolio monitor shows them as they happen. A day is rebalanced once: a rerun
# reports that day's orders and sends nothing.

# %%
from IPython.display import display

from bifrost.data import open_store
from bifrost.jobs import PaperRebalanceConfig, rebalance_step, record_result

# %% tags=["parameters"]
strategy: str = "momentum"  # a built-in strategy
params: dict = {}  # its parameters, e.g. {"lookback": 60, "top_n": 10}; the strategy's defaults for the rest
symbols: list = []  # the universe; empty: every daily symbol in the store
start = None  # the first bar the strategy reads; None: all
as_of = None  # the trading day; None: the store's last daily bar
portfolio: str = "paper"  # the paper portfolio (created with `cash` when new)
cash: float = 1_000_000.0
commission: float = 0.001  # fraction of each fill's value (the backtest's and the paper broker's)
slippage_bps: float = 2.0
run_id = None  # filled by the runner

# %%
config = PaperRebalanceConfig.from_parameters(
    strategy=strategy, params=params, symbols=symbols, start=start, as_of=as_of, portfolio=portfolio, cash=cash,
    commission=commission, slippage_bps=slippage_bps,
)  # fmt: skip
display(config)

# %%
store = open_store()
step = rebalance_step(store, config)
display(step)

# %% [markdown]
# ## Targets: the strategy's weights, in shares of the book

# %%
step.table()

# %% [markdown]
# ## The day's orders, and the blotter

# %%
step.orders_table()

# %%
display(step.blotter)

# %%
record_result(step.result())
step.result()
