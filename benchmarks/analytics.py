"""Analytics benchmark: the full metric table for many return series, three ways, one run.

500 series × 5000 days of synthetic daily returns (the seeded demo market), benchmark =
their equal-weighted mean. bifrost computes every column at once; empyrical-reloaded is
called column by column (its documented use for arrays); quantstats on pandas Series
with a date index, column by column, timed on a 50-series slice and scaled to 500.

    python benchmarks/analytics.py [--series 500] [--days 5000]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import empyrical
import numpy as np
import pandas as pd
import quantstats as qs

import bifrost.analytics as bf
from bifrost.data import SyntheticMarket


def bifrost_table(r: np.ndarray, f: np.ndarray) -> dict[str, Any]:
    return {
        "cum_returns_final": bf.cum_returns_final(r),
        "annual_return": bf.annual_return(r),
        "annual_volatility": bf.annual_volatility(r),
        "sharpe_ratio": bf.sharpe_ratio(r),
        "sortino_ratio": bf.sortino_ratio(r),
        "downside_risk": bf.downside_risk(r),
        "calmar_ratio": bf.calmar_ratio(r),
        "omega_ratio": bf.omega_ratio(r),
        "max_drawdown": bf.max_drawdown(r),
        "tail_ratio": bf.tail_ratio(r),
        "stability_of_timeseries": bf.stability_of_timeseries(r),
        "alpha_beta": bf.alpha_beta(r, f),
        "excess_sharpe": bf.excess_sharpe(r, f),
        "up_capture": bf.up_capture(r, f),
        "down_capture": bf.down_capture(r, f),
        "value_at_risk": bf.value_at_risk(r),
        "conditional_value_at_risk": bf.conditional_value_at_risk(r),
    }


def empyrical_table(r: np.ndarray, f: np.ndarray) -> dict[str, Any]:
    e = empyrical
    metrics: dict[str, Callable[[np.ndarray], Any]] = {
        "cum_returns_final": e.cum_returns_final,
        "annual_return": e.annual_return,
        "annual_volatility": e.annual_volatility,
        "sharpe_ratio": e.sharpe_ratio,
        "sortino_ratio": e.sortino_ratio,
        "downside_risk": e.downside_risk,
        "calmar_ratio": e.calmar_ratio,
        "omega_ratio": e.omega_ratio,
        "max_drawdown": e.max_drawdown,
        "tail_ratio": e.tail_ratio,
        "stability_of_timeseries": e.stability_of_timeseries,
        "alpha_beta": lambda c: e.alpha_beta(c, f),
        "excess_sharpe": lambda c: e.excess_sharpe(c, f),
        "up_capture": lambda c: e.up_capture(c, f),
        "down_capture": lambda c: e.down_capture(c, f),
        "value_at_risk": e.value_at_risk,
        "conditional_value_at_risk": e.conditional_value_at_risk,
    }
    return {name: [fn(r[:, j]) for j in range(r.shape[1])] for name, fn in metrics.items()}


def quantstats_table(frame: pd.DataFrame, bench: pd.Series) -> dict[str, Any]:
    out: dict[str, list[Any]] = {}
    for col in frame.columns:
        s = frame[col]
        row = {
            "cum_returns_final": qs.stats.comp(s),
            "annual_return": qs.stats.cagr(s),
            "annual_volatility": qs.stats.volatility(s),
            "sharpe_ratio": qs.stats.sharpe(s),
            "sortino_ratio": qs.stats.sortino(s),
            "calmar_ratio": qs.stats.calmar(s),
            "omega_ratio": qs.stats.omega(s),
            "max_drawdown": qs.stats.max_drawdown(s),
            "tail_ratio": qs.stats.tail_ratio(s),
            "alpha_beta": qs.stats.greeks(s, bench),
            "value_at_risk": qs.stats.value_at_risk(s),
            "conditional_value_at_risk": qs.stats.cvar(s),
        }
        for k, v in row.items():
            out.setdefault(k, []).append(v)
    return out


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--days", type=int, default=5000)
    args = ap.parse_args()
    market = SyntheticMarket(n_symbols=args.series, n_days=args.days, seed=1)
    r = np.expm1(market.total_log_returns()[1:])
    f = r.mean(axis=1)
    dates = pd.bdate_range("2000-01-03", periods=r.shape[0])
    slice_n = min(50, args.series)
    frame = pd.DataFrame(r[:, :slice_n], index=dates)
    bench = pd.Series(f, index=dates)

    t_bf = best_of(lambda: bf.perf_stats(r, f), 3)
    t_bf_each = best_of(lambda: bifrost_table(r, f), 3)
    t_emp = best_of(lambda: empyrical_table(r, f), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_qs = best_of(lambda: quantstats_table(frame, bench), 1) * args.series / slice_n

    table, theirs = bf.perf_stats(r, f), empyrical_table(r, f)
    ours = {k: table[k] for k in theirs if k != "alpha_beta"}
    ours["alpha_beta"] = np.column_stack([table["alpha"], table["beta"]])
    worst = max(float(np.nanmax(np.abs(np.asarray(ours[k]) / np.asarray(theirs[k]) - 1))) for k in ours)
    n_metrics = len(ours)
    print(f"\n{args.series} series × {args.days} days, {n_metrics} metrics (alpha_beta counts once)\n")
    print("| engine | seconds | series/s | vs bifrost |")
    print("| --- | ---: | ---: | ---: |")
    for name, t in (
        ("bifrost.analytics.perf_stats (the table, all columns at once)", t_bf),
        ("bifrost.analytics, one function per metric (all columns at once)", t_bf_each),
        ("empyrical-reloaded 0.7.1 (column by column)", t_emp),
        (f"quantstats 0.0.86 (column by column; {slice_n} series, scaled; 12 of the metrics)", t_qs),
    ):
        print(f"| {name} | {t:.3f} | {args.series / t:,.0f} | {t / t_bf:.1f}× |")
    print(f"\nlargest relative difference perf_stats vs empyrical over all metrics and series: {worst:.1e}")


if __name__ == "__main__":
    main()
