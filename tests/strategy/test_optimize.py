"""Sweeps, search and walk-forward: the same numbers as single backtests, in process and on Ray."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bifrost.data import EmbeddedStore, Panel
from bifrost.errors import InvalidInputError
from bifrost.strategy import (
    Commission,
    FillModel,
    Signals,
    backtest,
    grid_points,
    optimize,
    run_backtrader,
    simulate,
    sma_cross,
    sweep,
    walk_forward,
)
from bifrost.strategy import _kernel as K
from bifrost.strategy._optimize import grid_size, grid_values, iter_grid
from tests.strategy.conftest import SmaCross

GRID = {"fast": [5, 10, 20, 35], "slow": [20, 30, 60, 120]}


@pytest.fixture(scope="module")
def three(real_store: EmbeddedStore) -> Panel:
    # the union calendar: NVDA and YHOO have no bars before they listed
    return real_store.read_panel(["ORCL", "NVDA", "YHOO"], "2003-01-01")


def test_sweep_rows_equal_single_backtests_of_each_symbol(real_store: EmbeddedStore, three: Panel) -> None:
    fill = FillModel(commission=Commission(percent=0.001))
    result = sweep(three, "sma_cross", GRID, fill=fill, chunk_symbols=2)
    assert len(result.frame) == 13 * 3 and result.skipped == 3  # (20, 20), (35, 20), (35, 30) break fast < slow
    for params in ({"fast": 10, "slow": 30}, {"fast": 35, "slow": 60}, {"fast": 5, "slow": 120}):
        for symbol in ("ORCL", "NVDA", "YHOO"):
            single = real_store.read_panel([symbol], "2003-01-01")
            expected = backtest(single, "sma_cross", params, fill=fill)
            row = result.frame.query(f"fast == {params['fast']} and slow == {params['slow']} and symbol == '{symbol}'")
            assert row["final_value"].item() == expected.final_value
            assert row["n_trades"].item() == expected.n_trades
            np.testing.assert_allclose(
                [row[m].item() for m in K.METRICS], [expected.metrics[m] for m in K.METRICS], rtol=1e-12
            )


def test_sweep_grid_matches_backtrader_on_every_combination(orcl: Panel) -> None:
    grid = {"fast": [5, 20], "slow": [30, 90]}
    result = sweep(orcl, "sma_cross", grid, fill=FillModel(commission=Commission(percent=0.001)))
    for params in grid_points(grid):
        bt = run_backtrader(orcl, SmaCross, params, fill=FillModel(commission=Commission(percent=0.001)))
        row = result.frame.query(f"fast == {params['fast']} and slow == {params['slow']}")
        assert row["final_value"].item() == pytest.approx(bt.final_value, rel=1e-9)
        assert row["n_trades"].item() == bt.n_trades


def test_sweep_is_identical_whatever_the_chunking(three: Panel) -> None:
    whole = sweep(three, "sma_cross", GRID)
    for chunk in (1, 2):
        assert sweep(three, "sma_cross", GRID, chunk_symbols=chunk).frame.equals(whole.frame)


def test_ray_sweep_is_bit_identical_to_in_process(three: Panel, local_ray: None) -> None:
    local = sweep(three, "sma_cross", GRID, fill=FillModel(commission=Commission(percent=0.001)))
    remote = sweep(
        three, "sma_cross", GRID, fill=FillModel(commission=Commission(percent=0.001)), backend="ray", chunk_symbols=1
    )
    assert remote.frame.equals(local.frame)
    assert remote.best() == local.best()


def test_best_ranks_by_the_objective_mean_across_symbols(three: Panel) -> None:
    result = sweep(three, "sma_cross", GRID, objective="total_return")
    means = result.frame.groupby(["fast", "slow"])["total_return"].mean()
    assert tuple(result.best().values()) == means.idxmax()
    lowest = sweep(three, "sma_cross", GRID, objective="max_drawdown", maximize=True)
    assert tuple(lowest.best().values()) == result.frame.groupby(["fast", "slow"])["max_drawdown"].mean().idxmax()
    fig = result.heatmap()
    assert fig.data[0].z.shape == (4, 4)


def test_random_search_is_reproducible_and_a_subset_of_the_grid(orcl: Panel) -> None:
    a = optimize(orcl, "sma_cross", GRID, method="random", n_iter=5, seed=3)
    b = optimize(orcl, "sma_cross", GRID, method="random", n_iter=5, seed=3)
    assert a.frame.equals(b.frame) and len(a.frame) == 5
    full = optimize(orcl, "sma_cross", GRID)
    merged = a.frame.merge(full.frame, on=["fast", "slow", "symbol"], suffixes=("", "_grid"))
    assert len(merged) == 5 and (merged["final_value"] == merged["final_value_grid"]).all()


def test_walk_forward_trades_each_fold_with_its_in_sample_winner(orcl: Panel) -> None:
    wf = walk_forward(orcl, "sma_cross", GRID, train_bars=1000, test_bars=500, warmup_bars=130)
    folds = wf.folds
    assert len(folds) == (5036 - 1000) // 500 + 1  # and the 36 bars left over
    assert (folds["test_start"] > folds["train_end"]).all()
    assert (folds["warmup_bars"] == 130).all() and wf.warmup == "130 bars"
    # fold 0's winner is the in-sample sweep's best, and its out-of-sample return is a backtest's
    first = sweep(
        Panel(ts=orcl.ts[:1000], symbols=orcl.symbols, fields={f: v[:1000] for f, v in orcl.fields.items()}),
        "sma_cross",
        GRID,
    )
    assert {k: folds.loc[0, k] for k in ("fast", "slow")} == first.best()
    assert wf.equity.index.is_monotonic_increasing and len(wf.equity) == 5036 - 1000
    chained = np.prod(1.0 + folds["oos_return"].to_numpy())
    assert wf.equity.iloc[-1] / 100_000 == pytest.approx(chained, rel=1e-12)
    anchored = walk_forward(orcl, "sma_cross", GRID, train_bars=1000, test_bars=500, anchored=True)
    assert (anchored.folds["train_start"] == orcl.ts[0]).all()


def _alone(panel: Panel, a: int, b: int) -> Panel:
    return Panel(ts=panel.ts[a:b], symbols=panel.symbols, fields={f: v[a:b] for f, v in panel.fields.items()})


def test_walk_forward_warms_each_fold_up_with_what_its_parameters_need(orcl: Panel) -> None:
    # issue 12 item 6: warmup_bars defaulted to 0, so a fold that chose slow=200 started with
    # a cold SMA(200): on 150-bar folds it never warmed up and every fold returned exactly 0.0
    grid = {"fast": [50], "slow": [200]}
    cold = walk_forward(orcl, "sma_cross", grid, train_bars=1000, test_bars=150, warmup_bars=0)
    assert (cold.folds["oos_return"] == 0.0).all()
    wf = walk_forward(orcl, "sma_cross", grid, train_bars=1000, test_bars=150)
    folds = wf.folds
    assert (folds["warmup_bars"] == 200).all() and wf.warmup.startswith("declared")
    assert (folds["oos_return"] != 0.0).sum() >= 10  # folds that trade now (14 of 27 on ORCL)
    # the reference: each fold trades exactly what sma_cross signals on the whole history
    # (an SMA over 200 bars needs only the 200 before it), from flat, with the cash carried
    whole = sma_cross(orcl, fast=50, slow=200)
    cash = 100_000.0
    for fold in folds.itertuples():
        a = orcl.ts.get_loc(fold.test_start)
        b = orcl.ts.get_loc(fold.test_end) + 1
        signals = Signals(entries=whole.entries[a:b], exits=whole.exits[a:b], size=whole.size)
        reference = simulate(_alone(orcl, a, b), signals, cash=cash)
        part = wf.equity.loc[fold.test_start : fold.test_end]
        np.testing.assert_array_equal(part.to_numpy(), reference.equity.to_numpy())
        assert fold.oos_return == reference.final_value / cash - 1.0
        cash = reference.final_value


def test_walk_forward_says_which_folds_it_could_not_warm_up_or_choose_for(orcl: Panel) -> None:
    # found by QA: slow=500 on 300-bar training windows got 300 bars of warm-up, and a fold whose every set
    # had a NaN in-sample Sharpe traded the grid's first set, both without a word
    wf = walk_forward(orcl, "sma_cross", {"fast": [10], "slow": [500]}, train_bars=300, test_bars=2000)
    first = wf.folds.iloc[0]
    assert (first["warmup_bars"], first["warmup_needed"]) == (300, 500)
    notes = wf.notes()
    assert "fold 0: warmed up on 300 of the 500 bars its parameters need" in " ".join(notes)
    assert sum("warmed up on" in n for n in notes) == int((wf.folds["warmup_bars"] < 500).sum()) == 1
    blind = wf.folds.loc[wf.folds["in_sample_sharpe_ratio"].isna(), "fold"].tolist()
    assert blind and any(n.startswith("fold") and "no parameter set had a finite in-sample sharpe_ratio" in n
                         for n in notes)  # fmt: skip
    warm = walk_forward(orcl, "sma_cross", {"fast": [10], "slow": [30]}, train_bars=1000, test_bars=700)
    assert not any("warmed up on" in n or "finite" in n for n in warm.notes())


def test_walk_forward_trades_the_trailing_partial_window(orcl: Panel) -> None:
    # the bars after the last whole out-of-sample window were dropped without a word
    wf = walk_forward(orcl, "sma_cross", {"fast": [10], "slow": [30]}, train_bars=1000, test_bars=700)
    last = wf.folds.iloc[-1]
    assert list(wf.folds["partial"]) == [False] * 5 + [True]
    assert last["test_bars"] == (5036 - 1000) % 700 == 536
    assert last["test_end"] == orcl.ts[-1] and wf.equity.index[-1] == orcl.ts[-1]
    assert len(wf.equity) == 5036 - 1000 and wf.equity.index.is_unique


@pytest.mark.parametrize(
    ("warmup", "match"),
    [(-1, "from 0 to 1,000"), (1.5, "whole number of bars"), (1001, "from 0 to 1,000"), (True, "whole number")],
)
def test_walk_forward_bad_warmup_is_refused(orcl: Panel, warmup: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=f"warmup_bars must be .*{match}"):
        walk_forward(orcl, "sma_cross", GRID, train_bars=1000, test_bars=500, warmup_bars=warmup)


def test_sweep_and_walk_forward_say_their_costs(orcl: Panel) -> None:
    small = {"fast": [5], "slow": [20]}
    assert sweep(orcl, "sma_cross", small).costs == "no costs"
    paid = FillModel(commission=Commission(percent=0.001), slippage_bps=2)
    assert sweep(orcl, "sma_cross", small, fill=paid).costs == "commission 0.1% of value; slippage 2 bps"
    wf = walk_forward(orcl, "sma_cross", small, train_bars=2000, test_bars=2000, fill=paid)
    assert "costs: commission 0.1% of value; slippage 2 bps" in wf.notes()
    assert "no costs" in walk_forward(orcl, "sma_cross", small, train_bars=2000, test_bars=2000)._repr_html_()


def test_grid_specs() -> None:
    assert list(iter_grid("5:50:5")) == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert list(iter_grid("20:200:20"))[-1] == 200
    assert list(iter_grid("1,2.5,4")) == [1.0, 2.5, 4.0]
    assert grid_points({"a": [1, 2], "b": [3]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: sweep(p, "sma_cross", {"fast": []}), "non-empty list"),
        (lambda p: sweep(p, "sma_cross", {"fats": [1]}), "takes no parameter 'fats'"),
        (lambda p: sweep(p, "sma_cross", GRID, objective="alpha"), "objective must be one of"),
        (lambda p: sweep(p, "sma_cross", GRID, backend="dask"), "backend must be 'local' or 'ray'"),  # type: ignore[arg-type]
        (lambda p: sweep(p, "nope", GRID), "no strategy 'nope'"),
        (lambda p: sweep(p, "sma_cross", GRID, address="10.0.0.1:6379"), "it needs backend='ray'"),
        # "cannot use the Ray cluster at" before Ray starts, "already connected" once it has
        (lambda p: sweep(p, "sma_cross", GRID, backend="ray", address="garbage"), "cannot use the Ray|already conn"),
        (lambda p: optimize(p, "sma_cross", GRID, method="random"), "needs n_iter"),
        (lambda p: walk_forward(p, "sma_cross", GRID, train_bars=5000, test_bars=500), "exceed the panel"),
        (lambda p: iter_grid_list("5:1:1"), "stop >= start"),
    ],
)
def test_bad_sweep_input_is_refused(orcl: Panel, call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call(orcl)


def iter_grid_list(spec: str) -> list[float]:
    return list(iter_grid(spec))


@pytest.mark.parametrize(
    ("fill", "params", "cash"),
    [
        (FillModel(), {"size": 100}, 100_000.0),
        (FillModel(commission=Commission(percent=0.002)), {"size": 300}, 100_000.0),
        (
            FillModel(commission=Commission(per_share=0.01, minimum=1.0, fixed=0.5), slippage_bps=5),
            {"size": 50},
            10_000.0,
        ),
        (FillModel(fill_at="close", slippage_range=0.1), {"size": 0.9, "size_type": "percent"}, 100_000.0),
        (FillModel(lot_size=0, commission=Commission(percent=0.001)), {"size": 0.5, "size_type": "percent"}, 50_000.0),
        (FillModel(commission=Commission(fixed=2.0)), {"size": 2_500, "size_type": "value"}, 2_600.0),
        (FillModel(), {"size": 400}, 1_000.0),  # mostly unaffordable: rejections
    ],
)
def test_sweep_fast_path_equals_the_general_engine_bit_for_bit(
    three: Panel, fill: FillModel, params: dict[str, Any], cash: float
) -> None:
    # sweeps of plain signals take a register-only loop; it must agree with the recorded
    # engine (every order type's loop) on every metric, to the last bit
    grid = {"fast": [5, 20], "slow": [30, 90], **{k: [v] for k, v in params.items()}}
    result = sweep(three, "sma_cross", grid, fill=fill, cash=cash)
    for row in result.frame.itertuples(index=False):
        single = Panel(
            ts=three.ts, symbols=(row.symbol,),
            fields={f: v[:, [three.symbols.index(row.symbol)]] for f, v in three.fields.items()},
        )  # fmt: skip
        p = {"fast": row.fast, "slow": row.slow, **params}
        expected = backtest(single, "sma_cross", p, fill=fill, cash=cash)
        got = np.array([getattr(row, m) for m in K.METRICS], dtype=np.float64)
        want = np.array([expected.metrics[m] for m in K.METRICS])
        assert np.array_equal(got, want, equal_nan=True), (row.symbol, p, got - want)
    assert result.frame["n_rejected"].sum() > 0 or cash > 5_000


def test_sweep_keeps_equity_curves_only_when_asked(three: Panel, local_ray: None) -> None:
    lean = sweep(three, "sma_cross", GRID)
    assert lean.equity is None
    full = sweep(three, "sma_cross", GRID, keep_equity=True, chunk_symbols=2)
    assert full.frame.equals(lean.frame)
    assert full.equity is not None and full.equity.shape == (len(three.ts), len(full.frame))
    np.testing.assert_array_equal(full.equity.iloc[-1].to_numpy(), full.frame["final_value"].to_numpy())
    row = full.frame.index[(full.frame["fast"] == 20) & (full.frame["slow"] == 60) & (full.frame["symbol"] == "NVDA")][
        0
    ]
    j = three.symbols.index("NVDA")
    single = Panel(ts=three.ts, symbols=("NVDA",), fields={f: v[:, [j]] for f, v in three.fields.items()})
    np.testing.assert_array_equal(
        full.equity[row].to_numpy(), backtest(single, "sma_cross", {"fast": 20, "slow": 60}).equity
    )
    on_ray = sweep(three, "sma_cross", GRID, keep_equity=True, backend="ray", chunk_symbols=1)
    assert on_ray.equity is not None and on_ray.equity.equals(full.equity)


def test_sweep_beyond_max_backtests_is_refused_before_any_work(orcl: Panel) -> None:
    # issue 10 item 19: `--grid fast=1:1000000000:1` grew to 23.7 GB before the OOM killer
    grid = {"fast": grid_values("1:1000000000:1"), "slow": [30]}
    with pytest.raises(InvalidInputError, match=r"1,000,000,000 backtests .* more than max_backtests=1,000,000"):
        sweep(orcl, "sma_cross", grid)
    with pytest.raises(InvalidInputError, match="more than max_backtests"):
        optimize(orcl, "sma_cross", grid)


def test_sweep_beyond_the_memory_estimate_is_refused_with_the_numbers(orcl: Panel) -> None:
    with pytest.raises(InvalidInputError, match=r"16 backtests .* over 5,036 bars needs about .* GiB of memory"):
        sweep(orcl, "sma_cross", GRID, max_memory_bytes=1_000_000)
    with pytest.raises(InvalidInputError, match="drop keep_equity"):
        sweep(orcl, "sma_cross", GRID, keep_equity=True, max_memory_bytes=3_000_000)
    # the bound is inclusive, and counts the sets before those violating fast < slow are skipped
    assert len(sweep(orcl, "sma_cross", GRID, max_backtests=16).frame) == 13
    with pytest.raises(InvalidInputError, match="max_backtests must be a positive integer"):
        sweep(orcl, "sma_cross", GRID, max_backtests=0)


def test_random_search_of_a_huge_grid_draws_points_without_listing_the_grid(orcl: Panel) -> None:
    space = {"fast": grid_values("2:100001:1"), "slow": grid_values("30:100029:1")}  # 10^10 points
    a = optimize(orcl, "sma_cross", space, method="random", n_iter=3, seed=1)
    b = optimize(orcl, "sma_cross", space, method="random", n_iter=3, seed=1)
    assert a.frame.equals(b.frame) and len(a.frame) + a.skipped == 3
    assert all(isinstance(v, int) for v in a.frame["fast"].tolist())


def test_random_search_picks_the_same_points_as_listing_the_grid(orcl: Panel) -> None:
    points = grid_points(GRID)
    picks = np.random.default_rng(3).choice(len(points), size=5, replace=False)
    drawn = [points[i] for i in sorted(picks)]
    result = optimize(orcl, "sma_cross", GRID, method="random", n_iter=5, seed=3)
    assert result.frame[["fast", "slow"]].to_dict(orient="records") == [p for p in drawn if p["fast"] < p["slow"]]
    assert result.skipped == sum(p["fast"] >= p["slow"] for p in drawn)


def test_grid_values_ranges_are_lazy_and_checked() -> None:
    big = grid_values("1:1000000000:1")
    assert isinstance(big, range) and len(big) == 1_000_000_000 and big[-1] == 1_000_000_000
    fractional = grid_values("0.5:1.5:0.25")
    assert len(fractional) == 5 and list(fractional) == [0.5, 0.75, 1.0, 1.25, 1.5] and fractional[-1] == 1.5
    assert grid_size({"a": big, "b": fractional}) == 5_000_000_000
    for spec, match in (
        ("1:inf:1", "finite"),
        ("nan,1", "finite"),
        ("1:x:1", "must be numbers"),
        ("1:2", "start:stop"),
    ):
        with pytest.raises(InvalidInputError, match=match):
            grid_values(spec)


def test_n_iter_of_a_grid_search_is_refused_not_ignored(orcl: Panel) -> None:
    with pytest.raises(InvalidInputError, match="n_iter applies to method='random'"):
        optimize(orcl, "sma_cross", GRID, n_iter=5)


def test_grid_size_huge_range_is_counted_without_overflow() -> None:
    space = {"fast": grid_values("1:99999999999999999999:1"), "slow": [30]}
    assert grid_size(space) == 99999999999999999999
    assert grid_size({"x": grid_values("0:1e300:1")}) > 10**299


@pytest.mark.parametrize("spec", ["1:99999999999999999999:1", "0:1e300:0.5"])
def test_sweep_huge_range_is_refused_by_the_size_guard(orcl: Panel, spec: str) -> None:
    with pytest.raises(InvalidInputError, match="more than max_backtests"):
        sweep(orcl, "sma_cross", {"fast": grid_values(spec), "slow": [30]})


def test_random_search_over_a_huge_range_draws_valid_points(orcl: Panel) -> None:
    space = {"fast": grid_values("1:1000000000000000000:1"), "slow": [30]}
    with pytest.raises(InvalidInputError, match="from 1 to 100,000"):
        optimize(orcl, "sma_cross", space, method="random", n_iter=2, seed=0)


@pytest.mark.parametrize("fast", [99999999999999999999, 10**308, 100_001])
def test_sweep_huge_period_is_refused_before_running(orcl: Panel, fast: int) -> None:
    with pytest.raises(InvalidInputError, match="sma_cross: fast must be a whole number of bars from 1 to 100,000"):
        sweep(orcl, "sma_cross", {"fast": [fast], "slow": [30]})
