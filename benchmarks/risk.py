"""Risk benchmark: Monte Carlo VaR, VaR of many series at once, and the served endpoint under load.

1. Monte Carlo VaR/ES of an equal-weight portfolio of 500 real stocks (the last 1000 days
   of ../shared/data/sp500_5yr), 100,000 scenarios: bifrost (numpy; PyTorch on the CPU, and
   on the GPU when there is one) against what a user would write by hand
   (``Generator.multivariate_normal``) and scipy's ``multivariate_normal.rvs``.
2. Historical and parametric VaR/ES of 500 series × 5000 days at once (seeded synthetic
   returns, for scale): ``var_es_many`` against a loop of bifrost's one-series functions,
   pandas ``quantile`` and empyrical (per column).
3. ``POST /var`` of the served risk service (``bifrost serve risk``, its workers sized for
   the machine) for a 50-position portfolio priced from the store, at a fixed 200 requests/s
   for 60 s from a second process on loopback, with each of two open-loop generators (lean
   asyncio streams, and httpx); latency is measured from each request's scheduled send time,
   so queueing counts. Then the sustainable rate (closed-loop callers, 4 per worker, for
   10 s: what the server answers when every caller sends its next request as soon as the
   last is answered), overload: twice that rate for 20 s (the service answers what it
   cannot run at once with 503 + Retry-After, not from a queue), and recovery: the rate
   again at once for 10 s, with the second in which answers are back to normal.

    python benchmarks/risk.py [--seconds 60] [--rate 200] [--skip-load] [--only load] [--device cuda]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
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

ROOT = Path(__file__).resolve().parents[1]
SP500 = ROOT.parent / "shared" / "data" / "sp500_5yr" / "all_stocks_5yr.csv.gz"


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def real_returns(days: int) -> pd.DataFrame:
    """The last ``days`` daily returns of every stock with a close on each of those days."""
    from bifrost.data import CsvSource, load_bars

    closes = load_bars(CsvSource(SP500), on_error="repair").bars["close"].unstack("symbol")
    return closes.pct_change(fill_method=None).iloc[-days:].dropna(axis=1)


# -- 1. Monte Carlo ----------------------------------------------------------------------------


def by_hand(r: np.ndarray, w: np.ndarray, n: int, confidence: float) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    pnl = rng.multivariate_normal(r.mean(axis=0), np.cov(r, rowvar=False), size=n) @ w
    q = np.quantile(pnl, 1 - confidence)
    return -q, -pnl[pnl <= q].mean()


def by_scipy(r: np.ndarray, w: np.ndarray, n: int, confidence: float) -> tuple[float, float]:
    from scipy import stats

    draws = stats.multivariate_normal(r.mean(axis=0), np.cov(r, rowvar=False), allow_singular=True).rvs(
        size=n, random_state=0
    )
    pnl = draws @ w
    q = np.quantile(pnl, 1 - confidence)
    return -q, -pnl[pnl <= q].mean()


def montecarlo(device: str | None) -> str:
    import torch

    from bifrost.data import SyntheticMarket
    from bifrost.risk import montecarlo_var_es, parametric_var

    # 500 assets × 1000 days: the data set has 470 stocks listed over its last 1000 days, so the
    # timed runs use the seeded factor-model market (GARCH, Student-t shocks); the real 470 follow
    r = np.expm1(SyntheticMarket(n_symbols=500, n_days=1000, seed=5).total_log_returns())
    real = real_returns(1000).to_numpy()
    w = np.full(500, 1 / 500)
    n, c = 100_000, 0.99
    closed = parametric_var(r @ w, confidence=c)

    def mc(**kw: Any) -> Callable[[], Any]:
        return lambda: montecarlo_var_es(r, w, confidence=c, n_scenarios=n, **kw)

    runs: list[tuple[str, Callable[[], Any]]] = [
        ("**bifrost `montecarlo_var_es`, numpy, normal**", mc(backend="numpy")),
        ("bifrost, numpy, Student-t (5 dof)", mc(distribution="t", backend="numpy")),
        ("bifrost, PyTorch on the CPU, normal", mc(backend="torch")),
        ("by hand: `Generator.multivariate_normal` (SVD) @ w", lambda: by_hand(r, w, n, c)),
        ("scipy `multivariate_normal.rvs` @ w", lambda: by_scipy(r, w, n, c)),
    ]  # fmt: skip
    if device == "cuda" and torch.cuda.is_available():
        runs.insert(3, (f"**bifrost, PyTorch on the GPU ({torch.cuda.get_device_name(0)})**", mc(backend="torch")))
    montecarlo_var_es(r, w, confidence=c, n_scenarios=1000, backend="torch")  # import and warm torch once
    rows = []
    for name, fn in runs:
        seconds, (var, es) = median_time(fn, 3)
        rows.append([name, f"{r.shape[1]}", f"{seconds:.3f}", f"{var:.5f}", f"{es:.5f}", f"{var / closed - 1:+.2%}"])
    wr = np.full(real.shape[1], 1 / real.shape[1])
    seconds, (var, es) = median_time(
        lambda: montecarlo_var_es(real, wr, confidence=c, n_scenarios=n, backend="numpy"), 3
    )
    closed_real = parametric_var(real @ wr, confidence=c)
    label = f"bifrost, numpy, normal: the {real.shape[1]} real S&P 500 stocks with 1000 days"
    gap = f"{var / closed_real - 1:+.2%}"
    rows.append([label, f"{real.shape[1]}", f"{seconds:.3f}", f"{var:.5f}", f"{es:.5f}", gap])
    header = f"Monte Carlo VaR/ES, equal weights, 1000-day history, {n:,} scenarios, 99% one-day (median of 3):\n\n"
    return (
        header
        + table(["engine", "assets", "seconds", "VaR", "ES", "VaR vs closed-form normal"], rows)
        + f"\n\nclosed-form normal VaR of the 500-asset portfolio: {closed:.5f} (of the real one: {closed_real:.5f}); "
        + f"torch threads: {torch.get_num_threads()}"
    )


# -- 2. many series ----------------------------------------------------------------------------


def many_series() -> str:
    import empyrical

    from bifrost.risk import historical_es, historical_var, parametric_es, parametric_var, var_es_many

    rng = np.random.default_rng(11)
    r = rng.standard_t(4, size=(5000, 500)) * 0.01 / np.sqrt(2.0)
    frame = pd.DataFrame(r)

    def loop_hist() -> np.ndarray:
        return np.array([[historical_var(r[:, j]), historical_es(r[:, j])] for j in range(r.shape[1])])

    def loop_param() -> np.ndarray:
        return np.array([[parametric_var(r[:, j]), parametric_es(r[:, j])] for j in range(r.shape[1])])

    def pandas_hist() -> pd.Series:
        return -frame.quantile(0.01, interpolation="lower")

    def empyrical_cols() -> np.ndarray:
        return np.array(
            [[-empyrical.value_at_risk(r[:, j], 0.01), -empyrical.conditional_value_at_risk(r[:, j], 0.01)]
             for j in range(r.shape[1])]
        )  # fmt: skip

    runs: list[tuple[str, Callable[[], Any]]] = [
        ("**bifrost `var_es_many`, historical (VaR and ES)**", lambda: var_es_many(r, confidence=0.99)),
        (
            "**bifrost `var_es_many`, parametric (VaR and ES)**",
            lambda: var_es_many(r, confidence=0.99, method="parametric"),
        ),
        ("bifrost one-series functions in a loop, historical", loop_hist),
        ("bifrost one-series functions in a loop, parametric", loop_param),
        ("pandas `DataFrame.quantile(0.01, 'lower')` (VaR only)", pandas_hist),
        ("empyrical `value_at_risk` + `conditional_value_at_risk` per column", empyrical_cols),
    ]
    many_hist = var_es_many(r, confidence=0.99).to_numpy()
    many_param = var_es_many(r, confidence=0.99, method="parametric").to_numpy()
    rows = []
    for name, fn in runs:
        seconds, out = median_time(fn, 5)
        if "loop, historical" in name:
            agree = "equal" if np.allclose(out, many_hist, rtol=1e-12, atol=0) else "DIFFERS"
        elif "loop, parametric" in name:
            agree = "equal" if np.allclose(out, many_param, rtol=1e-12, atol=0) else "DIFFERS"
        elif "pandas" in name:
            agree = "equal VaR" if np.allclose(out.to_numpy(), many_hist[:, 0], rtol=1e-12) else "DIFFERS"
        elif "empyrical" in name:
            gap = float(np.max(np.abs(out[:, 0] / many_hist[:, 0] - 1)))
            agree = f"interpolated percentile: VaR within {gap:.1%}"
        else:
            agree = "reference"
        rows.append([name, f"{seconds * 1000:.1f}", agree])
    return "500 series × 5000 days, 99% one-day VaR and ES (median of 5):\n\n" + table(
        ["engine", "ms", "agrees with `var_es_many`"], rows
    )


# -- 3. the served endpoint under load ---------------------------------------------------------


async def _load_httpx(url: str, body: dict[str, Any], rate: float, seconds: float, warmup: float) -> dict[str, Any]:
    # the same schedule through httpx.AsyncClient, what a Python service calling us would use
    import httpx

    latencies: list[float] = []
    from_send: list[float] = []
    errors: list[str] = []
    refused: list[tuple[float, float]] = []  # (scheduled since the start, latency) of each 503
    # idle connections are dropped after 2 s, before the server's 5 s keep-alive ends: a client
    # that waits as long as the server races it and reads a reset (4 ReadErrors in 12,000 here)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:

        async def one(scheduled: float, measured: bool) -> None:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            detail = ""
            try:
                response = await client.post(url, json=body)
                status = response.status_code
            except httpx.HTTPError as exc:
                status, detail = 0, type(exc).__name__
            if measured:
                done = time.perf_counter()
                _record(status, detail if status == 0 else "", scheduled - begin, done - scheduled, done - sent,
                        latencies, from_send, errors, refused)  # fmt: skip

        start = time.perf_counter() + 0.5
        begin = start + warmup
        total = int((warmup + seconds) * rate)
        await asyncio.gather(*(one(start + i / rate, i >= warmup * rate) for i in range(total)))
        elapsed = time.perf_counter() - (start + warmup)
    return _summary(latencies, from_send, errors, refused, elapsed)


def _record(
    status: int, detail: str, at: float, latency: float, from_send: float, latencies: list[float],
    sends: list[float], errors: list[str], refused: list[tuple[float, float]],
) -> None:  # fmt: skip
    # a 200 is a latency; a 503 (overload, answered at once) is a refusal; anything else is an error
    if status == 200:
        latencies.append(latency)
        sends.append(from_send)
    elif status == 503:
        refused.append((at, latency))
    else:
        errors.append(detail or f"HTTP {status}")


def _summary(
    latencies: list[float], from_send: list[float], errors: list[str], refused: list[tuple[float, float]],
    elapsed: float,
) -> dict[str, Any]:  # fmt: skip
    lat = np.array(latencies or [np.nan]) * 1000
    refusal = np.array([r[1] for r in refused] or [np.nan]) * 1000
    return {
        "requests": len(latencies) + len(refused) + len(errors), "ok": len(latencies), "errors": len(errors),
        "error_kinds": sorted(set(errors)), "refused": len(refused),
        "refused_p99_ms": float(np.percentile(refusal, 99)),
        "last_refused_s": max((r[0] for r in refused), default=None),
        "rate": len(latencies) / elapsed, "p50_ms": float(np.percentile(lat, 50)),
        "p90_ms": float(np.percentile(lat, 90)), "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max()),
        "p99_from_send_ms": float(np.percentile(np.array(from_send or [np.nan]) * 1000, 99)),
    }  # fmt: skip


class _Connection:
    """One keep-alive HTTP/1.1 connection: a prebuilt request out, status and body back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, request: bytes) -> int:
        # the status; the body is read to its end (a 503 has one too)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


