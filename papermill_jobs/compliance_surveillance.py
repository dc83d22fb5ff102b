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
# # Compliance surveillance
#
# The post-trade pass over each book the pipeline keeps (the paper book and the demo book, or
# those named): the book-level rules in force each session (position share of NAV, sector and
# issuer concentration, gross exposure) re-measured at its close — breaches, and whether a trade
# or a price move caused them — wash sales (the disallowed loss moved into the replacement lot's
# basis) and concentration drift, under the rules file (by its hash). Each report is written as
# a self-contained HTML page in the run's folder; the summary goes to the audit trail.

# %%
from IPython.display import display

from bifrost.data import open_store
from bifrost.jobs import ComplianceSurveillanceConfig, record_result, surveillance_step

# %% tags=["parameters"]
portfolios: list = []  # empty: the paper and demo portfolios, where stored
rules = None  # the rules file (TOML); None: the compliance_rules setting, BIFROST_HOME/compliance.toml, or the default
start = None  # the first session surveyed; None: the portfolio's first (or end less lookback_days)
end = None  # the last session surveyed; None: the store's last
lookback_days = None  # without start: only the last lookback_days calendar days; None: the whole ledger
run_id = None  # filled by the runner
output_dir = None  # filled by the runner: where the HTML reports go

# %%
config = ComplianceSurveillanceConfig.from_parameters(
    portfolios=portfolios, rules=rules, start=start, end=end, lookback_days=lookback_days, output_dir=output_dir
)
display(config)

# %%
store = open_store()
step = surveillance_step(store, config)
display(step)
step.table()

# %%
display(step.skipped)

# %% [markdown]
# ## Each portfolio

# %%
for surveyed in step.portfolios:
    display(surveyed.report)

# %%
record_result(step.result())
step.result()
