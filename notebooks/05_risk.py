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
# # 05 · Risk: VaR three ways, decomposition, VaR backtest, stress, limits
#
# A stored portfolio's **book** is its positions from the ledger at the latest closes and the
# total returns of what it holds over the last `lookback_days` of common history; every risk
# figure of that book uses that one window, in the library, the CLI and the risk service.
# This notebook measures a three-stock book on real prices (backtrader's Yahoo files):
#
# 1. one-day 99% VaR and ES by **historical** simulation, **parametric** (normal and
#    Cornish–Fisher) and **Monte Carlo**,
# 2. the **decomposition** of VaR into what each position contributes,
# 3. a **VaR backtest** (exceptions, Kupiec, Christoffersen, Basel traffic light),
# 4. **stress** tests: the worst historical windows and hypothetical shocks,
# 5. **limits**: set them, check them, and read the alerts they opened,
# 6. the whole **risk report** in one call.
#
# VaR and ES are positive loss fractions of equity (0.02 = 2% of the book).

# %%
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
from IPython.display import JSON, display

import bifrost
from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, record_transactions
from bifrost.risk import (
    Limit,
    book_from_store,
    book_risk,
    check_limits,
    parametric_var,
    read_alerts,
    risk_report,
    set_limits,
    stress_positions,
    var_backtest,
    var_decomposition,
)

# %% tags=["parameters"]
data_dir = None  # None: ../shared/data beside the repository
home = None  # None: a fresh scratch store in a temporary folder; a path keeps the store
positions = {"ORCL": 1000, "NVDA": 1500, "YHOO": 800}  # shares, bought on `inception` at its close
start = "2011-01-01"  # history ingested from here ...
end = "2015-01-01"  # ... to here (half-open)
inception = "2013-01-02"
lookback_days = 500
backtest_window = 250  # days of history behind each day's VaR in the VaR backtest
confidence = 0.99
n_scenarios = 20_000  # Monte Carlo draws
var_limit = 0.02  # a 99% one-day VaR limit of 2% of equity
single_name_limit = 0.35  # no position above 35% of equity

# %%
DATA = Path(data_dir) if data_dir else Path(bifrost.__file__).resolve().parents[2] / "shared" / "data"
HOME = Path(home) if home else Path(tempfile.mkdtemp(prefix="bifrost-risk-"))
store = EmbeddedStore(HOME)
for symbol in positions:
    csv_file = next((DATA / "backtrader").glob(f"{symbol.lower()}-*.txt"))
    print(ingest(store, CsvSource(csv_file, symbol=symbol), start=start, end=end).summary())

t0 = pd.Timestamp(inception, tz="UTC")
close = store.read_bars(list(positions), t0, t0 + pd.Timedelta(days=1))["close"].droplevel("ts")
cost = sum(Decimal(str(close[s])) * q for s, q in positions.items())
txns: list[CashFlow | Fill] = [CashFlow(txn_id="deposit", ts=t0, kind=CashKind.DEPOSIT, amount=cost)]  # fully invested
txns += [Fill(txn_id=f"buy-{s}", ts=t0, symbol=s, side=Side.BUY, quantity=Decimal(q), price=Decimal(str(close[s])))
         for s, q in positions.items()]  # fmt: skip
record_transactions(store, "core", txns, create=True)

book = book_from_store(store, "core", lookback_days=lookback_days)
print(book.window)
display(book.values.to_frame("value, USD").assign(weight=book.weights))

# %% [markdown]
# ## 1. VaR three ways
# `book_risk` measures the book by one method; the portfolio's daily returns are the weighted
# asset returns over the window. Historical VaR is an observed return (no interpolation);
# parametric assumes normal returns (or corrects for skew and kurtosis, Cornish–Fisher);
# Monte Carlo draws from a multivariate normal fitted to the window.

