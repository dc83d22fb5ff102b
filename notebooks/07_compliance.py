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
# # 07 · Compliance: a rules file, a backtest that obeys it, a dry-run pre-trade check
#
# The firm's rules are declared in a TOML file (`compliance.toml`): each rule a kind and its
# limits, a severity (block or warn) and optional effective dates, so the rule set can change
# on a known day and an old decision is judged under the rules of its day. The same rules
# judge an order before it is sent (the order manager's compliance check) and a backtest's
# orders when they are created, so a researcher sees what compliance does to a strategy.
# Real prices: ORCL, NVDA and YHOO from backtrader's Yahoo files.
#
# 1. the rules file: validated on load (a typo is refused naming the line and the key),
# 2. the strategy backtested plain and under the rules, side by side: what the rules cost,
# 3. the orders the rules blocked, by rule and by day,
# 4. a dry run of the pre-trade rules on one order, as `bifrost compliance check` does it.

# %%
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
from IPython.display import JSON, Markdown, display

import bifrost
from bifrost.compliance import parse_rules
from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import RulesFileError
from bifrost.execution import OrderRequest, dry_run
from bifrost.figures import NotebookFigure
from bifrost.portfolio import CashFlow, CashKind, record_transactions
from bifrost.strategy import BacktestResult, Commission, FillModel, backtest

# %% tags=["parameters"]
data_dir = None  # None: ../shared/data beside the repository
home = None  # None: a fresh scratch store in a temporary folder; a path keeps the store
start = "2012-01-01"  # the bars from here (to the files' end, 2014-12-31)
symbols = ["NVDA", "ORCL", "YHOO"]
fast = 10  # sma_cross's averages
slow = 30
size = 0.3  # each entry buys this fraction of the equity
cash = 1_000_000.0
commission = 0.001  # a fraction of each fill's value
restricted = "YHOO"  # put on the restricted list (no new buys) from restricted_from
restricted_from = "2013-07-01"

# %%
DATA = Path(data_dir) if data_dir else Path(bifrost.__file__).resolve().parents[2] / "shared" / "data"
HOME = Path(home) if home else Path(tempfile.mkdtemp(prefix="bifrost-compliance-"))
store = EmbeddedStore(HOME)
files = {"NVDA": "nvda-1999-2014.txt", "ORCL": "orcl-1995-2014.txt", "YHOO": "yhoo-1996-2014.txt"}
for symbol in symbols:
    print(ingest(store, CsvSource(DATA / "backtrader" / files[symbol], symbol=symbol), start=start).summary())
panel = store.read_panel(list(symbols), adjustment="split_adjusted")

# %% [markdown]
# ## 1. The rules file
# Four rules: a restricted list that starts on a known day (a dated rule: before
# `restricted_from` it is not in force), a cap on gross exposure (the book's positions at the
# close over its NAV), a cap on one order's notional and the fat-finger price collar (a limit
# price more than 10% from the last close). The file is parsed by the same loader the order
# manager uses; its SHA-256 names this version of the rules in every decision.

# %%
RULES_TEXT = f"""\
version = 1

[[rule]]
id = "restricted"
kind = "restricted_list"
symbols = ["{restricted}"]
sides = "buy"
effective_from = {restricted_from}
description = "no new buys of {restricted} (on the restricted list from {restricted_from})"

[[rule]]
id = "gross"
kind = "gross_exposure"
max_fraction = 0.65
warn_at = 0.9
description = "the book's gross exposure at most 65% of NAV"

[[rule]]
id = "order_notional"
kind = "max_order_notional"
max_notional_usd = 500000
description = "no order above $500,000"

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.10
description = "limit price more than 10% from the last close"
"""
rules_path = HOME / "compliance.toml"
rules_path.write_text(RULES_TEXT)
rules = parse_rules(RULES_TEXT, source=str(rules_path))
display(Markdown(f"```toml\n{RULES_TEXT}```"))
display(rules)

# %% [markdown]
# A typo is refused before anything uses the file, naming the line and the key (and the
# nearest known key); the rules in force stay as they were.

# %%
try:
    parse_rules(RULES_TEXT.replace("max_fraction = 0.65", "max_fracton = 0.65"), source="compliance.toml")
    typo_error = ""
except RulesFileError as exc:
    typo_error = str(exc)
print(typo_error)

# %% [markdown]
# ## 2. The strategy, plain and under the rules
# `sma_cross` on the three names, each entry `size` of the equity. Under the rules, each order
# is judged when it is created (at the bar's close, on the book at that close, as the order
# manager judges a paper order sent at the close); a blocked order is recorded as rejected
# with the rule's reason and never fills.

