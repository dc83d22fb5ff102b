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
# # 02 · Market data: ingest real files, check their quality, adjust for a split
#
# Real files are dirty. This notebook ingests two real ones from `../shared/data/`:
#
# - `sp500_5yr/all_stocks_5yr.csv.gz`: 505 S&P 500 stocks, 2013–2018, one long file with a
#   `Name` column, **split-adjusted but not dividend-adjusted**, with a few missing opens;
# - `backtrader/orcl-1995-2014.txt`: Yahoo's layout with an `Adj Close` column.
#
# Then it runs the data-quality report, finds the split the 505-stock file forgot to adjust
# (Discovery's 2-for-1 of 2014-08-07), records it, and compares raw and adjusted prices
# around it. Prices are stored raw; splits and dividends are events applied at read time.

# %%
import tempfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from IPython.display import JSON, display

import bifrost
from bifrost.data import CsvSource, EmbeddedStore, check_quality, ingest, record_actions
from bifrost.figures import NotebookFigure  # a plotly Figure shown as plain HTML (JupyterLab, nbconvert, Voila)

# %% tags=["parameters"]
data_dir = None  # None: ../shared/data beside the repository
home = None  # None: a fresh scratch store in a temporary folder; a path keeps the store
symbols = ["DISCA", "XOM", "AAPL"]  # from the 505-stock file
start = "2014-01-01"
end = "2015-01-01"  # half-open: bars before this date
split_symbol = "DISCA"  # a split the file does not adjust ...
split_date = "2014-08-07"  # ... on its ex-date ...
split_ratio = 2.0  # ... new shares per old share

# %%
DATA = Path(data_dir) if data_dir else Path(bifrost.__file__).resolve().parents[2] / "shared" / "data"
HOME = Path(home) if home else Path(tempfile.mkdtemp(prefix="bifrost-market-data-"))
store = EmbeddedStore(HOME)
print(f"store at {HOME}")

# %% [markdown]
# ## 1. Ingest a long, dirty file
# `on_error="repair"` keeps what is valid and writes a quarantine CSV of each issue with what was
# done about it; the default, `strict`, rejects the whole load and leaves the store untouched.
# Only the `symbols` asked for are read into the store.

# %%
quarantine = HOME / "quarantine"
quarantine.mkdir(exist_ok=True)
sp500 = ingest(store, CsvSource(DATA / "sp500_5yr" / "all_stocks_5yr.csv.gz"), symbols, start, end,
               on_error="repair", quarantine_dir=quarantine)  # fmt: skip
display(sp500)

# %% [markdown]
# A second source with another layout: Yahoo's daily file with `Adj Close`. From it the store
# derives a total-return (dividend-adjusted) factor, and the adjusted read says so.

# %%
orcl = ingest(store, CsvSource(DATA / "backtrader" / "orcl-1995-2014.txt", symbol="ORCL"), start=start, end=end)
display(orcl)
display(store.list_symbols())

# %% [markdown]
# ## 2. The quality report
# Gaps against the data's own calendar, stale prices, outliers, and moves the size of a split
# with no split recorded. The report renders as a table; `findings` is a DataFrame.

# %%
before = check_quality(store)
display(before)

# %% [markdown]
# ## 3. Raw against adjusted, before the split is recorded
# With no split on record, `split_adjusted` is the raw series: the close halves overnight, and
# a backtest or a risk model would read a 50% loss that no holder suffered.

# %%
ex_date = pd.Timestamp(split_date, tz="UTC")
around = (ex_date - pd.Timedelta(days=21), ex_date + pd.Timedelta(days=21))


def closes(adjustment: str) -> pd.Series:
    bars = store.read_bars([split_symbol], *around, adjustment=adjustment)
    return bars["close"].droplevel("symbol")


raw_close = closes("raw")
unadjusted = closes("split_adjusted")
print(f"{split_symbol} raw close: {raw_close[raw_close.index < ex_date].iloc[-1]} → {raw_close[ex_date]}")

# %% [markdown]
# ## 4. Record the split, check again, read again
# `record_actions` takes a frame of `symbol, ts, kind, value`; each action is checked against
# the raw closes around it (recording a split the file already adjusts warns).

# %%
actions = pd.DataFrame({"symbol": [split_symbol], "ts": [ex_date], "kind": ["split"], "value": [split_ratio]})
display(record_actions(store, actions))
after = check_quality(store)
display(after)

# %%
adjusted = closes("split_adjusted")
fig = NotebookFigure()
fig.add_trace(go.Scatter(x=raw_close.index, y=raw_close, name="raw (as traded)", mode="lines+markers"))
fig.add_trace(go.Scatter(x=adjusted.index, y=adjusted, name="split-adjusted (split recorded)", mode="lines"))
fig.add_vline(x=ex_date.timestamp() * 1000, line_dash="dot")
fig.update_layout(title=f"{split_symbol} around its {split_ratio:g}-for-1 split of {split_date}", yaxis_title="USD")
display(fig)

# %%
comparison = pd.DataFrame({"raw": raw_close, "split_adjusted": adjusted}).loc[ex_date - pd.Timedelta(days=5) :]
display(comparison.head(8))

# %% [markdown]
# ## 5. Panels
# Research reads whole histories as a time × symbols panel of float64 arrays (read-only,
# NaN where a symbol has no bar). The adjustment is chosen at read time.

# %%
panel = store.read_panel(None, start, end, fields=["close"], adjustment="adjusted")
display(panel.frame("close").tail())

# %% tags=["summary"]
day_before = raw_close[raw_close.index < ex_date].index[-1]
summary = {
    "rows_new": sp500.rows_new + orcl.rows_new,
    "rows_quarantined": sp500.rows_quarantined,
    "symbols": sorted(store.list_symbols()["symbol"]),
    "findings_before": before.findings[["symbol", "check"]].astype(str).to_dict("records"),
    "findings_after": after.findings[["symbol", "check"]].astype(str).to_dict("records"),
    "split_day_before": str(day_before.date()),
    "raw_close_before": float(raw_close[day_before]),
    "raw_close_ex_date": float(raw_close[ex_date]),
    "unrecorded_close_before": float(unadjusted[day_before]),
    "adjusted_close_before": float(adjusted[day_before]),
}
display(JSON(summary))