def _prebuilt(url: str, body: dict[str, Any]) -> tuple[str, int, bytes]:
    # the host, port and one HTTP/1.1 POST of ``body``, built once and sent as is by each generator
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payload = json.dumps(body).encode()
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    return host, port, request


async def _load(url: str, body: dict[str, Any], rate: float, seconds: float, warmup: float) -> dict[str, Any]:
    # a lean open-loop generator (asyncio streams, keep-alive connections, one prebuilt request), so
    # that on a 2-core machine the generator takes as little CPU from the server as it can
    host, port, request = _prebuilt(url, body)
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    latencies: list[float] = []
    from_send: list[float] = []  # from the actual send: the generator's own lag left out
    errors: list[str] = []
    refused: list[tuple[float, float]] = []

    async def one(scheduled: float, measured: bool) -> None:
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = idle.get_nowait() if not idle.empty() else _Connection(*await asyncio.open_connection(host, port))
        sent = time.perf_counter()
        detail = ""
        try:
            status = await conn.post(request)
            idle.put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            conn.writer.close()
            status, detail = 0, type(exc).__name__
        if measured:
            done = time.perf_counter()
            _record(status, detail, scheduled - begin, done - scheduled, done - sent, latencies, from_send, errors,
                    refused)  # fmt: skip

    start = time.perf_counter() + 0.5
    begin = start + warmup
    total = int((warmup + seconds) * rate)
    tasks = [asyncio.create_task(one(start + i / rate, i >= warmup * rate)) for i in range(total)]
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - (start + warmup)
    while not idle.empty():
        idle.get_nowait().writer.close()
    return _summary(latencies, from_send, errors, refused, elapsed)


