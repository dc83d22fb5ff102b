"""The order flow that the kill test and the kill soak run in a child process, and what they check after.

`seed` makes a store ready (ORCL's bars, one portfolio per run with a deposit); `run_flow`
runs one portfolio's orders through every step of the order manager (submit with a fill at
the next open, a working GTC limit order, events polled, a sell, a cancel, a reconcile),
the manager's ``on_step`` deciding where the child dies; `check_recovered` restarts a
manager on the same store and paper broker state, reconciles and returns what diverges
(empty: no fill lost, none applied twice, no working order forgotten, the ledger's
positions equal the broker's).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bifrost.data import BarStore, CsvSource, EmbeddedStore, Store, ingest
from bifrost.data._postgres import PostgresStore
from bifrost.execution._manager import OrderManager
from bifrost.execution._order import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from bifrost.execution._paper import PaperBroker
from bifrost.execution._schema import EXECUTION_SCHEMA
from bifrost.portfolio import CashFlow, CashKind, load_portfolio, record_transactions

ORCL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "backtrader" / "orcl-1995-2014.txt"
FIRST_DAY = pd.Timestamp("2010-01-04", tz="UTC")  # a Monday of ORCL's history; each run takes a week


@dataclass(slots=True)
class Clock:
    """The time the manager and the paper broker share, stepped by the flow."""

    now: pd.Timestamp

    def __call__(self) -> pd.Timestamp:
        return self.now


def seed(store: BarStore, portfolios: int) -> None:
    """Ingest ORCL and create portfolios P0..P{n-1}, each with a deposit of 1,000,000."""
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    for i in range(portfolios):
        deposit = CashFlow(txn_id="deposit", ts=FIRST_DAY - pd.Timedelta(days=30), kind=CashKind.DEPOSIT,
                           amount=Decimal(1_000_000))  # fmt: skip
        record_transactions(store, f"P{i}", [deposit], create=True)


def day(run: int, k: int) -> pd.Timestamp:
    """The k-th business day of run ``run``, at 21:00 UTC (after the close)."""
    return FIRST_DAY + pd.offsets.BDay(run * 7 + k) + pd.Timedelta(hours=21)


def parts(store: Store, run: int, on_step: Callable[[str], None] | None) -> tuple[OrderManager, PaperBroker, Clock]:
    """A manager and a paper broker on ``store`` sharing one clock, at run ``run``'s first day."""
    clock = Clock(day(run, 0))
    broker = PaperBroker(store, clock=clock)
    return OrderManager(store, broker, clock=clock, on_step=on_step), broker, clock


def run_flow(store: Store, run: int, on_step: Callable[[str], None] | None = None) -> None:
    """Run portfolio P{run}'s orders through every step of the flow."""
    manager, broker, clock = parts(store, run, on_step)
    portfolio = f"P{run}"

    def order(tag: str, side: Side, quantity: int, **kw: object) -> OrderRequest:
        return OrderRequest(portfolio=portfolio, symbol="ORCL", side=side, quantity=Decimal(quantity),
                            client_order_id=f"r{run}-{tag}", **kw)  # type: ignore[arg-type]  # fmt: skip

    manager.submit(order("buy", Side.BUY, 100))  # fills at the next open
    manager.submit(order("limit", Side.BUY, 10, order_type=OrderType.LIMIT, limit_price=below(store, clock.now),
                         time_in_force=TimeInForce.GTC))  # fmt: skip  # works, never fills
    clock.now = day(run, 1)
    broker.advance(clock.now)
    manager.process_events()
    manager.submit(order("sell", Side.SELL, 40))
    clock.now = day(run, 2)
    broker.advance(clock.now)
    manager.process_events()
    manager.cancel(f"r{run}-limit")
    manager.submit(order("limit2", Side.BUY, 5, order_type=OrderType.LIMIT, limit_price=below(store, clock.now),
                         time_in_force=TimeInForce.GTC))  # fmt: skip
    manager.reconcile()


def below(store: Store, now: pd.Timestamp) -> Decimal:
    """A buy limit that works and does not fill in a run's week: 9.5% under ORCL's last close at ``now``.

    Inside the default compliance price collar (10% from the last close), which blocks a limit further away.
    """
    closes = store.read_bars("ORCL", end=now + pd.Timedelta(seconds=1), fields=["close"])["close"]
    return Decimal(str(round(float(closes.iloc[-1]) * 0.905, 2)))


def kill_at(step: str, occurrence: int = 1) -> Callable[[str], None]:
    """An ``on_step`` that SIGKILLs this process at the ``occurrence``-th time ``step`` is reached."""
    seen = [0]

    def on_step(name: str) -> None:
        if name == step:
            seen[0] += 1
            if seen[0] == occurrence:
                os.kill(os.getpid(), signal.SIGKILL)

    return on_step


def check_recovered(store: Store, portfolio: str, now: pd.Timestamp) -> list[str]:
    """Restart on ``store`` at ``now``, reconcile, and list every divergence of ``portfolio``'s book from the broker."""
    clock = Clock(now)
    broker = PaperBroker(store, clock=clock)
    manager = OrderManager(store, broker, clock=clock)
    problems: list[str] = []
    try:
        manager.reconcile()
    except Exception as exc:  # a divergence is what this reports
        problems.append(f"reconcile failed: {exc}")
    broker_fills = sorted((f.client_order_id, f.trade_id) for f in broker.fills(portfolio))
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        local_fills = sorted(
            (str(c), str(t))
            for c, t in db.rows(
                "SELECT client_order_id, trade_id FROM {t}execution_fills WHERE portfolio = ?", (portfolio,)
            )
        )
    if broker_fills != local_fills:
        problems.append(f"fills differ: broker {broker_fills}, book {local_fills}")
    ledger = load_portfolio(store, portfolio, store_dividends=False)
    ledger_fills = [t for t in ledger.transactions if t.txn_id != "deposit"]
    if len(ledger_fills) != len(broker_fills):
        problems.append(f"the ledger has {len(ledger_fills)} fills, the broker {len(broker_fills)}")
    positions = {p.symbol: p.quantity for p in ledger.positions() if p.quantity}
    if positions != broker.positions(portfolio):
        problems.append(f"positions differ: ledger {positions}, broker {broker.positions(portfolio)}")
    working_there = {o.client_order_id for o in broker.open_orders(portfolio)}
    working_here = {o.client_order_id for o in manager.orders(portfolio=portfolio, open_only=True)}
    if working_there != working_here:
        problems.append(f"working orders differ: broker {sorted(working_there)}, book {sorted(working_here)}")
    for o in manager.orders(portfolio=portfolio):
        if o.status is OrderStatus.SUBMITTED or o.in_doubt:
            problems.append(f"order {o.client_order_id} left {o.status}{' in doubt' if o.in_doubt else ''}")
    return problems


def reopen(store: Store) -> BarStore:
    """A new store object on the same store (a child process must not use its parent's connections)."""
    if isinstance(store, PostgresStore):
        return PostgresStore(store.url, home=store.home, schema=store.schema, pool_size=1, timescale=False)
    assert isinstance(store, EmbeddedStore)
    return EmbeddedStore(store.home)


def fork_run(store: Store, run: int, on_step: Callable[[str], None] | None) -> int:
    """Run `run_flow` in a forked child on a reopened store; return its wait status."""
    pid = os.fork()
    if pid == 0:  # the child: run, then leave without cleanup (as a killed process would)
        try:
            run_flow(reopen(store), run, on_step)
        except BaseException:
            os._exit(3)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return status
