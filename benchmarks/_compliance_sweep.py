"""The compliance-aware sweep: ``benchmarks/backtest.py``'s 50,000-backtest ``sma_cross`` sweep with 5 rules.

`run` times the sweep of 100 parameter sets (fast 5..50 by 5 × slow 20..200 by 20, 100
shares, every pair as ``benchmarks/backtest.py`` runs them) on ``n_symbols`` synthetic symbols
× ``n_bars`` bars (500 × 5,000: 50,000 backtests), plain and with the 5 compilable rules of
`rules_text` (a restricted list over a window of the history, dated order-quantity caps, a
NAV share per position, a gross exposure cap and a daily loss limit), each after a warm-up
that compiles and loads the kernels (excluded); and counts the orders the rules blocked.

Then, on a smaller market it can afford to run through the order manager (3 symbols × 400
bars, the same kinds of rules on its own dates), it checks that the sweep's blocked orders
per backtest equal the recorded backtest's, and that the recorded backtest rejects the same
orders (bar, side, quantity, rule) as `bifrost.strategy.paper_trade` through the order
manager with ``[RiskLimitCheck, TradingStateCheck, ComplianceCheck]`` and the paper broker.

Used by ``benchmarks/compliance.py`` (``--only sweep``); runs alone too::

    python benchmarks/_compliance_sweep.py [--symbols 500] [--bars 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FASTS = list(range(5, 55, 5))
SLOWS = list(range(20, 220, 20))
SIZE = 100.0
HEADERS = ("sweep", "backtests", "seconds", "CPU seconds", "backtests/s", "orders blocked", "vs plain (wall / CPU)")


def sma_cross_every_pair(panel: Any, *, fast: int = 10, slow: int = 30, size: float = 100.0) -> Any:
    """sma_cross without its fast < slow constraint: every pair of the grid, as benchmarks/backtest.py runs."""
    from bifrost.strategy import sma_cross

    return sma_cross(panel, fast=fast, slow=slow, size=size)


def rules_text(ts: pd.DatetimeIndex, symbols: tuple[str, ...]) -> str:
    """The 5 rules, dated on ``ts``'s span: each blocks orders of the sweep (but the daily loss limit, a guard)."""
    day = [d.date().isoformat() for d in ts[[len(ts) * k // 10 for k in range(10)]]]
    restricted = json.dumps(list(symbols[: max(1, len(symbols) // 10)]))
    return f"""
[[rule]]
id = "restricted"
kind = "restricted_list"
symbols = {restricted}
sides = "buy"
effective_from = {day[2]}
effective_to = {day[3]}

[[rule]]
id = "max_qty"
kind = "max_order_quantity"
max_shares = 1000
effective_to = {day[5]}

[[rule]]
id = "max_qty"
kind = "max_order_quantity"
max_shares = 50
effective_from = {day[6]}
effective_to = {day[7]}

[[rule]]
id = "position"
kind = "max_position_pct_nav"
max_fraction = 0.25

[[rule]]
id = "gross"
kind = "gross_exposure"
max_fraction = 0.95

[[rule]]
id = "kill_switch"
kind = "daily_loss_limit"
max_loss_fraction = 0.05
"""


def _panel(n_symbols: int, n_bars: int, seed: int = 11) -> Any:
    # benchmarks/backtest.py's market (make_market, load_panel): each symbol's bars contiguous (Fortran order)
    from bifrost.data import Panel, SyntheticMarket

    panel = Panel.from_bars(SyntheticMarket(n_symbols=n_symbols, n_days=n_bars, seed=seed).bars())
    fields = {f: np.asfortranarray(panel[f]) for f in ("open", "high", "low", "close", "volume")}
    return Panel(ts=panel.ts, symbols=tuple(f"S{i:03d}" for i in range(n_symbols)), fields=fields)


def _timed(fns: tuple[Any, Any], repeat: int) -> list[tuple[float, float, Any]]:
    # each function's median wall clock and process CPU time (every thread's: steadier on a shared
    # machine), the two run in turn so that a change in the machine's load falls on both alike
    times: list[list[float]] = [[], []]
    cpu: list[list[float]] = [[], []]
    out: list[Any] = [None, None]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0, c0 = time.perf_counter(), time.process_time()
            out[i] = fn()
            times[i].append(time.perf_counter() - t0)
            cpu[i].append(time.process_time() - c0)
    return [(statistics.median(times[i]), statistics.median(cpu[i]), out[i]) for i in range(2)]


def _parity(n_symbols: int = 3, n_bars: int = 400) -> dict[str, Any]:
    # the sweep vs the recorded backtests vs the order manager, on a market small enough to paper trade
    from bifrost.compliance._rules import parse_rules
    from bifrost.data import EmbeddedStore, SyntheticMarket, ingest
    from bifrost.errors import DataQualityWarning
    from bifrost.execution._checks import PreTradeCheck, RiskLimitCheck, TradingStateCheck
    from bifrost.execution._compliance import ComplianceCheck
    from bifrost.execution._manager import list_orders
    from bifrost.execution._schema import EXECUTION_SCHEMA
    from bifrost.strategy import backtest, sweep
    from bifrost.strategy._paper import paper_trade

    store = EmbeddedStore(Path(tempfile.mkdtemp(prefix="bench-compliance-parity-")))
    try:
        ingest(store, SyntheticMarket(n_symbols=n_symbols, n_days=n_bars, seed=5))
        symbols = tuple(str(s) for s in store.list_symbols()["symbol"])
        # raw bars for both: the order manager's last prices are the store's raw closes
        panel = store.read_panel(list(symbols), adjustment="raw")
        rules = parse_rules(rules_text(panel.ts, symbols).replace("0.25", "0.02"), source="bench.toml")
        sets = [{"fast": 5, "slow": 20, "size": SIZE}, {"fast": 10, "slow": 40, "size": SIZE}]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            swept = sweep(panel, sma_cross_every_pair, sets, rules=rules)
        ours = paper = 0
        equal = True
        row: Any
        for row in swept.frame.itertuples():
            params = {"fast": int(row.fast), "slow": int(row.slow), "size": SIZE}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataQualityWarning)  # raw across splits: the same for both
                one = backtest(store.read_panel([row.symbol], adjustment="raw"), sma_cross_every_pair, params,
                               rules=rules, portfolio="bench", dividends="ignore")  # fmt: skip
            equal &= int(row.n_blocked) == len(one.compliance)
            name = f"bench-{uuid.uuid4().hex[:8]}"
            checks: list[PreTradeCheck] = [RiskLimitCheck(store), TradingStateCheck(), ComplianceCheck(store, rules)]
            paper_trade(
                store, sma_cross_every_pair, row.symbol, params=params, portfolio=name, checks=checks, adjustment="raw"
            )
            orders = list_orders(store, portfolio=name)
            with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
                decided = db.rows(
                    "SELECT client_order_id, inputs FROM {t}pretrade_decisions WHERE check_name = ? AND verdict = ?",
                    ("compliance", "block"),
                )
            blocking = {
                c: "; ".join(r["rule"] for r in json.loads(i)["rules"] if r["verdict"] == "block") for c, i in decided
            }
            rejected = orders[orders["status"] == "rejected"]
            theirs = [
                (ts, side, float(q), blocking.get(c, ""))
                for ts, side, q, c in zip(
                    rejected["ts_created"], rejected["side"], rejected["quantity"], rejected["client_order_id"],
                    strict=True,
                )
            ]  # fmt: skip
            mine = [
                (ts, side, float(q), rule)
                for ts, side, q, rule in zip(
                    one.compliance["ts"], one.compliance["side"], one.compliance["quantity"], one.compliance["rule"],
                    strict=True,
                )
            ]  # fmt: skip
            equal &= mine == theirs
            ours += len(mine)
            paper += len(theirs)
        return {"backtests": len(swept.frame), "blocked_backtest": ours, "blocked_order_manager": paper, "equal": equal}
    finally:
        store.close()


def run(n_symbols: int = 500, n_bars: int = 5_000, *, repeat: int = 1, parity: bool = True) -> dict[str, Any]:
    """Time the plain and the compliance-aware sweep; count their rejections; check them against the order manager.

    Returns
    -------
    dict
        ``plain_s``, ``rules_s`` (seconds, median of ``repeat`` runs), ``ratio`` (rules / plain),
        ``plain_cpu_s``, ``rules_cpu_s``, ``cpu_ratio`` (the process's CPU time, every thread),
        ``orders_plain`` (orders filled or rejected in the plain sweep),
        ``backtests``, ``blocked`` (orders the rules blocked over every backtest), ``rejected_plain``
        and ``rejected_rules`` (every rejected order), ``by_backtest_blocked_max``; with ``parity``,
        ``parity`` (the small case's counts) and ``rejections_equal``; ``headers`` and ``rows``
        (the table ``benchmarks/compliance.py`` prints), ``threads`` and ``load``.
    """
    import numba

    from bifrost.compliance._rules import parse_rules
    from bifrost.data import Panel
    from bifrost.strategy import sweep

    panel = _panel(n_symbols, n_bars)
    rules = parse_rules(rules_text(panel.ts, panel.symbols), source="bench.toml")
    grid: dict[str, list[Any]] = {"fast": FASTS, "slow": SLOWS, "size": [SIZE]}
    # warm-up (excluded): both kernels' variants compiled (or loaded from the cache)
    small = Panel(ts=panel.ts, symbols=panel.symbols[:4], fields={f: v[:, :4] for f, v in panel.fields.items()})
    sweep(small, sma_cross_every_pair, grid, chunk_symbols=2)
    sweep(small, sma_cross_every_pair, grid, chunk_symbols=2, rules=rules)
    (plain_s, plain_cpu, plain), (rules_s, rules_cpu, ruled) = _timed(
        (
            lambda: sweep(panel, sma_cross_every_pair, grid),
            lambda: sweep(panel, sma_cross_every_pair, grid, rules=rules),
        ),
        repeat,
    )
    n = len(plain.frame)
    blocked = int(ruled.frame["n_blocked"].sum())
    out: dict[str, Any] = {
        "plain_s": plain_s,
        "rules_s": rules_s,
        "ratio": rules_s / plain_s,
        "plain_cpu_s": plain_cpu,
        "rules_cpu_s": rules_cpu,
        "cpu_ratio": rules_cpu / plain_cpu,
        "orders_plain": int(plain.frame["n_fills"].sum() + plain.frame["n_rejected"].sum()),
        "backtests": n,
        "blocked": blocked,
        "rejected_plain": int(plain.frame["n_rejected"].sum()),
        "rejected_rules": int(ruled.frame["n_rejected"].sum()),
        "by_backtest_blocked_max": int(ruled.frame["n_blocked"].max()),
        "backtests_with_blocks": int((ruled.frame["n_blocked"] > 0).sum()),
        "threads": numba.get_num_threads(),
        "load": os.getloadavg()[0],
        "headers": HEADERS,
    }
    out["rows"] = [
        ["plain", f"{n:,}", f"{plain_s:.2f}", f"{plain_cpu:.2f}", f"{n / plain_s:,.0f}", "0", "1.00x"],
        [
            "5 rules", f"{n:,}", f"{rules_s:.2f}", f"{rules_cpu:.2f}", f"{n / rules_s:,.0f}", f"{blocked:,}",
            f"{rules_s / plain_s:.2f}x / {rules_cpu / plain_cpu:.2f}x",
        ],
    ]  # fmt: skip
    if parity:
        found = _parity()
        out["parity"] = found
        out["rejections_equal"] = bool(found["equal"])
        out["rows"].append(
            [
                "parity (3 symbols × 400 bars, 2 sets)", f"{found['backtests']}", "", "", "",
                f"{found['blocked_backtest']} (order manager: {found['blocked_order_manager']})",
                "equal" if found["equal"] else "DIFFER",
            ]
        )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--bars", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-parity", action="store_true")
    args = parser.parse_args(argv)
    found = run(args.symbols, args.bars, repeat=args.repeat, parity=not args.no_parity)
    shown = {k: v for k, v in found.items() if k not in ("rows", "headers")}
    print(json.dumps(shown, indent=2, default=str))
    for row in found["rows"]:
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
