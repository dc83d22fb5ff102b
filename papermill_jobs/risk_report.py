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
# # Risk report
#
# For each stored portfolio: VaR and ES by method, stress, its limits checked (warnings and breaches
# recorded as alert episodes), and the HTML risk report in the run's folder.

# %%
from IPython.display import display

from bifrost.data import open_store
from bifrost.jobs import RiskReportConfig, record_result, risk_step

# %% tags=["parameters"]
portfolios: list = []  # empty: every stored portfolio that holds a position
methods: list = ["historical", "parametric", "filtered_historical", "montecarlo"]
confidence: float = 0.99
horizon_days: int = 1
lookback_days: int = 500
stress_windows: list = [1, 5, 20]
periods: dict = {}  # named historical periods: {"name": ["start", "end"]}
record_alerts: bool = True
run_id = None  # filled by the runner
output_dir = None  # filled by the runner: where the HTML reports go

# %%
config = RiskReportConfig.from_parameters(
    portfolios=portfolios, methods=methods, confidence=confidence, horizon_days=horizon_days,
    lookback_days=lookback_days, stress_windows=stress_windows, periods=periods, record_alerts=record_alerts,
    output_dir=output_dir,
)  # fmt: skip
display(config)

# %%
store = open_store()
step = risk_step(store, config)
step.table()

# %%
display(step.skipped)

# %% [markdown]
# ## Each portfolio

# %%
for measured in step.portfolios:
    display(measured.report)
    display(measured.limits.summary())

# %%
record_result(step.result())
step.result()
