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
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# A tests-only job: ingest one CSV file into the store the run is recorded in, and record what it read.

# %%
from pathlib import Path

from bifrost.data import CsvSource, ingest, open_store
from bifrost.jobs import record_result

# %% tags=["parameters"]
path = None
symbol = "ORCL"
start = "2014-01-02"
limit = 5
scale = 1.0
verbose = False
run_id = None
output_dir = None

# %%
store = open_store()
report = ingest(store.bars, CsvSource(path, symbol=symbol))
report.summary()

# %%
bars = store.read_bars(symbol, start=start)
Path(output_dir, "first.txt").write_text(f"{bars['close'].iloc[0]:.6f}\n")
record_result({"rows": len(bars), "first_close": float(bars["close"].iloc[0]), "run_id": run_id, "scale": scale})
bars.head(limit)
