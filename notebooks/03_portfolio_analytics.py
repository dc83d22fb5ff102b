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
# # 03 · Portfolio and analytics: ledger, valuation, tearsheet, factor regression
#
# A portfolio in bifrost is an append-only **ledger** of transactions (fills, cash flows,
# dividends, splits) in `Decimal`; positions, cash and P&L are always rebuilt by replaying it.
# Valued against the store's prices it gives an equity curve and time-weighted returns, which
# the analytics measure: a **tearsheet** against a benchmark and a **Fama–French** regression.
#
# The prices are real: three stocks from the 505-stock file and SPY, with its dividends, from
# `../shared/data/sp500_5yr/`; the factors from `../shared/data/factors/`.

# %%
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from IPython.display import JSON, display

import bifrost
from bifrost.analytics import factor_regression, perf_stats, portfolio_tearsheet, simple_returns
from bifrost.data import CsvSource, EmbeddedStore, ingest, read_fama_french
from bifrost.figures import NotebookFigure  # a plotly Figure shown as plain HTML (JupyterLab, nbconvert, Voila)
from bifrost.portfolio import (
    CashFlow,
    CashKind,
    Fill,
    Side,
    load_portfolio,
    mark_to_latest,
    record_transactions,
    value_ledger,
)

# %% tags=["parameters"]
data_dir = None  # None: ../shared/data beside the repository
home = None  # None: a fresh scratch store in a temporary folder; a path keeps the store
symbols = ["AAPL", "XOM", "JPM"]  # from the 505-stock file
benchmark = "SPY"  # daily_adjusted_SPY.csv: adjusted close and dividends
start = "2014-01-01"
end = "2018-01-01"  # half-open
deposit = 100_000
sell_date = "2016-06-01"  # half of the second symbol is sold at that day's close

# %%
DATA = Path(data_dir) if data_dir else Path(bifrost.__file__).resolve().parents[2] / "shared" / "data"
HOME = Path(home) if home else Path(tempfile.mkdtemp(prefix="bifrost-portfolio-"))
store = EmbeddedStore(HOME)
quarantine = HOME / "quarantine"
quarantine.mkdir(exist_ok=True)
display(ingest(store, CsvSource(DATA / "sp500_5yr" / "all_stocks_5yr.csv.gz"), symbols, start, end,
               on_error="repair", quarantine_dir=quarantine))  # fmt: skip
display(ingest(store, CsvSource(DATA / "sp500_5yr" / "daily_adjusted_SPY.csv", symbol=benchmark), start=start, end=end))

# %% [markdown]
# ## 1. A ledger
# A deposit, then roughly equal amounts of each stock at its first close, then a partial sale.
# `record_transactions` checks every entry (no selling more than held in a long-only book, no
# unknown symbol, no date before inception or before the last entry) and stores all or none.

# %%
closes = store.read_bars(symbols, start, end)["close"]
first = closes.groupby(level="symbol").head(1).droplevel("ts")
t0 = closes.index.get_level_values("ts").min()
budget = Decimal(deposit) * Decimal("0.9") / len(symbols)
price = {s: Decimal(str(first[s])) for s in symbols}
quantity = {s: Decimal(int(budget / price[s])) for s in symbols}  # whole shares
txns: list[CashFlow | Fill] = [CashFlow(txn_id="deposit", ts=t0, kind=CashKind.DEPOSIT, amount=Decimal(deposit))]
txns += [Fill(txn_id=f"buy-{s}", ts=t0, symbol=s, side=Side.BUY, quantity=quantity[s], price=price[s]) for s in symbols]
sold = symbols[1]
t_sell = pd.Timestamp(sell_date, tz="UTC")
sell_price = Decimal(str(closes.loc[(sold, t_sell)]))
txns.append(Fill(txn_id=f"sell-{sold}", ts=t_sell, symbol=sold, side=Side.SELL, quantity=quantity[sold] / 2,
                 price=sell_price))  # fmt: skip
record_transactions(store, "core", txns, create=True, long_only=True)
ledger = load_portfolio(store, "core")  # the stored ledger, plus the store's dividends on their ex-dates
display(ledger)

# %%
display(ledger.positions_frame())

# %% [markdown]
# ## 2. Valuation
# `mark_to_latest` marks the positions at the store's latest closes (what `bifrost portfolio show`
# prints); `value_ledger` values the ledger on every day of a panel: equity, cash, holdings and
# time-weighted returns (each day's equity change net of that day's flows).

# %%
marked = mark_to_latest(ledger, store)
display(marked)

# %%
valuation = value_ledger(ledger, store.read_panel(symbols, start, end))
equity = pd.Series(valuation.equity, index=valuation.ts)
curve = NotebookFigure(go.Scatter(x=equity.index, y=equity, name="equity"))
curve.update_layout(title="core: equity (cash + positions at the close)", yaxis_title="USD")
display(curve)

# %% [markdown]
# ## 3. The tearsheet
# `portfolio_tearsheet` values the stored portfolio and measures it against the benchmark
# (the benchmark as the portfolio is: close plus dividends as cash). One call, every figure;
# `sheet.stats` holds the numbers, `sheet.to_html(path)` writes one page that opens offline.

# %%
sheet = portfolio_tearsheet(store, "core", benchmark=benchmark)
display(sheet)

# %% [markdown]
# The same metrics for each stock on its own, against the benchmark: `perf_stats` takes a
# time × series table of returns (empyrical's names and definitions).

# %%
prices = store.read_panel(symbols, start, end, fields=["close"], adjustment="adjusted").frame("close")
spy = store.read_panel([benchmark], start, end, fields=["close"], adjustment="adjusted").frame("close")[benchmark]
table = perf_stats(simple_returns(prices), simple_returns(spy), names=list(prices.columns))
display(table)

# %% [markdown]
# ## 4. Factor regression
# Regress the portfolio's excess returns on the Fama–French three factors (market, size,
# value): alpha, betas, t-statistics and R², matching statsmodels' OLS.

# %%
ff_file = DATA / "factors" / "F-F_Research_Data_Factors_daily.CSV"
regression = None
if ff_file.exists():
    factors = read_fama_french(ff_file)
    regression = factor_regression(valuation.returns(), factors)
    display(regression)
else:
    print(f"no Fama-French file at {ff_file}: skipping the regression")

# %% tags=["summary"]
stats = sheet.stats
summary = {
    "transactions": len(txns),
    "quantities": {s: float(ledger.position(s).quantity) for s in symbols},
    "equity": float(marked.totals["equity"]),
    "cash": float(marked.totals["cash"]),
    "realized_pnl": float(marked.totals["realized_pnl"]),
    "dividends": float(marked.totals["dividends"]),
    "sharpe_ratio": float(stats.loc["sharpe_ratio", "core"]),
    "benchmark_sharpe_ratio": float(stats.loc["sharpe_ratio", benchmark]),
    "max_drawdown": float(stats.loc["max_drawdown", "core"]),
    "beta": float(stats.loc["beta", "core"]),
    "stock_sharpe": {s: float(table.to_frame().loc["sharpe_ratio", s]) for s in symbols},
}
if regression is not None:
    summary |= {"ff_alpha_annual": regression.alpha_annual, "ff_betas": regression.betas.to_dict(),
                "ff_r_squared": regression.r_squared, "ff_n_obs": regression.n_obs}  # fmt: skip
display(JSON(summary))