# %%
methods = ("historical", "parametric", "montecarlo")
measured = {m: book_risk(book, method=m, confidence=confidence, n_scenarios=n_scenarios) for m in methods}
var_table = pd.DataFrame({m: {"VaR": r.var, "ES": r.es} for m, r in measured.items()}).T
pnl = book.returns @ book.weights  # the portfolio's daily returns over the window
cornish_fisher = parametric_var(pnl, confidence=confidence, distribution="cornish_fisher")
display(var_table.style.format("{:.3%}").set_caption(f"one-day {confidence:.0%} VaR and ES, fractions of equity"))
print(f"Cornish-Fisher VaR {cornish_fisher:.3%}")

# %% [markdown]
# ## 2. Where the VaR comes from
# Marginal VaR (per unit of weight), component VaR (sums to the parametric VaR) and
# incremental VaR (the change if the position were dropped).

# %%
decomposition = var_decomposition(book.returns, book.weights, confidence=confidence, names=list(book.weights.index))
display(decomposition.frame())

# %% [markdown]
# ## 3. Would this VaR have held?
# Re-estimate the VaR each day from the `backtest_window` days before it and count the days
# that lost more than it said.
# Kupiec tests the count, Christoffersen whether exceptions cluster; the Basel zone is the
# traffic light a regulator reads.

# %%
checked = var_backtest(pnl, method="historical", confidence=confidence, window=backtest_window)
display(checked)

# %% [markdown]
# ## 4. Stress
# Replay the worst 1-, 5- and 20-day windows of the history on today's positions, and apply
# hypothetical shocks (by symbol, by `sector:<name>`, or to the whole `market`).

# %%
stress = stress_positions(book.values.to_dict(), book.returns,
                          shocks={"market -20%": {"market": -0.20}, "NVDA -40%": {"NVDA": -0.40}})  # fmt: skip
display(stress)

# %% [markdown]
# ## 5. Limits and alerts
# Limits are fractions of equity; a check above `warn_at` × threshold (default 0.8) warns and
# above the threshold breaches. `check_limits` records each warning or breach as an alert
# episode in the store, which the risk monitor dashboard and compliance read.

# %%
limits = [Limit(name="var_99_1d", metric="var", threshold=var_limit, confidence=confidence),
          Limit(name="single_name", metric="single_name", threshold=single_name_limit)]  # fmt: skip
set_limits(store, "core", limits)
checks = check_limits(store, "core", lookback_days=lookback_days)
display(checks)
alerts = read_alerts(store, "core", status="open")
display(alerts[["limit_name", "subject", "severity", "message"]] if len(alerts) else alerts)

# %% [markdown]
# ## 6. The risk report
# Everything above in one object: tables and plotly figures in the notebook, one offline HTML
# page with `report.to_html(path)` (what `bifrost risk report core --out risk.html` writes).

# %%
report = risk_report(book, confidence=confidence, methods=("historical", "parametric"), window=backtest_window,
                     limits=checks)  # fmt: skip
display(report)

# %% tags=["summary"]
summary = {
    "window_start": str(book.window.start.date()),
    "window_end": str(book.window.end.date()),
    "observations": book.window.observations,
    "weights": book.weights.to_dict(),
    "var": {m: r.var for m, r in measured.items()},
    "es": {m: r.es for m, r in measured.items()},
    "var_cornish_fisher": cornish_fisher,
    "component_var_sum": float(decomposition.frame()["component"].sum()),
    "parametric_var": measured["parametric"].var,
    "backtest_exceptions": int(checked.n_exceptions),
    "backtest_zone": checked.zone,
    "worst_stress": float(stress.total.min()),
    "breaches": sorted(f"{r.limit_name}:{r.subject}" for r in checks.checks.itertuples() if r.severity == "breach"),
    "warnings": sorted(f"{r.limit_name}:{r.subject}" for r in checks.checks.itertuples() if r.severity == "warning"),
    "open_alerts": len(alerts),
}
display(JSON(summary))
