"""Execution benchmark: orders through the whole path, the kill soak, reconciling open orders, the audit trail.

- ``throughput``: market orders (10 ORCL, buys and sells in turn) through the whole path:
  `OrderManager.submit` with the default pre-trade checks (the risk limits, the trading
  state), the paper broker (no later bar: each fills at the last close at once), every event,
  fill and ledger entry durable with its audit records before `submit` returns. Orders/s
  and the p50/p99 latency of one `submit` (one at a time), and orders/s of `submit_many` in
  batches (``--batch``: one write-ahead commit and one answer commit per batch, what a
  rebalance job sends; its latency is the batch's), on the embedded store (its ``state.sqlite`` with
  ``synchronous=FULL``: every commit waits for the disk), the embedded store on a RAM disk
  (``/dev/shm``: the same code without the disk's flush, where there is one) and PostgreSQL.
- ``soak``: a forked child per kill (everything imported before the fork) trades one
  portfolio (reconcile on start, market orders, GTC limits, cancels, the broker stepped a
  session every few kills) and is SIGKILLed at a random point: at a random step boundary
  (``on_step``) or after a random delay by the parent; the parent reconciles and counts
  divergences (a fill lost or applied twice, a working order forgotten, the ledger's
  positions not the broker's, an order left in doubt).
- ``reconcile``: time for a restarted manager to reconcile N open GTC orders (default 1,000).
- ``audit``: the audit trail's verify and proof rows (`benchmarks/_audit_bench.py`).

    python benchmarks/execution.py [--only throughput|soak|reconcile|audit] [--orders 10000] [--batch 100]
        [--kills 10000] [--open-orders 1000] [--audit-records 1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the kill test's flow lives in tests/

from benchmarks import _audit_bench
from bifrost.data import BarStore, EmbeddedStore
from bifrost.data._postgres import PostgresStore
from bifrost.execution._manager import STEPS, OrderManager
from bifrost.execution._order import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from bifrost.execution._paper import PaperBroker
from bifrost.portfolio import load_portfolio
from tests.execution._crash_child import FIRST_DAY, Clock, check_recovered, kill_at, reopen, seed

PG = "postgresql://postgres@127.0.0.1:5432/test"
SOAK_START = FIRST_DAY  # the seeded deposit is dated before it


def table(headers: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


@contextmanager
def stores(args: argparse.Namespace, *, ram: bool = True) -> Iterator[list[tuple[str, BarStore]]]:
    """Yield (label, empty store) for each backend measured, removing each afterwards."""
    places: list[tuple[str, str | None]] = [] if args.no_embedded else [("embedded (disk)", None)]
    if ram and not args.no_embedded and Path("/dev/shm").is_dir():
        places.append(("embedded (RAM disk)", "/dev/shm"))
    opened: list[tuple[str, BarStore]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        tempfile.TemporaryDirectory(dir="/dev/shm" if ram and Path("/dev/shm").is_dir() else None) as ram_tmp,
    ):
        for label, where in places:
            opened.append((label, EmbeddedStore(Path(ram_tmp if where else tmp) / "home")))
        schema = f"bench_exec_{uuid.uuid4().hex[:8]}"
        if args.postgres:
            opened.append(
                ("PostgreSQL", PostgresStore(args.postgres, home=Path(tmp) / "pg", schema=schema, timescale=False))
            )
        try:
            yield opened
        finally:
            for _, store in opened:
                if isinstance(store, PostgresStore):
                    with store.pool.connection() as con:
                        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                store.close()


# -- throughput -------------------------------------------------------------------------------------
def throughput(store: BarStore, n: int, batch: int = 1) -> list[str]:
    """Orders/s and latency: one `submit` per order (``batch`` 1) or `submit_many` of ``batch`` orders.

    The latency columns are per call: one order's `submit`, or one batch's `submit_many`.
    """
    seed(store, 1)
    manager = OrderManager(store, PaperBroker(store))
    requests = [
        OrderRequest(portfolio="P0", symbol="ORCL", side=Side.BUY if i % 2 == 0 else Side.SELL, quantity=Decimal(10))
        for i in range(n + 20)
    ]
    for r in requests[:20]:  # warm: the bars read, the account opened
        manager.submit(r)
    chunks = [requests[i : i + batch] for i in range(20, n + 20, batch)]
    latencies: list[float] = []
    started = time.perf_counter()
    for chunk in chunks:
        t0 = time.perf_counter()
        orders = [manager.submit(chunk[0])] if batch == 1 else manager.submit_many(chunk)
        latencies.append(time.perf_counter() - t0)
        for order in orders:
            if order.status is not OrderStatus.FILLED:
                raise SystemExit(f"order {order.order_id} ended {order.status}: {order.reasons}")
    total = time.perf_counter() - started
    ledger = load_portfolio(store, "P0", store_dividends=False)
    assert len(ledger.transactions) == n + 21, "every fill booked once"
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    mode = "one at a time (submit)" if batch == 1 else f"batches of {batch} (submit_many)"
    return [mode, f"{n:,}", f"{total:.1f}", f"{n / total:,.0f}", f"{q[49] * 1e3:.2f}", f"{q[98] * 1e3:.2f}"]


# -- the kill soak ----------------------------------------------------------------------------------
def soak_child(
    store: BarStore, portfolio: str, now: pd.Timestamp, rng: random.Random, on_step: Callable[[str], None] | None
) -> None:
    clock = Clock(now)
    broker = PaperBroker(store, clock=clock)
    manager = OrderManager(store, broker, clock=clock, on_step=on_step)
    broker.advance(now)  # the session's bars (a no-op when already processed)
    manager.reconcile()  # a restart reconciles first
    manager.process_events()
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        held = load_portfolio(store, portfolio, store_dividends=False).position("ORCL").quantity
        if roll < 0.5:
            side = Side.SELL if held > 0 and rng.random() < 0.5 else Side.BUY
            manager.submit(
                OrderRequest(portfolio=portfolio, symbol="ORCL", side=side, quantity=Decimal(rng.randint(1, 20)))
            )
        elif roll < 0.8:
            manager.submit(OrderRequest(portfolio=portfolio, symbol="ORCL", side=Side.BUY, quantity=Decimal(5),
                                        order_type=OrderType.LIMIT, limit_price=Decimal("1.00"),
                                        time_in_force=TimeInForce.GTC))  # fmt: skip
        else:
            working = manager.orders(portfolio=portfolio, open_only=True)
            if working:
                manager.cancel(rng.choice(working).client_order_id)
    manager.process_events()


def soak(store: BarStore, kills: int, seed_: int = 1) -> list[str]:
    seed(store, 1)
    portfolio = "P0"
    rng = random.Random(seed_)
    divergences = steps_killed = timer_killed = finished = 0
    first: list[str] = []
    started = time.perf_counter()
    for k in range(kills):
        now = SOAK_START + pd.offsets.BDay(k // 3) + pd.Timedelta(hours=21)  # a session every 3 kills
        child_rng = random.Random(rng.random())
        by_step = rng.random() < 0.5
        step, occurrence = rng.choice(STEPS), rng.randint(1, 3)
        delay_s = rng.uniform(0.0, 0.25)
        pid = os.fork()
        if pid == 0:
            try:
                soak_child(reopen(store), portfolio, now, child_rng, kill_at(step, occurrence) if by_step else None)
            except BaseException:
                os._exit(3)
            os._exit(0)
        if not by_step:
            time.sleep(delay_s)
            with suppress(ProcessLookupError):  # it finished first
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            steps_killed += by_step
            timer_killed += not by_step
        elif os.WEXITSTATUS(status) == 0:
            finished += 1
        else:
            divergences += 1  # the child failed on its own: a refused start counts as a divergence
            first.append(f"kill {k}: the child exited {os.WEXITSTATUS(status)}")
        found = check_recovered(store, portfolio, now)
        if found:
            divergences += 1
            first.append(f"kill {k}: {found[0]}")
    total = time.perf_counter() - started
    for line in first[:5]:
        print("divergence:", line, file=sys.stderr)
    return [f"{kills:,}", str(steps_killed), str(timer_killed), str(finished), str(divergences), f"{total:.0f}"]


# -- reconcile N open orders ----------------------------------------------------------------------------
def reconcile_open(store: BarStore, n: int) -> list[str]:
    seed(store, 1)
    clock = Clock(SOAK_START + pd.Timedelta(hours=21))
    manager = OrderManager(store, PaperBroker(store, clock=clock), clock=clock)
    for _ in range(n):
        manager.submit(OrderRequest(portfolio="P0", symbol="ORCL", side=Side.BUY, quantity=Decimal(1),
                                    order_type=OrderType.LIMIT, limit_price=Decimal("1.00"),
                                    time_in_force=TimeInForce.GTC))  # fmt: skip
    restarted = OrderManager(store, PaperBroker(store, clock=clock), clock=clock)
    t0 = time.perf_counter()
    report = restarted.reconcile()
    elapsed = time.perf_counter() - t0
    assert report.ok and report.orders_checked == n
    return [f"{n:,}", f"{elapsed:.2f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["throughput", "soak", "reconcile", "audit"])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100, help="orders per submit_many call (1: one at a time only)")
    parser.add_argument("--kills", type=int, default=10_000)
    parser.add_argument("--open-orders", type=int, default=1_000)
    parser.add_argument("--audit-records", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=PG, help="'' to skip PostgreSQL")
    parser.add_argument("--no-embedded", action="store_true", help="measure PostgreSQL only")
    args = parser.parse_args(argv)
    run = {args.only} if args.only else {"throughput", "soak", "reconcile", "audit"}
    if "throughput" in run:
        body = []
        for batch in sorted({1, args.batch}):
            with stores(args) as each:
                for label, store in each:
                    body.append([label, *throughput(store, args.orders, batch)])
        print("### Orders through the whole path (market orders, risk limits, paper broker, durable events, audit)\n")
        print(f"(load average before: {os.getloadavg()[0]:.2f}; latency per call: one order, or one batch)\n")
        headers = ["store", "mode", "orders", "seconds", "orders/s", "p50 ms", "p99 ms"]
        print(table(headers, body), "\n")
    if "soak" in run:
        body = []
        with stores(args, ram=False) as each:
            for label, store in each:
                body.append([label, *soak(store, args.kills)])
        print("### Kill soak (a forked child per kill; SIGKILL at a random step boundary or after a random delay)\n")
        headers = ["store", "kills", "at a step", "by timer", "finished first", "divergences", "seconds"]
        print(table(headers, body), "\n")
    if "reconcile" in run:
        body = []
        with stores(args, ram=False) as each:
            for label, store in each:
                body.append([label, *reconcile_open(store, args.open_orders)])
        print("### Reconcile on restart (open GTC orders, each asked by client order id)\n")
        print(table(["store", "open orders", "reconcile s"], body), "\n")
    if "audit" in run:
        body = []
        with stores(args, ram=False) as each:
            for label, store in each:
                body += _audit_bench.rows(store, label, args.audit_records)
        print("### Audit trail (benchmarks/_audit_bench.py)\n")
        print(table(_audit_bench.HEADERS, body), "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
