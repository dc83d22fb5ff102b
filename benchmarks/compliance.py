"""Compliance benchmark: the pre-trade rules alone, the order path with them on, the compliance-aware sweep.

- ``engine``: `ComplianceEngine.evaluate` alone, one order at a time: 20 pre-trade rules (every
  pre-trade kind, some twice with other limits or as warnings) on a book of 1,000 positions
  (prices, 11 sectors, issuers, working orders, 200 recent orders, day trades); orders drawn at
  random (market and limit, buys and sells, in held names and a tenth more new ones). p50/p99 per order, and the
  verdicts (so the rules are seen to decide, not to short-circuit). Target: p99 < 1 ms.
- ``path``: market orders through the whole path of ``benchmarks/execution.py`` (the order
  manager, the paper broker filling at the last close, durable events, the audit trail) with
  the checks `RiskLimitCheck`, `TradingStateCheck` and `ComplianceCheck` with the same 20 rules
  (each decision audited with its rules' inputs), against the same path without the
  compliance check, one order at a time (`submit`) and in batches (``--path-batch``,
  `submit_many`). Orders/s and p50/p99 per call. Target: >= 2,000 orders/s, p99 < 5 ms.
- ``sweep``: the compliance-aware ``sma_cross`` sweep of ``benchmarks/_compliance_sweep.py``
  (the 50,000-backtest case of ``benchmarks/backtest.py`` with 5 rules) against the plain one,
  and its rejections against the order manager's. Target: at most 2x the plain sweep's time.

    python benchmarks/compliance.py [--only engine|path|sweep] [--orders 20000] [--path-orders 2000]
        [--symbols 1000] [--path-batch 100] [--postgres URL] [--sweep-symbols 500] [--sweep-bars 5000]
        [--sweep-repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.execution and tests/ helpers

from benchmarks.execution import PG, stores, table
from bifrost.compliance._engine import ComplianceEngine
from bifrost.compliance._model import BookState, ProposedOrder, RecentOrder
from bifrost.compliance._rules import parse_rules
from bifrost.data import BarStore
from bifrost.execution import (
    EXECUTION_SCHEMA,
    BookView,
    CheckResult,
    MarketView,
    PreTradeCheck,
    RiskLimitCheck,
    TradingStateCheck,
)
from bifrost.execution._compliance import ComplianceCheck
from bifrost.execution._manager import OrderManager
from bifrost.execution._order import OrderRequest, OrderStatus, Side
from bifrost.execution._paper import PaperBroker
from bifrost.portfolio import load_portfolio
from tests.execution._crash_child import seed

SECTORS = ("tech", "health", "financials", "energy", "industrials", "staples", "discretionary", "materials",
           "utilities", "real_estate", "telecom")  # fmt: skip

# 20 pre-trade rules: every pre-trade kind once, six again with other limits or as warnings. Lenient enough
# that the order path's orders pass (its book holds one name); the engine's random orders trip some of them.
RULES_20 = """\
version = 1

[[rule]]
id = "restricted"
kind = "restricted_list"
symbols = ["S0990", "S0991", "S0992", "S0993", "S0994", "S0995", "S0996", "S0997", "S0998", "S0999", "ENRN"]

[[rule]]
id = "no_sells_of_locked"
kind = "restricted_list"
symbols = ["S0500", "S0501"]
sides = "sell"

[[rule]]
id = "max_qty"
kind = "max_order_quantity"
max_shares = 100000

[[rule]]
id = "max_notional"
kind = "max_order_notional"
max_notional_usd = 5000000

[[rule]]
id = "large_notional"
kind = "max_order_notional"
max_notional_usd = 1000000
severity = "warn"

[[rule]]
id = "position"
kind = "max_position_pct_nav"
max_fraction = 0.10
warn_at = 0.8

[[rule]]
id = "position_hard"
kind = "max_position_pct_nav"
max_fraction = 0.25

[[rule]]
id = "sector"
kind = "sector_concentration"
max_fraction = 0.40
warn_at = 0.9

[[rule]]
id = "sector_warn"
kind = "sector_concentration"
max_fraction = 0.30
severity = "warn"

[[rule]]
id = "issuer"
kind = "issuer_concentration"
max_fraction = 0.15

[[rule]]
id = "gross"
kind = "gross_exposure"
max_fraction = 1.5

[[rule]]
id = "gross_warn"
kind = "gross_exposure"
max_fraction = 1.2
severity = "warn"

[[rule]]
id = "no_naked_shorts"
kind = "short_sale"

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.10

[[rule]]
id = "collar_warn"
kind = "price_collar"
max_deviation = 0.05
severity = "warn"

