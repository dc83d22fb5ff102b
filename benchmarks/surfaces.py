"""Surfaces benchmark: the Voila dashboards in Debian's headless Chromium, and papermill's overhead per job.

1. From ``bifrost dashboard`` start (the process spawned) to the first dashboard rendered in the
   browser (``.bf-page-portfolio_monitor`` shown; the browser is already running, as a trader's is).
2. Opening a page to its first interactive widget (the portfolio picker's ``<select>``), preheated
   (each open waits until Voila has refilled the notebook's pool), ``--opens`` times: p50, p95, max,
   in a browser whose cache holds Voila's scripts (a trader's second visit) and in a fresh one.
3. From a click on "Run backtest" to the backtest explorer's metrics (``.bf-result-done``),
   ``--clicks`` times (different parameters each time).
4. papermill's overhead per job: the ``daily_ingest`` job (the synthetic market, 20 symbols x 750
   days) as a plain script (its jupytext ``py:percent`` twin run by ``python``), through
   ``papermill.execute_notebook``, and through ``bifrost jobs run`` (papermill + the HTML export +
   the run history), each on an empty store; ``--daily`` adds the whole ``daily`` pipeline by step.

The store of 1-3 is tests/ui's (ORCL, NVDA, YHOO, SPY 2012-2014 from ../shared/data and a
portfolio). Prints a table.

    python benchmarks/surfaces.py [--opens 20] [--clicks 5] [--daily] [--skip-jobs] [--skip-browser]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bifrost._voila import preheat_order  # noqa: E402
from bifrost.testing._voila import CHROMIUM, CHROMIUM_ARGS, running_dashboard  # noqa: E402

VIEWPORT = {"width": 1400, "height": 900}
PICKER = ".bf-page-portfolio_monitor .bf-portfolio-picker select"
ROWS: list[tuple[str, str, str]] = []


def row(what: str, value: str, note: str = "") -> None:
    ROWS.append((what, value, note))
    print(f"  {what}: {value} {note}", flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _env(home: Path) -> dict[str, str]:
    return {"BIFROST_HOME": str(home), "BIFROST_DATABASE_URL": "", "BIFROST_CONFIG": ""}


def browser_part(opens: int, clicks: int, work: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.ui.conftest import fill_store

    home = work / "home"
    fill_store(home).close()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            warm = chromium.new_context(viewport=VIEWPORT)
            started = time.monotonic()
            with running_dashboard(log=work / "voila.log", env=_env(home)) as dashboard:
                ready = time.monotonic() - started
                page = warm.new_page()
                page.goto(dashboard.url("portfolio_monitor"), wait_until="commit")
                page.wait_for_selector(PICKER, timeout=120_000)
                first = time.monotonic() - started
                row("start -> server ready (voila.js)", f"{ready:.2f} s")
                row("start -> first dashboard rendered", f"{first:.2f} s", "target < 5 s")
                page.close(run_before_unload=True)
                dashboard.wait_pools_filled(list(preheat_order(dashboard.root)))
                _opens(dashboard, warm, opens, "cached scripts")
                _opens(dashboard, chromium, max(3, opens // 4), "fresh browser", fresh=True)
                _clicks(dashboard, warm, clicks)
        finally:
            chromium.close()


def _opens(dashboard: Any, owner: Any, n: int, label: str, *, fresh: bool = False) -> None:
    times = []
    for _ in range(n):
        filled = dashboard.log_text().count("Kernel pool of portfolio_monitor.ipynb is filled")
        context = owner.new_context(viewport=VIEWPORT) if fresh else None
        page = (context or owner).new_page()
        started = time.monotonic()
        page.goto(dashboard.url("portfolio_monitor"), wait_until="commit")
        page.wait_for_selector(PICKER, timeout=120_000)
        times.append(time.monotonic() - started)
        page.close(run_before_unload=True)  # as a closed tab: Voila's page shuts its kernel down
        if context is not None:
            context.close()
        dashboard.wait_pools_filled(["portfolio_monitor"], count=filled + 1)
    row(
        f"open page -> first interactive widget, preheated, {label} (n={n})",
        f"p50 {statistics.median(times):.2f} s, p95 {pct(times, 0.95):.2f} s, max {max(times):.2f} s",
        "target p95 < 1.5 s" if not fresh else "",
    )


def _clicks(dashboard: Any, context: Any, n: int) -> None:
    page = context.new_page()
    page.goto(dashboard.url("backtest_explorer"), wait_until="commit")
    page.wait_for_selector(".bf-backtest-form button.bf-run", timeout=120_000)
    page.fill(".bf-symbols input", "ORCL, NVDA")
    times = []
    for i in range(n):
        page.fill(".bf-params input", f"fast={5 + i}, slow={30 + 5 * i}")
        page.press(".bf-params input", "Tab")
        page.wait_for_timeout(300)  # the Text widget's value reaches the kernel
        page.evaluate("document.querySelector('.bf-results').classList.remove('bf-result-done')")
        started = time.monotonic()
        page.click("button.bf-run")
        page.wait_for_selector(".bf-results.bf-result-done", timeout=120_000)
        times.append(time.monotonic() - started)
    page.close()
    row(
        f"click 'Run backtest' -> metrics shown, 2 symbols x 3 years (n={n})",
        f"first {times[0]:.2f} s, median of the rest {statistics.median(times[1:] or times):.2f} s",
        "target < 1 s",
    )


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.monotonic()
    done = subprocess.run(argv, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=1200)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def jobs_part(work: Path, daily: bool) -> None:
    jobs = ROOT / "papermill_jobs"
    script = jobs / "daily_ingest.py"
    results = {}
    for label in ("script", "papermill", "bifrost jobs run"):
        home = work / f"jobs-{label.replace(' ', '-')}"
        home.mkdir()
        env = _env(home)
        if label == "script":
            argv = [sys.executable, str(script)]
        elif label == "papermill":
            code = (
                "import sys, papermill; papermill.execute_notebook(sys.argv[1], sys.argv[2], "
                "parameters={'source': 'synthetic', 'n_symbols': 20, 'n_days': 750, 'seed': 7}, "
                "kernel_name='python3', progress_bar=False, cwd=sys.argv[3])"
            )
            argv = [sys.executable, "-c", code, str(jobs / "daily_ingest.ipynb"), str(home / "out.ipynb"), str(jobs)]
        else:
            argv = [sys.executable, "-m", "bifrost.cli", "jobs", "run", "daily_ingest", "--json"]
        results[label] = _timed(argv, env, jobs)
        row(f"daily_ingest (synthetic 20 x 750) as {label}", f"{results[label]:.2f} s wall")
    row(
        "papermill overhead per job",
        f"{results['papermill'] - results['script']:.2f} s (papermill), "
        f"{results['bifrost jobs run'] - results['script']:.2f} s (bifrost jobs run)",
    )
    if daily:
        home = work / "daily"
        home.mkdir()
        total = _timed([sys.executable, "-m", "bifrost.cli", "jobs", "run", "daily", "--json"], _env(home), ROOT)
        history = subprocess.run(
            [sys.executable, "-m", "bifrost.cli", "jobs", "history", "--json", "--limit", "10"],
            env={**os.environ, **_env(home)}, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        for run in reversed(json.loads(history.stdout)):
            row(f"daily pipeline step {run['job']}", f"{run['duration_s']:.2f} s", run["status"])
        row("daily pipeline (bifrost jobs run daily)", f"{total:.2f} s wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opens", type=int, default=20)
    parser.add_argument("--clicks", type=int, default=5)
    parser.add_argument("--daily", action="store_true", help="also time the daily pipeline by step")
    parser.add_argument("--skip-jobs", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bifrost-surfaces-") as folder:
        work = Path(folder)
        if not args.skip_browser:
            browser_part(args.opens, args.clicks, work)
        if not args.skip_jobs:
            jobs_part(work, args.daily)
    width = max(len(r[0]) for r in ROWS)
    print(f"\n| {'measure':<{width}} | value | note |\n|{'-' * (width + 2)}|---|---|")
    for what, value, note in ROWS:
        print(f"| {what:<{width}} | {value} | {note} |")


if __name__ == "__main__":
    main()
