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
# # Daily ingest
#
# Bars from the configured source — the seeded synthetic demo market, a CSV file or a folder of
# them (any layout `bifrost data ingest csv` reads), or Yahoo symbols — validated into the store,
# then the data-quality report. Every cell calls `bifrost`; the parameters become a frozen,
# checked `DailyIngestConfig` in the cell after them.

# %%
from IPython.display import display

from bifrost.data import open_store
from bifrost.jobs import DailyIngestConfig, ingest_step, record_result

# %% tags=["parameters"]
source: str = "synthetic"  # synthetic | csv | yahoo
path = None  # csv: a file or a folder of CSV files
symbol = None  # csv: the symbol of a one-symbol file
symbols: list = []  # yahoo: the symbols; csv: only these rows of a long file
n_symbols: int = 20  # synthetic: symbols
n_days: int = 750  # synthetic: trading days
seed: int = 7  # synthetic: seed
start = None  # yahoo: first date (required); synthetic: first trading day
end = None
on_error: str = "strict"  # strict | repair
run_id = None  # filled by the runner

# %%
config = DailyIngestConfig.from_parameters(
    source=source, path=path, symbol=symbol, symbols=symbols, n_symbols=n_symbols, n_days=n_days, seed=seed,
    start=start, end=end, on_error=on_error,
)  # fmt: skip
display(config)

# %%
store = open_store()
store.describe()

# %% [markdown]
# ## Ingest

# %%
step = ingest_step(store, config)
display(step)

# %%
display(step.listing)

# %%
step.figure(store)  # the loaded closes (total return), rebased to 1

# %% [markdown]
# ## Data quality

# %%
display(step.quality)

# %%
step.quality.findings.head(50)

# %%
record_result(step.result())
step.result()
