"""`bifrost backtest`, `bifrost optimize`, `bifrost walk-forward` and `bifrost warm`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli import bifrost
from tests.conftest import ORCL, ROOT


def test_cli_json_is_strict_json_where_metrics_are_undefined(tmp_path: Path) -> None:
    # issue 10 item 2: a backtest without trades has undefined (NaN) metrics; what is printed
    # parses with a strict JSON reader (every writer goes through bifrost._json.dumps)
    assert bifrost(tmp_path, "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0

    def strict(text: str) -> object:
        return json.loads(text, parse_constant=lambda token: pytest.fail(f"non-JSON token {token} in {text[:200]}"))

    run = bifrost(
        tmp_path, "backtest", "sma_cross", "--symbols", "ORCL", "--param", "fast=3000", "--param", "slow=4000",
        "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    metrics = strict(run.stdout)["metrics"]  # type: ignore[index]
    assert any(v is None for v in metrics.values())
    opt = bifrost(
        tmp_path, "optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=3000,3500", "--grid", "slow=4000",
        "--json",
    )  # fmt: skip
    assert opt.returncode == 0, opt.stderr
    strict(opt.stdout)


def test_cli_backtest_sma_cross_json_equals_backtrader(tmp_path: Path) -> None:
    from tests.strategy.conftest import backtrader_on_file

    assert bifrost(tmp_path, "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0
    for commission in ("0", "0.001"):
        run = bifrost(
            tmp_path, "backtest", "sma_cross", "--symbols", "ORCL", "--param", "fast=10", "--param", "slow=30",
            "--cash", "100000", "--size", "100", "--commission", commission, "--json",
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout)
        assert out["final_value"] == pytest.approx(backtrader_on_file(ORCL, commission=float(commission)), rel=1e-9)
        assert out["n_trades"] == 97 and len(out["fills"]) == 195
        first = out["fills"][0]
        assert first == {"ts": "1995-05-12T00:00:00+00:00", "symbol": "ORCL", "side": "buy", "quantity": 100.0,
                         "price": 2.37037, "commission": pytest.approx(float(commission) * 237.037)}  # fmt: skip
    lookahead = bifrost(tmp_path, "backtest", "check-lookahead", "sma_cross", "--symbols", "ORCL", "--trials", "3")
    assert lookahead.returncode == 0 and "no look-ahead found" in lookahead.stdout
    opt = bifrost(
        tmp_path, "optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=5:15:5", "--grid", "slow=30,60",
        "--size", "100", "--json",
    )  # fmt: skip
    assert opt.returncode == 0, opt.stderr
    table = json.loads(opt.stdout)
    assert len(table["rows"]) == 6 and set(table["best"]) >= {"fast", "slow"}
    row = next(r for r in table["rows"] if r["fast"] == 10 and r["slow"] == 30)
    assert row["final_value"] == pytest.approx(backtrader_on_file(ORCL), rel=1e-9)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backtest", "sma_cross", "--symbols", "ORCL", "--param", "fats=3"], "sma_cross takes no parameter 'fats'"),
        (["backtest", "sma_cross", "--symbols", "ORCL", "--param", "fast=ten"], "parameter fast must be int"),
        # the CLI's own parser turned 1e308 into a 309-digit int and read 1_000 as 1000
        (["backtest", "sma_cross", "--symbols", "ORCL", "--param", "fast=1e308"], "parameter fast must be int"),
        (["backtest", "sma_cross", "--symbols", "ORCL", "--param", "fast=1_000"], "must be int (digits only)"),
        (["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=1_0:20:5"], "parameter fast must be int"),
        (["backtest", "momentum", "--symbols", "ORCL", "--size", "5"], "momentum sizes its own positions"),
        (["backtest", "sma_cross", "--symbols", "NOPE"], "NOPE"),
        (["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=9:1:1"], "stop >= start"),
        (["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=5", "--grid", "fast=9"], "fast is given twice"),
        (
            ["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=5", "--param", "fast=9"],
            "fast is given twice",
        ),
        (["backtest", "sma_cross", "--symbols", "ORCL", "--param", "fast=5", "--param", "fast=9"], "given twice"),
        (["backtest", "sma_cross", "--symbols", "ORCL", "--param", "size=5", "--size", "9"], "size is given twice"),
        (["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=5.5:9:1"], "must be int, got the range"),
        (["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=5", "--address", "h:1"], "backend='ray'"),
        # issue 10 item 18: a negative size traded exactly like a positive one
        (["backtest", "sma_cross", "--symbols", "ORCL", "--size", "-100"], "sma_cross: size must be a positive number"),
        # item 19: a billion-point grid grew to 23.7 GB before the OOM killer took the machine down
        (
            ["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=1:1000000000:1"],
            "the sweep would run 1,000,000,000 backtests (1,000,000,000 parameter sets × 1 symbols), "
            "more than max_backtests=1,000,000",
        ),
        (
            ["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=5:50:5", "--max-backtests", "5"],
            "10 backtests",
        ),
        (
            ["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=5:50:5", "--heatmap", "/nodir/h.html"],
            "--heatmap: cannot write /nodir/h.html: the folder /nodir does not exist",
        ),
    ],
)
def test_cli_backtest_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    assert bifrost(tmp_path, "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0
    run = bifrost(tmp_path, *args)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_cli_backtest_runs_on_intraday_bars_and_shows_their_times(tmp_path: Path) -> None:
    intraday = ROOT / "tests" / "fixtures" / "yfinance_history_aapl_5m_2024-03.csv"
    assert bifrost(tmp_path, "data", "ingest", "csv", str(intraday), "--symbol", "AAPL").returncode == 0
    args = ("backtest", "sma_cross", "--symbols", "AAPL", "--param", "fast=3", "--param", "slow=8")
    done = bifrost(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert "2024-03-08 14:30 … 2024-03-11 19:55 UTC, 156 bars" in done.stdout
    fills = json.loads(bifrost(tmp_path, *args, "--json").stdout)["fills"]
    assert fills and all(not f["ts"].endswith("T00:00:00+00:00") for f in fills)  # filled at 5-minute opens
    daily = json.loads(bifrost(tmp_path, *args, "--frequency", "1d", "--json").stdout)
    assert daily["fills"] == []  # two daily bars: no crossing


def test_cli_walk_forward_warms_up_folds_includes_the_tail_and_says_its_costs(tmp_path: Path) -> None:
    # issue 12 items 6 and 7: `bifrost walk-forward`, with the library's defaults and --json as `optimize`
    assert bifrost(tmp_path, "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0
    args = ("walk-forward", "sma_cross", "--symbols", "ORCL", "--grid", "fast=10,50", "--grid", "slow=30,200",
            "--train-bars", "1000", "--test-bars", "750")  # fmt: skip
    run = bifrost(tmp_path, *args, "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    folds = out["folds"]
    assert len(folds) == 6 and out["bars"] == 5036 - 1000  # ORCL's 5,036 bars: five whole folds and the tail
    assert [f["test_bars"] for f in folds] == [750] * 5 + [286] and folds[-1]["partial"] is True
    assert all(f["warmup_bars"] == max(f["fast"], f["slow"]) for f in folds)  # what each fold's winner needs
    assert out["total_return"] == pytest.approx(float(np.prod([1.0 + f["oos_return"] for f in folds])) - 1.0, rel=1e-12)
    assert out["costs"] == "no costs" and out["skipped"] == 1 and out["constraints"] == ["fast < slow"]
    assert out["end"] == "2014-12-31T00:00:00+00:00"
    text = bifrost(tmp_path, *args, "--commission", "0.001")
    assert text.returncode == 0, text.stderr
    assert "costs: commission 0.1% of value" in text.stdout
    assert "the last fold is partial: the 286 bars left over" in text.stdout
    assert "skipped 1 parameter set in each fold that violates fast < slow" in text.stdout
    assert "warm-up: declared by the strategy" in text.stdout


def test_cli_optimize_and_backtest_say_no_costs_and_what_a_sweep_skipped(tmp_path: Path) -> None:
    assert bifrost(tmp_path, "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0
    grid = ("--grid", "fast=10:40:10", "--grid", "slow=20,30")
    opt = bifrost(tmp_path, "optimize", "sma_cross", "--symbols", "ORCL", *grid, "--json")
    assert opt.returncode == 0, opt.stderr
    out = json.loads(opt.stdout)
    # (20, 20), (30, 20), (30, 30), (40, 20), (40, 30) violate fast < slow: three sets are run
    assert out["skipped"] == 5 and len(out["rows"]) == 3 and out["costs"] == "no costs"
    assert all(r["fast"] < r["slow"] for r in out["rows"])
    text = bifrost(tmp_path, "optimize", "sma_cross", "--symbols", "ORCL", *grid)
    assert "costs: no costs" in text.stdout and "skipped 5 parameter sets that violate fast < slow" in text.stdout
    bt = bifrost(tmp_path, "backtest", "sma_cross", "--symbols", "ORCL")
    assert bt.returncode == 0 and "costs: no costs" in bt.stdout
    paid = bifrost(tmp_path, "backtest", "sma_cross", "--symbols", "ORCL", "--per-share", "0.01", "--minimum", "1")
    assert "costs: commission 0.01 a share (minimum 1)" in paid.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["optimize", "sma_cross", "--symbols", "ORCL", "--grid", "fast=40,50", "--grid", "slow=10,20"],
         "every one of the 4 parameter sets violates sma_cross's constraint fast < slow"),
        (["backtest", "sma_cross", "--symbols", "ORCL", "--param", "fast=40", "--param", "slow=20"],
         "sma_cross: fast=40, slow=20 violate its constraint fast < slow"),
        (["walk-forward", "sma_cross", "--symbols", "ORCL", "--grid", "fast=5", "--train-bars", "5000",
          "--test-bars", "500"], "train_bars + test_bars (5500) exceed the panel's 5036 bars"),
        (["walk-forward", "sma_cross", "--symbols", "ORCL", "--grid", "fast=5", "--train-bars", "1000",
          "--test-bars", "500", "--warmup-bars", "2000"], "warmup_bars must be a whole number of bars from 0 to 1,000"),
    ],
)  # fmt: skip
def test_cli_constraints_and_walk_forward_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    assert bifrost(tmp_path, "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0
    run = bifrost(tmp_path, *args)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_cli_warm_fills_the_user_cache_folder_then_only_loads_it(tmp_path: Path) -> None:
    # issue 12 item 12: `make install` / `make run` call it; once warm, a run only loads
    # (tests/test_jit.py checks where the cache goes, in throwaway folders)
    from bifrost._jit import cache_dir

    first = bifrost(tmp_path, "warm", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["cache_dir"] == str(cache_dir()) and report["loaded"] + report["compiled"] >= 10
    again = bifrost(tmp_path, "warm")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"bifrost warm: numba kernels in {cache_dir()}: all ")
    assert again.stdout.rstrip().endswith(" s") and "kernels loaded from the cache" in again.stdout
    assert "loading or compiling the numba kernels" in again.stderr  # the visible step
