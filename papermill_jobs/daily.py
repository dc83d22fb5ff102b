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
# # Daily pipeline
#
# Runs the steps in order as child runs of this one — ingest, nightly backtest, risk report — each
# recorded in the run history with its own executed notebook; a failed step stops the chain (the
# later steps are recorded `canceled`) and fails this run. `bifrost run` (`make run`) runs this job.

# %%
from bifrost.data import open_store
from bifrost.jobs import chain_summary, get_run, load_jobs, record_result, run_chain

# %% tags=["parameters"]
steps: list = []  # the jobs to chain, in order; empty: the `steps` of the daily job in jobs.toml
parameters: dict = {}  # per-step overrides, e.g. {"daily_ingest": {"n_symbols": 10}}
run_id = None  # filled by the runner: the steps' parent

# %%
store = open_store()
chain = steps or list(load_jobs()["daily"].steps)
records = run_chain(store, chain, parent_run_id=run_id, parameters=parameters)

# %%
summary = chain_summary(get_run(store, run_id) if run_id else records[0], records)
summary.steps_table()

# %%
summary.figure()

# %%
summary.headline()

# %%
record_result(summary.chain_result())
summary.raise_for_failure()  # a step that did not succeed fails this run, naming it