async def _capacity(
    url: str, body: dict[str, Any], connections: float, seconds: float, warmup: float
) -> dict[str, Any]:
    # closed loop: ``connections`` callers, each sending its next request when its last is answered; what
    # the server answers per second this way is the most it sustains (the overload runs at twice that)
    host, port, request = _prebuilt(url, body)
    counts = {"ok": 0, "refused": 0}
    begin = time.perf_counter() + warmup
    end = begin + seconds

    async def caller() -> None:
        conn = _Connection(*await asyncio.open_connection(host, port))
        while (now := time.perf_counter()) < end:
            status = await conn.post(request)
            if now >= begin:
                counts["ok" if status == 200 else "refused"] += 1
        conn.writer.close()

    await asyncio.gather(*(caller() for _ in range(int(connections))))
    return {"rate": counts["ok"] / seconds, **counts}


def _generate(url: str, body: dict[str, Any], client: str, rate: float, seconds: float, warmup: float) -> Any:
    # the generator runs in a process of its own: the server's workers and it share the machine, not a GIL
    generator = subprocess.run(
        [sys.executable, __file__, "--generate", url, "--client", client, "--rate", str(rate), "--seconds",
         str(seconds), "--warmup", str(warmup), "--body", json.dumps(body)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(generator.stdout)


def _row(name: str, rate: float, seconds: float, r: dict[str, Any]) -> list[str]:
    refused = f"{r['refused']:,}" + (f" (p99 {r['refused_p99_ms']:.1f} ms)" if r["refused"] else "")
    errors = f"{r['errors']}" + (f" ({', '.join(r['error_kinds'])})" if r["errors"] else "")
    return [name, f"{rate:.0f}", f"{seconds:.0f}", f"{r['requests']:,}", f"{r['rate']:.1f}", f"{r['p50_ms']:.1f}",
            f"{r['p90_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['p99_from_send_ms']:.1f}", f"{r['max_ms']:.1f}", refused,
            errors, f"{r['cpu_ms']:.2f}"]  # fmt: skip


def load_test(seconds: float, rate: float) -> str:
    import httpx
    import psutil

    from bifrost.data import CsvSource, EmbeddedStore, ingest
    from bifrost.risk import MarketData, book_from_positions, portfolio_risk
    from bifrost.testing import running_service

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "store"
        with EmbeddedStore(home) as store:
            ingest(store, CsvSource(SP500), on_error="repair")
            symbols = sorted(store.list_symbols()["symbol"])[:50]
            positions = {s: float(100 + 10 * i) for i, s in enumerate(symbols)}
            book = book_from_positions(positions, market=MarketData(store), lookback_days=500)
            expected = portfolio_risk(book.returns, book.weights.to_dict(), confidence=0.99)
        body = {"positions": positions, "confidence": 0.99, "horizon_days": 1, "method": "historical"}
        env = {"BIFROST_HOME": str(home), "BENTOML_HOME": str(Path(tmp) / "bentoml")}
        with running_service("risk", log=Path(tmp) / "server.log", env=env, cwd=ROOT, start_timeout_s=180) as served:
            url = f"{served.url}/var"
            workers = len(served.pids()) - 2  # the command and bentoml's arbiter are not workers
            answer = httpx.post(url, json=body, timeout=30).json()
            if abs(answer["var"] / expected.var - 1) >= 1e-12:
                raise SystemExit(f"the service answered {answer}, the library {expected}")
            server = [psutil.Process(pid) for pid in served.pids()]

            def run(client: str, at: float, seconds: float, warmup: float) -> dict[str, Any]:
                # and the server's CPU per request: what the load costs it, whatever else runs on the machine
                before = sum(sum(p.cpu_times()[:2]) for p in server)
                result = _generate(url, body, client, at, seconds, warmup)
                used = sum(sum(p.cpu_times()[:2]) for p in server) - before
                return {**result, "cpu_ms": 1000 * used / (int((seconds + warmup) * at) or 1)}

            load_before = os.getloadavg()[0]
            results = {client: run(client, rate, seconds, 5.0) for client in ("lean", "httpx")}
            # the most the server sustains: closed-loop callers, as many as its workers run at once
            capacity = _generate(url, body, "capacity", 4.0 * workers, 10.0, 2.0)
            overload_rate = 2 * max(capacity["rate"], rate)
            overload = run("lean", overload_rate, 20.0, 0.0)
            recovery = run("lean", rate, 10.0, 0.0)
            load_after = os.getloadavg()[0]
            handler = _handler_ms(served.log.read_text())
    names = {"lean": "asyncio streams, keep-alive (lean)", "httpx": "httpx.AsyncClient"}
    rows = [_row(names[client], rate, seconds, r) for client, r in results.items()]
    rows.append(_row("overload: lean at 2x the sustainable rate", overload_rate, 20.0, overload))
    rows.append(_row("recovery: lean at the rate, right after", rate, 10.0, recovery))
    headers = ["load generator", "target req/s", "seconds", "requests", "achieved req/s (200s)", "p50 ms", "p90 ms"]
    headers += ["p99 ms", "p99 from send ms", "max ms", "503 refused", "errors", "server CPU ms/request"]
    back = recovery["last_refused_s"]
    intro = (
        f"`POST /var`, 50 positions priced from the store, historical 99% VaR on 500 days "
        f"(VaR {expected.var:.5f} = the library's), {workers} BentoML worker(s) on {os.cpu_count()} CPUs, "
        f"load from a second process (1-min load average {load_before:.1f} before, {load_after:.1f} after); "
        f"latencies are of the 200s:"
    )
    recovered = "no 503 at all" if back is None else f"the last 503 {back:.2f} s into it"
    recovered = (
        f"sustainable rate (4 closed-loop callers per worker, 10 s): {capacity['rate']:.0f} req/s answered, "
        f"{capacity['refused']} refused; recovery: {recovered}"
    )
    inside = (
        f"inside the server (BentoML's access log, from the request read to the answer written) the "
        f"{len(handler):,} 200s took p50 {np.percentile(handler, 50):.1f} ms, p99 {np.percentile(handler, 99):.1f} ms, "
        f"max {handler.max():.1f} ms"
    )
    return intro + "\n\n" + table(headers, rows) + f"\n\n{recovered}; {inside}"


def _handler_ms(log: str) -> np.ndarray:
    # the time BentoML's access log gives each answered POST /var: where the server spends a request
    found = re.findall(r"path=/var,.*?\(status=200,[^)]*\) ([0-9.]+)ms", log)
    return np.array([float(ms) for ms in found] or [np.nan])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--only", choices=["montecarlo", "many", "load"])
    ap.add_argument("--device", choices=["cpu", "cuda"], default=None)
    ap.add_argument("--generate", help=argparse.SUPPRESS)  # the load generator's own process
    ap.add_argument("--body", help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=float, default=5.0, help=argparse.SUPPRESS)
    ap.add_argument("--client", choices=["lean", "httpx", "capacity"], default="lean", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        generate = {"lean": _load, "httpx": _load_httpx, "capacity": _capacity}[args.client]
        print(
            json.dumps(
                asyncio.run(generate(args.generate, json.loads(args.body), args.rate, args.seconds, args.warmup))
            )
        )
        return
    print(f"machine: {os.cpu_count()} CPUs; numpy {np.__version__}\n")
    if args.only in (None, "montecarlo"):
        print(montecarlo(args.device) + "\n")
    if args.only in (None, "many"):
        print(many_series() + "\n")
    if args.only in (None, "load") and not args.skip_load:
        print(load_test(args.seconds, args.rate))


if __name__ == "__main__":
    main()
