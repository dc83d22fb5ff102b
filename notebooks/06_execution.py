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
# # 06 · Execution: orders, the paper broker beside the backtest, the audit trail
#
# Research becomes trading here. This notebook follows one order through its life, sends orders
# through the **order manager** (pre-trade checks, write-ahead, durable events) to the **paper
# broker**, paper trades a strategy day by day **beside its backtest** (same fills, to the bit),
# and checks the **audit trail** that recorded all of it, with an inclusion proof a third party
# can verify without the log. Real prices: ORCL from backtrader's Yahoo file.
#
# 1. the order life cycle: a state machine written as data; an illegal event changes nothing,
# 2. the order manager and the paper broker: a fill, a resting limit canceled, rejections,
# 3. paper trading `sma_cross` day by day beside its backtest,
# 4. the audit trail: verified, its head, a record's inclusion proof.

# %%
import io
import json
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
from IPython.display import JSON, Markdown, display

import bifrost
from bifrost.compliance import audit_head, check_proof, export_audit, prove_inclusion, verify_audit
from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidTransitionError
from bifrost.execution import (
    Accepted,
    Filled,
    Order,
    OrderManager,
    OrderRequest,
    PaperBroker,
    Submitted,
    TradingState,
    fill_basis,
    list_orders,
    set_trading_state,
    state_diagram,
)
from bifrost.figures import NotebookFigure
from bifrost.portfolio import CashFlow, CashKind, load_portfolio, record_transactions
from bifrost.strategy import Commission, FillModel, backtest, paper_trade

# %% tags=["parameters"]
data_dir = None  # None: ../shared/data beside the repository
home = None  # None: a fresh scratch store in a temporary folder; a path keeps the store
start = "2013-01-01"  # ORCL's bars from here (to the file's end, 2014-12-31)
fast = 10  # sma_cross's averages
slow = 30
size = 100  # shares per entry
cash = 100_000.0
commission = 0.001  # a fraction of each fill's value

# %%
DATA = Path(data_dir) if data_dir else Path(bifrost.__file__).resolve().parents[2] / "shared" / "data"
HOME = Path(home) if home else Path(tempfile.mkdtemp(prefix="bifrost-execution-"))
store = EmbeddedStore(HOME)
print(ingest(store, CsvSource(DATA / "backtrader" / "orcl-1995-2014.txt", symbol="ORCL"), start=start).summary())
last_day = store.read_panel(["ORCL"]).ts[-1]

# %% [markdown]
# ## 1. The order life cycle
# An order changes only by applying an event, and only along an edge of the state machine.
# The table of edges is data; the diagram below is generated from it.

# %%
display(Markdown(f"```mermaid\n{state_diagram()}\n```"))

# %%
t0 = pd.Timestamp("2014-06-02", tz="UTC")
request = OrderRequest.create(portfolio="desk", symbol="ORCL", side="buy", quantity="100", client_order_id="demo-1")
order = Order(order_id="demo-1", request=request, ts_created=t0)
steps = [("created", order.status, order.filled_quantity)]


def fill(trade_id: str, quantity: int, price: str) -> Filled:
    return Filled(client_order_id="demo-1", ts=t0, trade_id=trade_id, quantity=Decimal(quantity), price=Decimal(price))


for event in (
    Submitted(client_order_id="demo-1", ts=t0),
    Accepted(client_order_id="demo-1", ts=t0, broker_order_id="B-1"),
    fill("T-1", 40, "41.50"),
):
    order.apply(event)
    steps.append((type(event).__name__, order.status, order.filled_quantity))

# %% [markdown]
# Illegal events raise and change nothing: 61 more shares would overfill the order (60 are
# left), and a trade id already applied is a duplicate.

# %%
refusals = []
for event in (fill("T-2", 61, "41.52"), fill("T-1", 10, "41.50")):
    try:
        order.apply(event)
    except InvalidTransitionError as exc:
        refusals.append(f"{type(exc).__name__}: {exc}")
print("\n".join(refusals))
print(order.status, order.filled_quantity, len(order.events), "events: unchanged")
order.apply(fill("T-2", 60, "41.52"))
steps.append(("Filled", order.status, order.filled_quantity))
display(pd.DataFrame(steps, columns=["event", "status", "filled"]))
print(f"average fill price {order.avg_fill_price}")

# %% [markdown]
# ## 2. Orders through the order manager to the paper broker
# The manager checks an order (its fields, the symbol, the tick, the portfolio; then the
# pre-trade checks: the portfolio's risk limits, its trading state and the compliance rules),
# writes it ahead, sends it, and makes the broker's answer durable before it returns. The paper broker fills with
# the backtest's fill model; here the clock is the last day's session end, so a market order
# has no later bar and fills at that day's close at once (its basis says so). The limit buy
# at 41.00 rests (8.8% under the close: inside the default rules' 10% price collar).

# %%
record_transactions(
    store, "desk", [CashFlow(txn_id="deposit", ts=t0, kind=CashKind.DEPOSIT, amount=Decimal(100_000))], create=True
)
clock = last_day + pd.Timedelta(hours=23)
broker = PaperBroker(store, clock=lambda: clock)
manager = OrderManager(store, broker, clock=lambda: clock)

