"""Strategies declare parameter constraints and warm-ups: backtests refuse violators, sweeps skip them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bifrost.data import EmbeddedStore, Panel
from bifrost.errors import InvalidInputError
from bifrost.strategy import (
    Constraint,
    Signals,
    backtest,
    declare,
    mean_reversion,
    momentum,
    optimize,
    required_warmup,
    sma_cross,
    sweep,
    violated_constraints,
)
from bifrost.strategy import indicators as ind


@pytest.fixture(scope="module")
def orcl_slice(real_store: EmbeddedStore) -> Panel:
    return real_store.read_panel(["ORCL", "NVDA"], "2004-01-01", "2008-01-01")


@declare("short < long", "long <= 100", warmup=lambda p: p["long"] + 1)
def gap(panel: Panel, *, short: int = 5, long: int = 20) -> Signals:
    close = panel["close"]
    cross = ind.crossover(ind.sma(close, short), ind.sma(close, long))
    return Signals(entries=cross > 0, exits=cross < 0, size=10)


def test_builtins_declare_their_constraints_and_warmups() -> None:
    assert violated_constraints(sma_cross, {"fast": 40, "slow": 20}) == (Constraint.parse("fast < slow"),)
    assert violated_constraints(sma_cross, {"fast": 40}) == (Constraint.parse("fast < slow"),)  # default slow=30
    assert violated_constraints(sma_cross, {"fast": 20, "slow": 40}) == ()
    assert required_warmup(sma_cross, {"slow": 200}) == 200
    assert required_warmup(sma_cross, {}) == 30
    assert violated_constraints(momentum, {"lookback": 20, "skip": 20}) != ()
    assert required_warmup(momentum, {"lookback": 252}) == 252
    assert violated_constraints(mean_reversion, {"lower": 70, "upper": 30}) != ()
    assert required_warmup(mean_reversion, {"period": 14}) == 15
    assert required_warmup(lambda panel: None, {}) == 0  # nothing declared


def test_sma_cross_warmup_is_the_first_bar_with_a_crossover(orcl_slice: Panel) -> None:
    # the declared warm-up is exact: the crossover is NaN before it and defined from it on
    for fast, slow in ((5, 20), (50, 200)):
        cross = ind.crossover(ind.sma(orcl_slice["close"], fast), ind.sma(orcl_slice["close"], slow))
        need = required_warmup(sma_cross, {"fast": fast, "slow": slow})
        assert np.isnan(cross[:need]).all() and np.isfinite(cross[need:]).all()


def test_backtest_of_a_set_that_violates_a_constraint_is_refused(orcl_slice: Panel) -> None:
    with pytest.raises(InvalidInputError, match=r"sma_cross: fast=40, slow=20 violate its constraint fast < slow"):
        backtest(orcl_slice, "sma_cross", {"fast": 40, "slow": 20})
    with pytest.raises(InvalidInputError, match=r"fast=40, slow=30 violate its constraint fast < slow"):
        backtest(orcl_slice, "sma_cross", {"fast": 40})
    with pytest.raises(InvalidInputError, match=r"gap: long=120 violate its constraint long <= 100"):
        backtest(orcl_slice, gap, {"long": 120})


def test_sweep_skips_violators_and_counts_them(orcl_slice: Panel) -> None:
    # the trap: on real data the "best" sma_cross had fast=40 above slow=20
    grid = {"fast": [5, 20, 40], "slow": [20, 60]}
    result = sweep(orcl_slice, "sma_cross", grid)
    assert result.skipped == 2  # (20, 20) and (40, 20)
    assert result.n_sets == 4 and len(result.frame) == 4 * 2
    assert (result.frame["fast"] < result.frame["slow"]).all()
    assert result.constraints == ("fast < slow",)
    assert "skipped 2 parameter sets that violate fast < slow" in result.notes()
    assert "skipped 2 parameter sets" in result._repr_html_()
    # what is kept is what a sweep of the valid sets alone gives, to the bit
    valid = sweep(orcl_slice, "sma_cross", [p for p in ({"fast": f, "slow": s} for f in (5, 20, 40) for s in (20, 60))
                                            if p["fast"] < p["slow"]])  # fmt: skip
    assert valid.skipped == 0 and valid.frame.equals(result.frame)


def test_sweep_of_a_user_strategy_skips_what_its_declaration_forbids(orcl_slice: Panel) -> None:
    result = sweep(orcl_slice, gap, {"short": [5, 30], "long": [20, 50, 150]})
    assert result.skipped == 3  # (30, 20) for short < long, and long=150 twice for long <= 100
    kept = {(int(a), int(b)) for a, b in result.frame[["short", "long"]].drop_duplicates().to_numpy()}
    assert kept == {(5, 20), (5, 50), (30, 50)}
    assert result.constraints == ("short < long", "long <= 100")


def test_random_search_counts_the_draws_it_skipped(orcl_slice: Panel) -> None:
    space = {"fast": list(range(5, 60, 5)), "slow": list(range(10, 70, 10))}
    result = optimize(orcl_slice, "sma_cross", space, method="random", n_iter=30, seed=3)
    assert result.skipped + result.n_sets == 30 and result.skipped > 0
    assert (result.frame["fast"] < result.frame["slow"]).all()


def test_a_grid_whose_every_set_violates_is_a_clear_error(orcl_slice: Panel) -> None:
    match = r"every one of the 4 parameter sets violates sma_cross's constraint fast < slow \(the first is \{'fast': 40"
    with pytest.raises(InvalidInputError, match=match):
        sweep(orcl_slice, "sma_cross", {"fast": [40, 50], "slow": [10, 20]})


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: declare("fast << slow"), "a constraint is 'name op name'"),
        (lambda: declare("fast <"), "a constraint is 'name op name'"),
        (lambda: declare(3), "a constraint is 'name op name'"),  # type: ignore[arg-type]
        (lambda: declare("fast < slow")(lambda panel, *, fast=1: None), "names 'slow', which it does not take"),
        (lambda: declare(warmup=200), "warmup must be a function"),  # type: ignore[arg-type]
    ],
)
def test_malformed_declarations_are_refused(make: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        make()


@pytest.mark.parametrize(
    ("warmup", "match"),
    [
        (lambda p: -1, r"from 0 to 1,000,000, got -1"),
        (lambda p: 2.5, r"whole number of bars .* got 2.5"),
        (lambda p: True, r"got True"),
        (lambda p: p["missing"], r"declared warm-up failed on \{\}: 'missing'"),
    ],
)
def test_a_bad_declared_warmup_is_named(warmup: Any, match: str) -> None:
    @declare(warmup=warmup)
    def strategy(panel: Panel, *, period: int = 5) -> Signals:
        raise AssertionError("not run")

    with pytest.raises(InvalidInputError, match=match):
        required_warmup(strategy, {})


def test_constraint_against_a_number_and_on_non_numbers() -> None:
    rule = Constraint.parse("period >= 2")
    assert str(rule) == "period >= 2" and rule.names == ("period",)
    assert rule.holds({"period": 2}) and not rule.holds({"period": 1})
    assert Constraint.parse("a != b").holds({"a": 1, "b": 2})
    assert rule.holds({"period": None})  # a parameter that is not a number is not judged