# %%
params = {"fast": fast, "slow": slow, "size": size, "size_type": "percent"}
costs = FillModel(commission=Commission(percent=commission))
plain = backtest(panel, "sma_cross", params, cash=cash, fill=costs)
ruled = backtest(panel, "sma_cross", params, cash=cash, fill=costs, rules=rules, portfolio="research")


def headline(result: BacktestResult) -> dict[str, float]:
    return {
        "final value": result.final_value,
        "total return": result.metrics["total_return"],
        "Sharpe": result.metrics["sharpe_ratio"],
        "max drawdown": result.metrics["max_drawdown"],
        "trades": result.n_trades,
        "orders": len(result.orders),
        "blocked": len(result.compliance),
    }


side_by_side = pd.DataFrame({"plain": headline(plain), "under the rules": headline(ruled)})
side_by_side["rules cost"] = side_by_side["under the rules"] - side_by_side["plain"]
with pd.option_context("display.float_format", "{:,.4f}".format):
    display(side_by_side)
print(f"rule versions a backtest cannot apply: {len(ruled.rules_skipped) or 'none'}")

# %%
figure = NotebookFigure()
figure.add_scatter(x=plain.equity.index, y=plain.equity, mode="lines", name="plain")
figure.add_scatter(x=ruled.equity.index, y=ruled.equity, mode="lines", name="under the rules")
figure.add_vline(x=pd.Timestamp(restricted_from, tz="UTC"), line_dash="dot", line_color="#7f7f7f")
figure.update_layout(title=f"sma_cross({fast}, {slow}) on {', '.join(symbols)}: equity, plain and under the rules",
                     height=420)  # fmt: skip

# %% [markdown]
# ## 3. What the rules blocked
# Each blocked order with the rule that blocked it and the reason, as the order manager would
# have given it; then, per rule, the orders it blocked and those it let through with a warning
# (the gross-exposure rule warns from 90% of its limit; an order two rules block counts for
# both). Not only entries are lost: a cap on one order's notional also stops the exit of a
# position that has grown past it, so the position stays on until a smaller order can close it.

# %%
blocked = ruled.compliance
display(blocked.head(10))
by_rule = ruled.compliance_summary().set_index("rule")
display(by_rule)

# %% [markdown]
# ## 4. A dry run of the pre-trade rules
# `dry_run` judges an order as the order manager would now (the book from the ledger, the last
# closes), recording nothing: a limit buy of ORCL priced 20% over its last close is stopped by
# the collar; the same order at the close passes; a buy of the restricted name is blocked.

# %%
record_transactions(
    store, "desk", [CashFlow(txn_id="deposit", ts=panel.ts[0], kind=CashKind.DEPOSIT, amount=Decimal(1_000_000))],
    create=True,
)  # fmt: skip
last_close = float(panel["close"][-1, list(panel.symbols).index("ORCL")])
now = panel.ts[-1] + pd.Timedelta(hours=23)


def order(symbol: str, limit: float | None = None) -> OrderRequest:
    if limit is None:
        return OrderRequest.create(portfolio="desk", symbol=symbol, side="buy", quantity=100)
    return OrderRequest.create(portfolio="desk", symbol=symbol, side="buy", quantity=100, order_type="limit",
                               limit_price=f"{limit:.2f}")  # fmt: skip


fat_finger = dry_run(store, order("ORCL", last_close * 1.2), rules=rules, now=now)
at_close = dry_run(store, order("ORCL", last_close), rules=rules, now=now)
restricted_buy = dry_run(store, order(restricted), rules=rules, now=now)
for label, decision in (("ORCL limit at +20%", fat_finger), ("ORCL limit at the close", at_close),
                        (f"{restricted} market", restricted_buy)):  # fmt: skip
    print(f"{label}: {decision.verdict}" + (f" ({decision.reason()})" if decision.reason() else ""))
display(fat_finger.summary())

# %% tags=["summary"]
display(JSON({
    "rules_hash": rules.hash,
    "n_rules": len(rules.rules),
    "typo_error": typo_error,
    "plain_final_value": plain.final_value,
    "rules_final_value": ruled.final_value,
    "plain_sharpe": plain.metrics["sharpe_ratio"],
    "rules_sharpe": ruled.metrics["sharpe_ratio"],
    "plain_trades": plain.n_trades,
    "rules_trades": ruled.n_trades,
    "blocked": len(blocked),
    "blocked_by_rule": {str(k): int(v) for k, v in by_rule["blocked"].items() if v},
    "warned_by_rule": {str(k): int(v) for k, v in by_rule["warned"].items() if v},
    "first_restricted_block": None if not (blocked["rule"] == "restricted").any()
    else str(blocked.loc[blocked["rule"] == "restricted", "ts"].min().date()),
    "dry_run": {"fat_finger": fat_finger.verdict, "at_close": at_close.verdict, "restricted": restricted_buy.verdict},
    "fat_finger_reason": fat_finger.reason(),
}))  # fmt: skip