filled = manager.submit(OrderRequest.create(portfolio="desk", symbol="ORCL", side="buy", quantity=100))
print(filled.status, filled.filled_quantity, "at", filled.avg_fill_price, "basis", fill_basis(min(filled.trade_ids)))
resting = manager.submit(
    OrderRequest.create(portfolio="desk", symbol="ORCL", side="buy", quantity=50, order_type="limit",
                        limit_price="41.00", time_in_force="gtc")
)  # fmt: skip
print(resting.status, "then", manager.cancel(resting.order_id).status)
too_big = manager.submit(OrderRequest.create(portfolio="desk", symbol="ORCL", side="buy", quantity=2_000))
print(too_big.status, too_big.reasons)
set_trading_state(store, "desk", TradingState.HALTED, reason="notebook: the kill switch by hand")
halted = manager.submit(OrderRequest.create(portfolio="desk", symbol="ORCL", side="buy", quantity=1))
print(halted.status, halted.reasons)
set_trading_state(store, "desk", TradingState.ACTIVE, reason="notebook: resumed")

# %%
blotter = list_orders(store, portfolio="desk")
display(blotter[["client_order_id", "side", "order_type", "quantity", "filled_quantity", "avg_fill_price", "status",
                 "reasons"]])  # fmt: skip
desk = load_portfolio(store, "desk", store_dividends=False)
print(f"desk holds {desk.position('ORCL').quantity} ORCL, cash {desk.cash:,.2f}")

# %% [markdown]
# ## 3. Paper trading a strategy beside its backtest
# `paper_trade` replays the bars one day at a time: the broker's market steps to the day
# (yesterday's orders fill at its open), the manager takes the fills into the ledger, and the
# strategy's signal on the bars up to that day becomes an order sent at its close. The
# backtest runs the same strategy on the same bars with the same fill model in one pass.

# %%
params = {"fast": fast, "slow": slow, "size": size}
costs = FillModel(commission=Commission(percent=commission))
paper = paper_trade(store, "sma_cross", "ORCL", params=params, cash=cash, fill_model=costs)
research = backtest(
    store.read_panel(["ORCL"], adjustment="split_adjusted"), "sma_cross", params, cash=cash, fill=costs,
    dividends="ignore",
)  # fmt: skip
columns = ["ts", "side", "quantity", "price", "commission"]
ours, theirs = paper.fills[columns].reset_index(drop=True), research.fills[columns].reset_index(drop=True)
same_fills = ours.astype(str).equals(theirs.astype(str))
print(f"{len(ours)} paper fills, {len(theirs)} backtest fills, identical: {same_fills}")
print(f"final value: paper {paper.final_value!r}, backtest {research.final_value!r}")
display(ours.assign(basis=paper.fills["basis"]).head(6))

# %%
close = store.read_panel(["ORCL"], adjustment="split_adjusted").frame("close")["ORCL"]
figure = NotebookFigure()
figure.add_scatter(x=close.index, y=close, mode="lines", name="ORCL close", line={"color": "#7f7f7f"})
for side, colour in (("buy", "#2ca02c"), ("sell", "#d62728")):
    shown = paper.fills[paper.fills["side"] == side]
    figure.add_scatter(x=shown["ts"], y=shown["price"], mode="markers", name=f"paper {side}",
                       marker={"color": colour, "size": 9})  # fmt: skip
    again = research.fills[research.fills["side"] == side]
    figure.add_scatter(x=again["ts"], y=again["price"], mode="markers", name=f"backtest {side}",
                       marker={"color": colour, "size": 15, "symbol": "circle-open"})  # fmt: skip
figure.update_layout(title=f"sma_cross({fast}, {slow}) on ORCL: the paper fills inside the backtest's", height=420)

# %% [markdown]
# ## 4. The audit trail
# Every order event, fill, pre-trade decision and trading-state change above appended a
# record, in the transaction of the change, to a hash-chained log with Merkle checkpoints.
# `verify_audit` recomputes it all; the head is what one publishes; an inclusion proof shows
# that one record is in the log, checked against the root alone.

# %%
verified = verify_audit(store)
head = audit_head(store)
print(verified)
out = io.StringIO()
export_audit(store, out)
log = pd.DataFrame([json.loads(line) for line in out.getvalue().splitlines()])
display(log["kind"].value_counts().rename("records"))

# %%
fill_seq = int(log[log["kind"] == "fill"]["seq"].iloc[0]) if (log["kind"] == "fill").any() else int(log["seq"].iloc[0])
proof = prove_inclusion(store, fill_seq)
root = head.checkpoint_root if proof["checkpoint"] else head.root
proof_ok = check_proof(proof, root=root)
forged = {**proof, "record": {**proof["record"], "payload": {**proof["record"]["payload"], "forged": True}}}
forged_ok = check_proof(forged, root=root)
print(f"record {fill_seq} ({proof['record']['kind']}): a proof of {len(json.dumps(proof))} bytes, "
      f"{len(proof['path'])} hashes; checks: {proof_ok}; with its payload altered: {forged_ok}")  # fmt: skip

# %% tags=["summary"]
display(JSON({
    "lifecycle": [str(s) for _, s, _ in steps],
    "refusals": refusals,
    "desk_orders": blotter["status"].tolist(),
    "desk_position": float(desk.position("ORCL").quantity),
    "paper_fills": len(ours),
    "same_fills": same_fills,
    "paper_final_value": paper.final_value,
    "backtest_final_value": research.final_value,
    "audit_ok": verified.ok,
    "audit_records": verified.records,
    "audit_head": head.hash,
    "proof_seq": fill_seq,
    "proof_ok": proof_ok,
    "forged_ok": forged_ok,
}))  # fmt: skip
