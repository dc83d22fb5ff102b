"""Strategy parameters are checked once, where a backtest or a sweep receives them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bifrost.data import Panel
from bifrost.errors import InvalidInputError
from bifrost.strategy import Signals, backtest, simulate, sweep


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"size": -100.0}, r"sma_cross: size must be a positive number .* got -100\.0"),  # issue 10 item 18
        ({"size": 0.0}, "size must be a positive number"),
        ({"size": float("inf")}, "parameter size must be a finite number"),
        ({"size": float("nan")}, "parameter size must be a finite number"),
        ({"fast": 2.5}, r"parameter fast must be int, got 2\.5"),
        ({"fast": True}, "parameter fast must be int"),
        ({"size_type": "bogus"}, r"size_type must be one of \['shares', 'value', 'percent'\]"),
    ],
)
def test_backtest_bad_parameter_raises_naming_it(orcl: Panel, params: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        backtest(orcl, "sma_cross", params)


def test_sweep_bad_parameter_in_the_grid_raises_naming_it(orcl: Panel) -> None:
    with pytest.raises(InvalidInputError, match="size must be a positive number"):
        sweep(orcl, "sma_cross", {"fast": [5, 10], "size": [100.0, -100.0]})


def test_negative_size_trades_differently_from_positive_no_more(orcl: Panel) -> None:
    # before: --size -100 traded exactly like --size 100 (the kernel took its absolute value)
    entries = np.zeros(orcl.shape, dtype=bool)
    entries[10] = True
    with pytest.raises(InvalidInputError, match=r"Signals\.size must not be negative"):
        simulate(orcl, Signals(entries=entries, size=-100.0))
    sized = np.full(orcl.shape, np.nan)
    sized[10] = -5.0
    with pytest.raises(InvalidInputError, match=r"got -5\.0"):
        simulate(orcl, Signals(entries=entries, size=sized))


def test_good_parameters_pass_unchanged(orcl: Panel) -> None:
    result = backtest(orcl, "sma_cross", {"fast": np.int64(10), "slow": 30, "size": 100, "size_type": "shares"})
    assert result.n_trades == 97


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # --cash 1e308 ended as "final value inf" without a word
        (lambda p: backtest(p, "buy_and_hold", cash=1e308), "cash must be a positive number up to 1e"),
        (lambda p: backtest(p, "sma_cross", {"size": 1e300}), "size must be a positive number up to 1e"),
        (lambda p: simulate(p, Signals(entries=True, size=1e300)), r"Signals\.size must be finite and at most 1e"),
    ],
)
def test_amounts_no_market_produces_are_refused(orcl: Panel, call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call(orcl)
