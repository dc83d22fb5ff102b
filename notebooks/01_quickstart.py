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
# # 01 · Quickstart: from a CSV file to a backtest and its risk
#
# Bifrost is one Python library (`bifrost`) with four surfaces around it; this notebook is the
# researcher's. In ten cells it walks the whole path a piece of data takes:
#
# 1. **ingest** a real price file into a store (validated on the way in),
# 2. **read** it back as bars and as a time × symbols panel,
# 3. **backtest** a built-in strategy on it,
# 4. look at the **tearsheet** and one **risk** number.
#
# Every cell calls the library and shows what it returns: results render themselves in
# Jupyter (their `_repr_html_`). The test suite runs this notebook top to bottom with small
# inputs (`tests/notebooks/`), so what you read here works.

# %%
import tempfile
from pathlib import Path

import plotly.graph_objects as go
from IPython.display import JSON, display

import bifrost
from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.figures import NotebookFigure  # a plotly Figure shown as plain HTML (JupyterLab, nbconvert, Voila)
from bifrost.risk import historical_var, parametric_var
from bifrost.strategy import backtest

# %% tags=["parameters"]
data_dir = None  # None: ../shared/data beside the repository
home = None  # None: a fresh scratch store in a temporary folder; a path keeps the store
symbol = "ORCL"  # one of the backtrader files: ORCL, NVDA, YHOO
start = "2010-01-01"
end = "2015-01-01"  # half-open: bars before this date
fast = 10
slow = 30

# %%
DATA = Path(data_dir) if data_dir else Path(bifrost.__file__).resolve().parents[2] / "shared" / "data"
HOME = Path(home) if home else Path(tempfile.mkdtemp(prefix="bifrost-quickstart-"))
csv_file = next((DATA / "backtrader").glob(f"{symbol.lower()}-*.txt"))
store = EmbeddedStore(HOME)  # `bifrost.data.open_store()` opens BIFROST_HOME or BIFROST_DATABASE_URL instead
print(f"bifrost {bifrost.__version__}; store at {HOME}; data file {csv_file.name}")

# %% [markdown]
# ## 1. Ingest
# `CsvSource` reads Yahoo's and backtrader's layouts; `ingest` validates every row (missing or
# non-positive prices, high/low that do not bracket open/close, duplicate dates...) and writes
# the bars. The report says what happened; ingesting the same file again changes nothing.

# %%
report = ingest(store, CsvSource(csv_file, symbol=symbol), start=start, end=end)
display(report)

# %%
ingest(store, CsvSource(csv_file, symbol=symbol), start=start, end=end)  # again: 0 new, all unchanged

# %% [markdown]
# ## 2. Read
# `read_bars` gives the canonical bar frame (index `symbol, ts`, UTC); `read_panel` gives the
# time × symbols float64 arrays the backtest engine and the risk kernels read.

# %%
bars = store.read_bars([symbol], start, end)
bars.tail()

# %%
last = bars.droplevel("symbol").tail(120)
candles = NotebookFigure(go.Candlestick(x=last.index, open=last["open"], high=last["high"], low=last["low"],
                                        close=last["close"], name=symbol))  # fmt: skip
candles.update_layout(title=f"{symbol}: the last 120 daily bars", xaxis_rangeslider_visible=False, yaxis_title="USD")
display(candles)

# %% [markdown]
# ## 3. Backtest
# `sma_cross` buys when the fast moving average crosses above the slow one and sells on the
# way down; orders fill at the next open. The result renders as a small card (headline,
# equity sparkline, metrics); `print(result)` gives the same in three lines.

# %%
panel = store.read_panel([symbol], start, end)
result = backtest(panel, "sma_cross", {"fast": fast, "slow": slow, "size": 100})
display(result)

# %%
result.trades.head()

# %% [markdown]
# ## 4. Tearsheet and risk
# The tearsheet is what a pyfolio or quantstats user expects (metrics, drawdowns, monthly
# heatmap, rolling charts); every number in it agrees with empyrical. VaR is a positive loss
# fraction of equity.

# %%
result.tearsheet()

# %%
daily = result.returns.dropna()
var_99 = {"historical": historical_var(daily, confidence=0.99), "parametric": parametric_var(daily, confidence=0.99)}
print({k: f"{v:.3%}" for k, v in var_99.items()}, "of equity, one day, 99%")

# %% [markdown]
# ## Summary
# The numbers this notebook computed (the test suite reads them back from this cell).

# %% tags=["summary"]
summary = {
    "symbol": symbol,
    "rows_new": report.rows_new,
    "bars": len(bars),
    "final_value": result.final_value,
    "sharpe_ratio": result.metrics["sharpe_ratio"],
    "n_trades": result.n_trades,
    "var_99_historical": var_99["historical"],
    "var_99_parametric": var_99["parametric"],
}
display(JSON(summary))
