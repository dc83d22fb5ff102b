"""Backtest benchmark: bifrost against backtrader, vectorbt, backtesting.py and hand-written numba.

Part 1, one backtest: long-only SMA(10)/SMA(30) crossover on ORCL 1995–2014 (5036 bars),
100 shares, market orders at the next bar's open, no commission, 100,000 cash. Medians of
repeated runs in this process; imports and first-call compilation are excluded and the
compile cost is reported apart (a fresh process, numba's disk cache cold and warm).

Part 2, the sweep: 100 parameter sets (fast 5..50 by 5 × slow 20..200 by 20) on 500
synthetic symbols × 5000 bars = 50,000 backtests, each engine in its own process so that
its peak memory (max RSS, interpreter and libraries included) is its own. backtrader is
timed on a sample and extrapolated (the whole sweep would take hours).

    python benchmarks/backtest.py [--symbols 500] [--bars 5000] [--skip-vectorbt-sweep]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numba import njit, prange

ROOT = Path(__file__).resolve().parents[1]
ORCL = ROOT.parent / "shared" / "data" / "backtrader" / "orcl-1995-2014.txt"
FASTS = np.arange(5, 55, 5)
SLOWS = np.arange(20, 220, 20)
SIZE = 100.0
CASH = 100_000.0


# -- the hand-written loops: what the hardware allows ------------------------------------------


@njit(cache=True, inline="always")
def _dd(hi: float, lo: float, x: float) -> tuple[float, float]:
    s = hi + x
    bb = s - hi
    err = (hi - (s - bb)) + (x - bb) + lo
    h = s + err
    return h, err - (h - s)


@njit(cache=True)
def _sma(x: np.ndarray, p: int, exact: bool) -> np.ndarray:
    out = np.full(x.size, np.nan)
    hi = 0.0
    lo = 0.0
    for i in range(x.size):
        if exact:
            hi, lo = _dd(hi, lo, x[i])
            if i >= p:
                hi, lo = _dd(hi, lo, -x[i - p])
        else:
            hi += x[i]
            if i >= p:
                hi -= x[i - p]
        if i >= p - 1:
            out[i] = (hi + lo) / p
    return out


@njit(cache=True)
def _cross_trade(
    o: np.ndarray, c: np.ndarray, f: np.ndarray, s: np.ndarray, size: float, cash: float
) -> tuple[float, int]:
    # backtrader's CrossOver (previous non-zero difference) and next-open fills
    pos = 0.0
    prev = np.nan
    pending = 0
    fills = 0
    for t in range(c.size):
        if pending != 0:
            px = o[t]
            if pending > 0 and cash >= size * px:
                cash -= size * px
                pos = size
                fills += 1
            elif pending < 0:
                cash += pos * px
                pos = 0.0
                fills += 1
            pending = 0
        d = f[t] - s[t]
        if np.isnan(d):
            continue
        if not np.isnan(prev):
            if pos == 0.0 and prev < 0.0 and f[t] > s[t]:
                pending = 1
            elif pos > 0.0 and prev > 0.0 and f[t] < s[t]:
                pending = -1
        if d != 0.0 or np.isnan(prev):
            prev = d
    return cash + pos * c[-1], fills


@njit(cache=True)
def exact_loop(o: np.ndarray, c: np.ndarray, fast: int, slow: int, size: float, cash: float) -> tuple[float, int]:
    return _cross_trade(o, c, _sma(c, fast, True), _sma(c, slow, True), size, cash)


@njit(cache=True, parallel=True)
def loop_sweep(o: np.ndarray, c: np.ndarray, fasts: np.ndarray, slows: np.ndarray, size: float, cash: float,
               exact: bool) -> np.ndarray:  # fmt: skip
    n_sym = c.shape[1]
    out = np.empty((fasts.size * slows.size, n_sym))
    for j in prange(n_sym):
        cj = np.ascontiguousarray(c[:, j])
        oj = np.ascontiguousarray(o[:, j])
        fm = [_sma(cj, int(p), exact) for p in fasts]
        sm = [_sma(cj, int(p), exact) for p in slows]
        for a in range(fasts.size):
            for b in range(slows.size):
                out[a * slows.size + b, j] = _cross_trade(oj, cj, fm[a], sm[b], size, cash)[0]
    return out


# -- part 1: one backtest ------------------------------------------------------------------------


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def orcl_panel() -> Any:
    from bifrost.data import CsvSource, EmbeddedStore, ingest

    store = EmbeddedStore(tempfile.mkdtemp(prefix="bench-bt-"))
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    return store.read_panel(["ORCL"])


def run_backtrader_file() -> tuple[float, list[tuple[str, float]]]:
    import backtrader as bt

    class SmaCross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.x = bt.ind.CrossOver(bt.ind.SMA(period=10), bt.ind.SMA(period=30))
            self.fills: list[tuple[str, float]] = []

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                self.fills.append((str(self.data.datetime.date(0)), order.executed.price))

        def next(self) -> None:
            if not self.position:
                if self.x > 0:
                    self.buy(size=SIZE)
            elif self.x < 0:
                self.close()

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(ORCL), adjclose=False, round=False))
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(CASH)
    strat = cerebro.run()[0]
    return float(cerebro.broker.getvalue()), strat.fills


def vectorbt_single(frame: pd.DataFrame) -> tuple[float, list[tuple[str, float]]]:
    import vectorbt as vbt

    close, opens = frame["Close"], frame["Open"]
    fast = vbt.MA.run(close, 10).ma
    slow = vbt.MA.run(close, 30).ma
    diff = (fast - slow).to_numpy()
    # backtrader's cross: sign change against the previous non-zero difference
    nz = pd.Series(np.where(diff == 0, np.nan, diff), index=close.index).ffill().shift(1).to_numpy()
    entries = pd.Series((nz < 0) & (diff > 0), index=close.index).shift(1, fill_value=False)
    exits = pd.Series((nz > 0) & (diff < 0), index=close.index).shift(1, fill_value=False)
    pf = vbt.Portfolio.from_signals(close, entries, exits, price=opens, size=SIZE, init_cash=CASH, fees=0.0, freq="1D")
    orders = pf.orders.records_readable
    fills = [(str(pd.Timestamp(t).date()), float(p)) for t, p in zip(orders["Timestamp"], orders["Price"], strict=True)]
    return float(pf.final_value()), fills


def backtesting_single(frame: pd.DataFrame) -> tuple[float, int]:
    import warnings

    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    def sma(x: Any, n: int) -> Any:
        return pd.Series(x).rolling(n).mean()

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.f = self.I(sma, self.data.Close, 10)
            self.s = self.I(sma, self.data.Close, 30)

        def next(self) -> None:
            if not self.position and crossover(self.f, self.s):
                self.buy(size=int(SIZE))
            elif self.position and crossover(self.s, self.f):
                self.position.close()

    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):  # its progress bar
        warnings.simplefilter("ignore")
        stats = Backtest(frame, SmaCross, cash=CASH, commission=0.0, finalize_trades=False).run()
    return float(stats["Equity Final [$]"]), int(stats["# Trades"])


def compile_cost() -> tuple[float, float]:
    # a fresh process: import bifrost.strategy and run one backtest, with numba's cache cold, then warm
    code = (
        "import time; t=time.perf_counter();"
        "from bifrost.data import Panel, SyntheticMarket; from bifrost.strategy import backtest;"
        "p=Panel.from_bars(SyntheticMarket(n_symbols=1, n_days=300).bars());"
        "backtest(p,'sma_cross',{'fast':10,'slow':30}); print(time.perf_counter()-t)"
    )
    cache = tempfile.mkdtemp(prefix="numba-cache-")
    env = {**os.environ, "BIFROST_NUMBA_CACHE_DIR": cache}
    cold = float(
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    )
    warm = float(
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    )
    return cold, warm


def part_one() -> None:
    from bifrost.strategy import _kernel as K
    from bifrost.strategy import backtest, run_backtrader
    from bifrost.strategy._engine import FillModel, prepare, run_kernel
    from bifrost.strategy._strategies import sma_cross

    panel = orcl_panel()
    frame = pd.DataFrame(
        {k.capitalize(): panel[k][:, 0] for k in ("open", "high", "low", "close", "volume")},
        index=panel.ts.tz_convert(None),
    )
    o, c = np.ascontiguousarray(panel["open"][:, 0]), np.ascontiguousarray(panel["close"][:, 0])

    bt_value, bt_fills = run_backtrader_file()
    result = backtest(panel, "sma_cross", {"fast": 10, "slow": 30, "size": SIZE})
    ours = [(str(t.date()), float(p)) for t, p in zip(result.fills["ts"], result.fills["price"], strict=True)]
    bridge = run_backtrader(panel, _bt_class(), {})
    vbt_value, vbt_fills = vectorbt_single(frame)
    bpy_value, bpy_trades = backtesting_single(frame)
    exact_value, exact_fills = exact_loop(o, c, 10, 30, SIZE, CASH)

    inputs = prepare(panel, sma_cross(panel, fast=10, slow=30, size=SIZE), cash=CASH, fill=FillModel())
    metrics = np.zeros((1, len(K.METRICS)))
    kernel: Any = K.simulate_metrics

    rows = [
        ("backtrader 1.9.78 (YahooFinanceCSVData, adjclose=False, round=False)", median_time(run_backtrader_file, 5),
         bt_value, "reference"),
        ("vectorbt 1.2.0 (its MA, backtrader's cross rule, from_signals at next open)",
         median_time(lambda: vectorbt_single(frame), 10), vbt_value, _agree(vbt_fills, bt_fills)),
        ("backtesting.py 0.6.6", median_time(lambda: backtesting_single(frame), 5), bpy_value,
         f"{bpy_trades} trades vs 97"),
        ("hand-written numba loop, exact sums", median_time(lambda: exact_loop(o, c, 10, 30, SIZE, CASH), 200),
         exact_value, f"{exact_fills} fills"),
        ("bifrost backtest() — public API, result frames and metrics",
         median_time(lambda: backtest(panel, "sma_cross", {"fast": 10, "slow": 30, "size": SIZE}), 50),
         result.final_value, _agree(ours, bt_fills)),
        ("bifrost engine only (signals → kernel, recorded run)",
         median_time(lambda: run_kernel(prepare(panel, sma_cross(panel, fast=10, slow=30, size=SIZE), cash=CASH,
                                                fill=FillModel())), 50),
         result.final_value, ""),
        ("bifrost engine, metrics only (signals → kernel, as a sweep runs it)",
         median_time(lambda: kernel(*prepare(panel, sma_cross(panel, fast=10, slow=30, size=SIZE), cash=CASH,
                                             fill=FillModel()).args(), metrics), 100),
         result.final_value, ""),
        ("bifrost kernel only (metrics run, inputs prepared)",
         median_time(lambda: kernel(*inputs.args(), metrics), 200), float(metrics[0, 0]), ""),
        ("bifrost backtrader bridge (unmodified bt.Strategy on a bifrost panel)",
         median_time(lambda: run_backtrader(panel, _bt_class(), {}), 5), bridge.final_value, ""),
    ]  # fmt: skip
    cold, warm = compile_cost()
    t_bt = rows[0][1]
    t_vbt = rows[1][1]
    print("\nOne backtest: SMA(10)/SMA(30) on ORCL, 5036 bars, 100 shares, next open, no commission\n")
    print("| engine | one backtest (ms) | final value | agrees with backtrader | backtrader ÷ this | vectorbt ÷ this |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for name, t, value, agree in rows:
        print(f"| {name} | {t * 1e3:.3f} | {value:.4f} | {agree} | {t_bt / t:,.0f}× | {t_vbt / t:,.1f}× |")
    print(
        f"\nnumba compilation (fresh process: import + one backtest): cache cold {cold:.1f} s, cache warm {warm:.2f} s"
    )


def _bt_class() -> type:
    import backtrader as bt

    class SmaCross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.x = bt.ind.CrossOver(bt.ind.SMA(period=10), bt.ind.SMA(period=30))

        def next(self) -> None:
            if not self.position:
                if self.x > 0:
                    self.buy(size=SIZE)
            elif self.x < 0:
                self.close()

    return SmaCross


def _agree(fills: list[tuple[str, float]], reference: list[tuple[str, float]]) -> str:
    if len(fills) != len(reference):
        return f"no: {len(fills)} fills vs {len(reference)}"
    same = sum(
        a == b or (a[0] == b[0] and abs(a[1] - b[1]) <= 1e-9 * abs(b[1])) for a, b in zip(fills, reference, strict=True)
    )
    return f"all {same} fills identical" if same == len(reference) else f"no: {len(reference) - same} fills differ"


# -- part 2: the sweep, one process per engine -----------------------------------------------------


def make_market(n_symbols: int, n_bars: int, folder: Path) -> None:
    from bifrost.data import Panel, SyntheticMarket

    panel = Panel.from_bars(SyntheticMarket(n_symbols=n_symbols, n_days=n_bars, seed=11).bars())
    for f in ("open", "high", "low", "close", "volume"):
        np.save(folder / f"{f}.npy", np.asfortranarray(panel[f]))
    np.save(folder / "ts.npy", panel.ts.asi8)


def load_panel(folder: Path) -> Any:
    from bifrost.data import Panel

    fields = {f: np.load(folder / f"{f}.npy") for f in ("open", "high", "low", "close", "volume")}
    ts = pd.DatetimeIndex(np.load(folder / "ts.npy"), tz="UTC")
    return Panel(ts=ts, symbols=tuple(f"S{i:03d}" for i in range(fields["close"].shape[1])), fields=fields)


def sma_cross_every_pair(panel: Any, *, fast: int = 10, slow: int = 30, size: float = 100.0) -> Any:
    # sma_cross without its fast < slow constraint: the peers run every pair of the grid,
    # so bifrost runs them too (a sweep of sma_cross skips the 10 pairs with fast >= slow)
    from bifrost.strategy import sma_cross

    return sma_cross(panel, fast=fast, slow=slow, size=size)


def child(engine: str, folder: Path) -> dict[str, Any]:
    panel = load_panel(folder)
    grid = {"fast": [int(v) for v in FASTS], "slow": [int(v) for v in SLOWS]}
    n_sym = panel.shape[1]
    out: dict[str, Any] = {"engine": engine}
    if engine in ("bifrost", "ray"):
        from bifrost.strategy import sweep

        backend = "local"
        if engine == "ray":
            import ray

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
            backend = "ray"
        from bifrost.data import Panel

        # warm-up (excluded): every worker imports bifrost and loads the compiled kernels
        small = Panel(ts=panel.ts, symbols=panel.symbols[:8], fields={f: v[:, :8] for f, v in panel.fields.items()})
        sweep(small, sma_cross_every_pair, grid, backend=backend, chunk_symbols=2)
        t0 = time.perf_counter()
        result = sweep(panel, sma_cross_every_pair, {**grid, "size": [SIZE]}, backend=backend)
        out["seconds"] = time.perf_counter() - t0
        finals = result.frame["final_value"].to_numpy().reshape(len(FASTS) * len(SLOWS), n_sym)
        np.save(folder / f"final_{engine}.npy", finals)
    elif engine in ("exact", "plain"):
        o = np.asfortranarray(panel["open"])
        c = np.asfortranarray(panel["close"])
        loop_sweep(o[:, :2], c[:, :2], FASTS, SLOWS, SIZE, CASH, engine == "exact")
        t0 = time.perf_counter()
        finals = loop_sweep(o, c, FASTS, SLOWS, SIZE, CASH, engine == "exact")
        out["seconds"] = time.perf_counter() - t0
        np.save(folder / f"final_{engine}.npy", finals)
    elif engine == "vectorbt":
        out.update(vectorbt_sweep(panel, chunk=50))
    elif engine == "backtrader":
        out.update(backtrader_sample(panel, n=12))
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    # VmHWM: this process's own high-water mark (ru_maxrss would carry over the parent's
    # across fork and exec); with Ray, its worker processes are added
    def hwm(pid: int | str) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    total = hwm("self")
    try:
        import ray

        if ray.is_initialized():
            workers = subprocess.run(["pgrep", "-f", "ray::"], capture_output=True, text=True).stdout.split()
            total += sum(hwm(pid) for pid in workers)
    except ImportError:
        pass
    return total


def vectorbt_sweep(panel: Any, chunk: int) -> dict[str, Any]:
    import vectorbt as vbt

    close_all = panel.frame("close")
    open_all = panel.frame("open")
    vbt.Portfolio.from_signals(close_all.iloc[:, :1], close_all.iloc[:, :1] > 0, close_all.iloc[:, :1] < 0)  # compile
    t0 = time.perf_counter()
    finals = []
    for a in range(0, close_all.shape[1], chunk):
        close = close_all.iloc[:, a : a + chunk]
        opens = open_all.iloc[:, a : a + chunk]
        fast = {p: vbt.MA.run(close, int(p)).ma.to_numpy() for p in FASTS}
        slow = {p: vbt.MA.run(close, int(p)).ma.to_numpy() for p in SLOWS}
        entries, exits = [], []
        for f in FASTS:
            for s in SLOWS:
                diff = fast[f] - slow[s]
                nz = pd.DataFrame(np.where(diff == 0, np.nan, diff)).ffill().shift(1).to_numpy()
                entries.append((nz < 0) & (diff > 0))
                exits.append((nz > 0) & (diff < 0))
        e = np.concatenate(entries, axis=1)
        x = np.concatenate(exits, axis=1)
        e = np.vstack([np.zeros((1, e.shape[1]), bool), e[:-1]])
        x = np.vstack([np.zeros((1, x.shape[1]), bool), x[:-1]])
        n_sets = len(FASTS) * len(SLOWS)
        pf = vbt.Portfolio.from_signals(
            np.tile(close.to_numpy(), n_sets), e, x, price=np.tile(opens.to_numpy(), n_sets), size=SIZE,
            init_cash=CASH, fees=0.0, freq="1D",
        )  # fmt: skip
        finals.append(np.asarray(pf.final_value()).reshape(n_sets, -1))
    return {"seconds": time.perf_counter() - t0, "final": np.concatenate(finals, axis=1).tolist()}


def backtrader_sample(panel: Any, n: int) -> dict[str, Any]:
    import backtrader as bt

    from bifrost.data import Panel
    from bifrost.strategy import run_backtrader

    class SmaCross(bt.Strategy):  # type: ignore[misc]
        params = (("fast", 10), ("slow", 30))

        def __init__(self) -> None:
            self.x = bt.ind.CrossOver(bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow))

        def next(self) -> None:
            if not self.position:
                if self.x > 0:
                    self.buy(size=SIZE)
            elif self.x < 0:
                self.close()

    rng = np.random.default_rng(0)
    picks = [
        (int(rng.integers(len(FASTS))), int(rng.integers(len(SLOWS))), int(rng.integers(panel.shape[1])))
        for _ in range(n)
    ]
    t0 = time.perf_counter()
    values = []
    for a, b, j in picks:
        one = Panel(
            ts=panel.ts, symbols=(panel.symbols[j],), fields={f: v[:, j : j + 1] for f, v in panel.fields.items()}
        )
        values.append(run_backtrader(one, SmaCross, {"fast": int(FASTS[a]), "slow": int(SLOWS[b])}).final_value)
    seconds = time.perf_counter() - t0
    return {
        "seconds_sample": seconds,
        "sample": [[a * len(SLOWS) + b, j, v] for (a, b, j), v in zip(picks, values, strict=True)],
    }


def part_two(n_symbols: int, n_bars: int, skip_vectorbt: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    make_market(n_symbols, n_bars, folder)
    n = len(FASTS) * len(SLOWS) * n_symbols
    results: dict[str, dict[str, Any]] = {}
    engines = ["exact", "plain", "bifrost", "ray", "backtrader"] + ([] if skip_vectorbt else ["vectorbt"])
    for engine in engines:
        run = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--folder", str(folder)], capture_output=True, text=True,
            env={**os.environ, "RAY_AUTH_MODE": "disabled"},
        )  # fmt: skip
        if run.returncode:
            print(f"{engine} failed:\n{run.stderr[-3000:]}")
            continue
        results[engine] = json.loads(run.stdout.strip().splitlines()[-1])
    exact = np.load(folder / "final_exact.npy")
    print(
        f"\nSweep: {len(FASTS) * len(SLOWS)} parameter sets × {n_symbols} symbols × {n_bars} bars = {n:,} backtests\n"
    )
    print("| engine | seconds | backtests/s | peak RSS (MB) | agrees with the exact loop |")
    print("| --- | ---: | ---: | ---: | --- |")
    labels = {
        "exact": "hand-written numba loop, exact sums (2 threads)",
        "plain": "hand-written numba loop, plain running sums (2 threads)",
        "bifrost": "bifrost sweep(), in process (2 threads)",
        "ray": "bifrost sweep(backend='ray'), 2 local workers",
        "vectorbt": "vectorbt 1.2.0, chunks of 50 symbols",
        "backtrader": "backtrader 1.9.78 via the bridge (sample, extrapolated)",
    }
    for engine, r in results.items():
        if engine == "backtrader":
            sample = r["sample"]
            per = r["seconds_sample"] / len(sample)
            agree = sum(abs(v - exact[k, j]) <= 1e-9 * abs(exact[k, j]) for k, j, v in sample)
            print(f"| {labels[engine]} | {per * n:,.0f} (est.) | {1 / per:,.1f} | {r['peak_rss_mb']:,.0f} | "
                  f"{agree} of {len(sample)} sampled |")  # fmt: skip
            continue
        finals = np.asarray(r["final"]) if engine == "vectorbt" else np.load(folder / f"final_{engine}.npy")
        same = int(np.sum(np.abs(finals - exact) <= 1e-9 * np.abs(exact)))
        bits = int(np.sum(finals == exact))
        print(f"| {labels[engine]} | {r['seconds']:.2f} | {n / r['seconds']:,.0f} | {r['peak_rss_mb']:,.0f} | "
              f"{same:,} of {n:,} (bit-identical {bits:,}) |")  # fmt: skip
    if "bifrost" in results and "ray" in results:
        print(f"\nRay ÷ in process throughput: {results['bifrost']['seconds'] / results['ray']['seconds']:.2f}")
        same = np.array_equal(np.load(folder / "final_bifrost.npy"), np.load(folder / "final_ray.npy"))
        print(f"Ray results bit-identical to in process: {same}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--bars", type=int, default=5000)
    ap.add_argument("--skip-vectorbt-sweep", action="store_true")
    ap.add_argument("--only", choices=["single", "sweep"])
    ap.add_argument("--child")
    ap.add_argument("--folder", type=Path)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder)))
        return
    if args.only in (None, "single"):
        part_one()
    if args.only in (None, "sweep"):
        part_two(args.symbols, args.bars, args.skip_vectorbt_sweep)


if __name__ == "__main__":
    main()