[[rule]]
id = "duplicates"
kind = "duplicate_order"
window_seconds = 5

[[rule]]
id = "rate"
kind = "order_rate"
max_orders = 1000000
per_seconds = 1

[[rule]]
id = "kill_switch"
kind = "daily_loss_limit"
max_loss_fraction = 0.05

[[rule]]
id = "pdt"
kind = "pattern_day_trader"

[[rule]]
id = "intraday_margin"
kind = "intraday_margin"
"""

# the 5 rules of the compliance-aware sweep are benchmarks/_compliance_sweep.py's own


def _q(values: Sequence[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100) if len(values) > 1 else [values[0]] * 99
    return q[49], q[98]


# -- the engine alone ------------------------------------------------------------------------------------
def synthetic_book(n_symbols: int, seed_: int = 7) -> tuple[BookState, list[str]]:
    """A book holding ``n_symbols`` names (long, a tenth short) and the orders' universe: those and a tenth more.

    With prices for all, 11 sectors, issuers (two names each), 20 names with working orders,
    200 recent orders and two day trades; equity is 1.2 × the gross exposure, so most names
    sit well under a 10% position and the position and concentration rules decide on
    their numbers rather than on a missing one.
    """
    rng = random.Random(seed_)
    symbols = [f"S{i:04d}" for i in range(n_symbols + n_symbols // 10)]
    prices = {s: round(rng.uniform(5.0, 500.0), 2) for s in symbols}
    positions = {s: float(rng.randint(1, 40) * 10 * (1 if rng.random() < 0.9 else -1)) for s in symbols[:n_symbols]}
    pending = {s: float(rng.randint(-5, 5) * 10 or 10) for s in rng.sample(symbols, 20)}
    gross = sum(abs(q) * prices[s] for s, q in positions.items())
    net = sum(q * prices[s] for s, q in positions.items())
    cash = 1.2 * gross - net  # equity = 1.2 x gross
    equity = cash + net
    ts = pd.Timestamp("2026-11-30 15:30", tz="UTC")
    recent = [
        RecentOrder(
            ts=ts - pd.Timedelta(seconds=rng.randint(1, 20_000)), client_order_id=f"r{i}", symbol=rng.choice(symbols),
            side=Side.BUY if rng.random() < 0.5 else Side.SELL, quantity=Decimal(rng.randint(1, 50) * 10),
            order_type="market", limit_price=None, status="filled",
        )
        for i in range(200)
    ]  # fmt: skip
    recent.sort(key=lambda r: r.ts)
    book = BookState(
        portfolio="bench", ts=ts, positions=positions, cash=cash, equity=equity, pending=pending, prices=prices,
        start_of_day_equity=equity * 1.01, sectors={s: SECTORS[i % len(SECTORS)] for i, s in enumerate(symbols)},
        issuers={s: f"issuer{i // 2}" for i, s in enumerate(symbols)}, recent_orders=recent,
        day_trades=tuple(pd.Timestamp("2026-11-2" + str(d)).date() for d in (3, 5)),
        opened_today={symbols[1]: 10.0, symbols[3]: -20.0}, long_only=False,
    )  # fmt: skip
    return book, symbols


def random_orders(book: BookState, symbols: list[str], n: int, seed_: int = 11) -> list[ProposedOrder]:
    rng = random.Random(seed_)
    out = []
    for i in range(n):
        symbol = rng.choice(symbols)
        last = book.prices[symbol]
        limit = rng.random() < 0.5
        out.append(
            ProposedOrder(
                portfolio="bench", symbol=symbol, side=Side.BUY if rng.random() < 0.55 else Side.SELL,
                quantity=Decimal(rng.randint(1, 100) * 10), order_type="limit" if limit else "market",
                limit_price=Decimal(f"{last * rng.uniform(0.85, 1.15):.2f}") if limit else None,
                client_order_id=f"o{i}",
            )
        )  # fmt: skip
    return out


def engine_rows(n_orders: int, n_symbols: int) -> tuple[list[list[str]], float, float]:
    rules = parse_rules(RULES_20, source="benchmarks/compliance.py")
    engine = ComplianceEngine(rules)
    book, symbols = synthetic_book(n_symbols)
    orders = random_orders(book, symbols, n_orders)
    n_rules = len(engine.evaluate(orders[0], book).results)
    for order in orders[:500]:  # warm
        engine.evaluate(order, book)
    latencies: list[float] = []
    cpu: list[float] = []  # the thread's CPU time: on a shared machine the wall-clock tail is waiting for a core
    verdicts = {"pass": 0, "warn": 0, "block": 0}
    started = time.perf_counter()
    for order in orders:
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        decision = engine.evaluate(order, book)
        cpu.append((time.thread_time_ns() - c0) / 1e6)
        latencies.append((time.perf_counter_ns() - t0) / 1e6)
        verdicts[decision.verdict] += 1
    total = time.perf_counter() - started
    p50, p99 = _q(latencies)
    c50, c99 = _q(cpu)
    shown = ", ".join(f"{k} {v:,}" for k, v in verdicts.items())
    row = [f"{n_rules} rules, {len(book.positions):,} positions, orders in {len(symbols):,} names", f"{n_orders:,}",
           f"{n_orders / total:,.0f}", f"{p50:.3f} / {p99:.3f}", f"{c50:.3f} / {c99:.3f}", shown]  # fmt: skip
    return [row], p99, c99


# -- the whole order path with the rules on ---------------------------------------------------------------
class _Timed:
    """A pre-trade check that times another one's `check` (wall and the thread's CPU time) and is it otherwise."""

    def __init__(self, inner: PreTradeCheck) -> None:
        self.inner = inner
        self.name = inner.name
        self.wall_ms: list[float] = []
        self.cpu_ms: list[float] = []

    def check(self, request: OrderRequest, book: BookView, market: MarketView) -> CheckResult:
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        result = self.inner.check(request, book, market)
        self.cpu_ms.append((time.thread_time_ns() - c0) / 1e6)
        self.wall_ms.append((time.perf_counter_ns() - t0) / 1e6)
        return result

    def __getattr__(self, name: str) -> Any:  # preview_check, record_in: the order manager's optional hooks
        return getattr(self.inner, name)


def order_path(store: BarStore, n: int, checks: Sequence[PreTradeCheck], batch: int = 1) -> tuple[float, float, float]:
    """Orders/s, p50 and p99 (ms) of market orders through ``checks``: one `submit` each, or `submit_many` of ``batch``.

    Each order's quantity is its own (buy k, sell k in turn: the book goes flat every two),
    so that the duplicate-order rule sees no duplicate. The latencies are per call: one
    order's `submit`, or one batch's `submit_many`.
    """
    manager = OrderManager(store, PaperBroker(store), checks=checks)
    requests = [
        OrderRequest(portfolio="P0", symbol="ORCL", side=Side.BUY if i % 2 == 0 else Side.SELL,
                     quantity=Decimal(10 + i // 2))
        for i in range(n + 20)
    ]  # fmt: skip
    for r in requests[:20]:  # warm: the bars read, the account opened, the rules' hash audited
        manager.submit(r)
    latencies: list[float] = []
    chunks = [requests[i : i + batch] for i in range(20, n + 20, batch)]
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
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        ((judged,),) = db.rows("SELECT count(*) FROM {t}pretrade_decisions WHERE check_name = 'compliance'")
    assert judged == (n + 20 if any(c.name == "compliance" for c in checks) else 0), "every order judged by the rules"
    p50, p99 = _q(latencies)
    return n / total, p50 * 1e3, p99 * 1e3


def path_rows(args: argparse.Namespace) -> tuple[list[list[str]], dict[str, tuple[float, float, float]]]:
    rules = parse_rules(RULES_20, source="benchmarks/compliance.py")
    body: list[list[str]] = []
    measured: dict[str, tuple[float, float, float]] = {}
    batches = sorted({1, args.path_batch})
    for batch, (label_checks, with_rules) in (
        (b, c) for b in batches for c in (("without compliance", False), ("with ComplianceCheck (20 rules)", True))
    ):
        with stores(args) as each:
            for label, store in each:
                seed(store, 1)
                checks: list[PreTradeCheck] = [RiskLimitCheck(store), TradingStateCheck()]
                timed = _Timed(ComplianceCheck(store, rules)) if with_rules else None
                if timed is not None:
                    checks.append(timed)
                rate, p50, p99 = order_path(store, args.path_orders, checks, batch)
                mode = "one at a time" if batch == 1 else f"batches of {batch} (submit_many)"
                if batch == 1:
                    measured[f"{label}: {label_checks}"] = (rate, p50, p99)
                inside = "-"
                if timed is not None:  # the compliance check's own share of each order (the warm-up's left out)
                    w50, w99 = _q(timed.wall_ms[20:])
                    c50, c99 = _q(timed.cpu_ms[20:])
                    inside = f"{w50:.2f} / {w99:.2f} (CPU {c50:.2f} / {c99:.2f})"
                body.append([label, label_checks, mode, f"{args.path_orders:,}", f"{rate:,.0f}", f"{p50:.2f}",
                             f"{p99:.2f}", inside])  # fmt: skip
    return body, measured


# -- the compliance-aware sweep ----------------------------------------------------------------------------
def sweep_rows(args: argparse.Namespace) -> tuple[list[list[str]], dict[str, Any]]:
    from benchmarks import _compliance_sweep

    found: dict[str, Any] = _compliance_sweep.run(
        n_symbols=args.sweep_symbols, n_bars=args.sweep_bars, repeat=args.sweep_repeat
    )
    return found["rows"], found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", choices=["engine", "path", "sweep"])
    parser.add_argument("--orders", type=int, default=20_000, help="orders the engine evaluates")
    parser.add_argument("--symbols", type=int, default=1_000, help="positions in the engine's book")
    parser.add_argument("--path-orders", type=int, default=2_000, help="orders through the whole path, per store")
    parser.add_argument("--path-batch", type=int, default=100,
                        help="orders per submit_many call in the batched rows (1: one at a time only)")  # fmt: skip
    parser.add_argument("--postgres", default=PG, help="'' to skip PostgreSQL")
    parser.add_argument("--no-embedded", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--sweep-symbols", type=int, default=500)
    parser.add_argument("--sweep-bars", type=int, default=5_000)
    parser.add_argument("--sweep-repeat", type=int, default=3, help="each sweep's time: the median of this many runs")
    args = parser.parse_args(argv)
    run = {args.only} if args.only else {"engine", "path", "sweep"}
    print(f"(load average before: {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs)\n")
    targets: list[list[str]] = []
    if "engine" in run:
        body, p99, c99 = engine_rows(args.orders, args.symbols)
        print("### Pre-trade rule evaluation alone (ComplianceEngine.evaluate, one order at a time)\n")
        headers = ["book", "orders", "orders/s", "wall p50 / p99 ms", "CPU p50 / p99 ms", "verdicts"]
        print(table(headers, body), "\n")
        targets.append(["rules alone: p99 per order (20 rules, 1,000 symbols), wall clock", "< 1 ms", f"{p99:.3f} ms",
                        "met" if p99 < 1.0 else "not met"])  # fmt: skip
        targets.append(["rules alone: p99 per order, the thread's CPU time", "< 1 ms", f"{c99:.3f} ms",
                        "met" if c99 < 1.0 else "not met"])  # fmt: skip
    if "path" in run:
        body, measured = path_rows(args)
        print("### Orders through the whole path, with and without the compliance check\n")
        print("(latency per call: one order's submit, or one batch's submit_many)\n")
        headers = ["store", "checks", "mode", "orders", "orders/s", "p50 ms", "p99 ms",
                   "the compliance check: p50 / p99 ms"]  # fmt: skip
        print(table(headers, body), "\n")
        for key, (rate, _, p99) in measured.items():
            if "with ComplianceCheck" in key:
                ok = rate >= 2_000 and p99 < 5.0
                bare = measured.get(key.replace("with ComplianceCheck (20 rules)", "without compliance"))
                without = "" if bare is None else f" (without: {bare[0]:,.0f}/s, p99 {bare[2]:.2f} ms)"
                shown = f"{rate:,.0f}/s, p99 {p99:.2f} ms{without}"
                targets.append(
                    [f"whole path, {key}", ">= 2,000 orders/s, p99 < 5 ms", shown, "met" if ok else "not met"]
                )
    if "sweep" in run:
        body, found = sweep_rows(args)
        print("### The compliance-aware sma_cross sweep (benchmarks/_compliance_sweep.py)\n")
        runs = f"median of {args.sweep_repeat} runs each"
        print(f"({found['threads']} numba threads; {runs}; load average after: {found['load']:.2f})\n")
        print(table(list(found["headers"]), body), "\n")
        ratio = float(found["ratio"])
        targets.append(["compliance-aware sweep vs plain (5 rules), wall clock", "<= 2x", f"{ratio:.2f}x",
                        "met" if ratio <= 2.0 else "not met"])  # fmt: skip
        if "cpu_ratio" in found:
            cpu_ratio = float(found["cpu_ratio"])
            targets.append(["compliance-aware sweep vs plain, the process's CPU time", "<= 2x", f"{cpu_ratio:.2f}x",
                            "met" if cpu_ratio <= 2.0 else "not met"])  # fmt: skip
        if "rejections_equal" in found:
            targets.append(["its rejections vs the order manager's", "equal", str(found["rejections_equal"]),
                            "met" if found["rejections_equal"] is True else "not met"])  # fmt: skip
    print("### Against the targets of issue 15\n")
    print(table(["measure", "target", "measured", ""], targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
