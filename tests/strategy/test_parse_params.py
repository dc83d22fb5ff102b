"""Strategy parameters written as text (`bifrost.strategy.parse_params`, `parse_grid`, `parse_value`)."""

from __future__ import annotations

from typing import Literal

import pytest

from bifrost.errors import InvalidInputError
from bifrost.strategy import Signals, model_signals, parse_grid, parse_params, parse_value
from bifrost.strategy._optimize import FloatRange


def test_parse_params_types_each_value_by_the_declared_parameter() -> None:
    params = parse_params("sma_cross", ["fast=10", " slow = 30 ", "size=100", "size_type=percent"])
    assert params == {"fast": 10, "slow": 30, "size": 100.0, "size_type": "percent"}
    assert type(params["fast"]) is int and type(params["size"]) is float
    assert parse_params("mean_reversion", ["method=bollinger", "devfactor=2.5", "lower=-1e1"]) == {
        "method": "bollinger",
        "devfactor": 2.5,
        "lower": -10.0,
    }
    assert parse_params("sma_cross", []) == {}


def test_parse_params_int_is_exact_however_many_digits() -> None:
    # the old CLI went through float(): 99999999999999999999 came back as 100000000000000000000
    assert parse_params("sma_cross", ["fast=99999999999999999999"])["fast"] == 99999999999999999999


@pytest.mark.parametrize(
    ("pair", "match"),
    [
        ("fast=1e308", r"sma_cross: parameter fast must be int \(digits only\), got '1e308'"),  # was a 309-digit int
        ("fast=1e1", "parameter fast must be int"),
        ("fast=10.0", "parameter fast must be int"),
        ("fast=1_000", r"parameter fast must be int \(digits only\), got '1_000'"),  # int() would take it
        ("fast=ten", "parameter fast must be int"),
        ("fast=", "parameter fast must be int"),
        ("fast=" + "9" * 101, "parameter fast must be int of at most 100 digits"),
        ("size=1_000.5", r"parameter size must be float \(a decimal number\), got '1_000.5'"),
        ("size=1e309", "parameter size must be a finite number, got '1e309'"),
        ("size=inf", "parameter size must be float"),
        ("size=nan", "parameter size must be float"),
        ("size_type=bogus", r"parameter size_type must be one of \['shares', 'value', 'percent'\], got 'bogus'"),
        ("fats=3", r"sma_cross takes no parameter 'fats'; it takes \['fast', 'size', 'size_type', 'slow'\]"),
        ("fast", r"sma_cross: a parameter is name=value, got 'fast'"),
        ("=3", "a parameter is name=value"),
    ],
)
def test_parse_params_bad_text_raises_naming_the_parameter(pair: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        parse_params("sma_cross", [pair])


def test_parse_params_given_twice_raises() -> None:
    with pytest.raises(InvalidInputError, match="parameter fast is given twice"):
        parse_params("sma_cross", ["fast=5", "fast=9"])


def test_parse_params_leaves_bounds_to_the_backtest() -> None:
    # a period of 0 or -5 is an int: the bound (1..MAX_PERIOD) is the backtest's one check
    assert parse_params("sma_cross", ["fast=-5"]) == {"fast": -5}


def test_parse_params_of_a_user_strategy_follows_its_annotations() -> None:
    def mine(
        panel: object, *, n: int = 3, on: bool = False, mode: Literal["a", "b"] = "a", x: float | None = None
    ) -> Signals:
        raise AssertionError("not run")

    assert parse_params(mine, ["n=4", "on=yes", "mode=b", "x=0.5"]) == {"n": 4, "on": True, "mode": "b", "x": 0.5}
    assert parse_value(mine, "on", "FALSE") is False
    with pytest.raises(InvalidInputError, match=r"mine: parameter on must be bool \(true or false\), got 'maybe'"):
        parse_value(mine, "on", "maybe")


def test_parse_params_of_a_parameter_text_cannot_give_raises() -> None:
    with pytest.raises(InvalidInputError, match="model_signals: parameter model cannot be given as text"):
        parse_params(model_signals, ["model=x"])


def test_parse_grid_keeps_ranges_lazy_and_typed() -> None:
    space = parse_grid("sma_cross", ["fast=5:50:5", "slow=30,60", "size=0.5:1.5:0.5", "size_type=shares,value"])
    assert space["fast"] == range(5, 51, 5) and list(space["slow"]) == [30, 60]
    size = space["size"]
    assert isinstance(size, FloatRange) and list(size) == [0.5, 1.0, 1.5]
    assert space["size_type"] == ["shares", "value"]
    huge = parse_grid("sma_cross", ["fast=1:99999999999999999999:1"])["fast"]
    assert isinstance(huge, range) and huge.stop == 100000000000000000000  # counted, never listed


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("fast=5.5:9:1", r"sma_cross: parameter fast must be int, got the range '5.5:9:1'"),
        ("fast=1:inf:1", "parameter fast must be int, got the range"),
        ("fast=9:1:1", r"a range needs step > 0 and stop >= start, got fast='9:1:1'"),
        ("fast=1:9:0", "a range needs step > 0"),
        ("fast=1:9", r"a range is start:stop:step, got fast='1:9'"),
        ("fast=x", "parameter fast must be int"),
        ("fast=5,x", r"parameter fast must be int \(digits only\), got 'x'"),
        ("size=1:1e300:1e-300", "has more values than can be counted"),
        ("size_type=a:b:c", "parameter size_type takes a list a,b,c, not the range"),
        ("bogus=1", "sma_cross takes no parameter 'bogus'"),
        ("fast", "a grid is name=start:stop:step or name=a,b,c"),
    ],
)
def test_parse_grid_bad_spec_raises_naming_the_parameter(spec: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        parse_grid("sma_cross", [spec])


def test_parse_grid_given_twice_raises() -> None:
    with pytest.raises(InvalidInputError, match="fast is given twice in the grid"):
        parse_grid("sma_cross", ["fast=5", "fast=9"])


def test_parse_value_unknown_strategy_raises() -> None:
    with pytest.raises(InvalidInputError, match="no strategy 'nope'"):
        parse_value("nope", "fast", "1")
