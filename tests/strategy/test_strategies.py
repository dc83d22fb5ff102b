"""The built-in strategies on real data: what they ask for, worked out independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bifrost.data import EmbeddedStore, Panel
from bifrost.errors import InsufficientDataError, InvalidInputError
from bifrost.strategy import (
    STRATEGIES,
    Commission,
    FillModel,
    Signals,
    backtest,
    buy_and_hold,
    costs_label,
    mean_reversion,
    momentum,
    simulate,
    sma_cross,
)
from bifrost.strategy import indicators as ind


@pytest.fixture(scope="module")
def three(real_store: EmbeddedStore) -> Panel:
    return real_store.read_panel(["ORCL", "NVDA", "YHOO"], "2005-01-01", "2010-01-01")


def test_registry_lists_the_builtins_the_cli_offers() -> None:
    from bifrost.cli import BUILTIN_STRATEGIES

    assert tuple(STRATEGIES) == BUILTIN_STRATEGIES


def test_sma_cross_signals_are_backtraders_crossover(three: Panel) -> None:
    s = sma_cross(three, fast=10, slow=30)
    cross = ind.crossover(ind.sma(three["close"], 10), ind.sma(three["close"], 30))
    np.testing.assert_array_equal(s.entries, cross > 0)
    np.testing.assert_array_equal(s.exits, cross < 0)


def test_momentum_holds_the_top_names_by_trailing_return(three: Panel) -> None:
    orders = momentum(three, lookback=60, top_n=1, rebalance=21, gross=0.95)
    close = three.frame("close")
    trailing = close / close.shift(60) - 1.0
    rows = np.flatnonzero(~np.isnan(orders.size).all(axis=1))
    assert list(rows) == list(range(60, len(close), 21))
    for t in rows:
        winner = trailing.iloc[t].idxmax()
        expected = np.where(close.columns == winner, 0.95, 0.0)
        np.testing.assert_array_equal(orders.size[t], expected)
    result = simulate(three, orders)
    # after each rebalance's fills (next open) only the winner is held
    held = result.positions.iloc[rows[3] + 1]
    assert (held > 0).sum() == 1 and held.idxmax() == trailing.iloc[rows[3]].idxmax()
    assert result.orders["status"].isin(["filled"]).all()


def test_buy_and_hold_buys_equal_weights_on_the_first_open_and_holds(three: Panel) -> None:
    r = backtest(three, "buy_and_hold", {"gross": 0.99})
    opens = three["open"][1]
    shares = np.floor(0.99 / 3 * 100_000 / opens)
    np.testing.assert_array_equal(r.fills["quantity"].to_numpy(), shares)
    np.testing.assert_allclose(r.fills["price"], opens)
    last_close = three["close"][-1]
    cash = 100_000 - float((shares * opens).sum())
    assert r.final_value == pytest.approx(cash + float((shares * last_close).sum()), rel=1e-12)
    assert (r.positions.iloc[-1].to_numpy() == shares).all() and r.n_trades == 0


def test_mean_reversion_enters_below_the_band_and_exits_above(three: Panel) -> None:
    s = mean_reversion(three, method="rsi", period=14, lower=25, upper=60)
    r = ind.rsi(three["close"], 14)
    np.testing.assert_array_equal(s.entries, r < 25)
    np.testing.assert_array_equal(s.exits, r > 60)
    b = mean_reversion(three, method="bollinger", period=20, devfactor=2.0)
    _, _, low = ind.bollinger(three["close"], 20, 2.0)
    np.testing.assert_array_equal(b.entries, three["close"] < low)
    result = simulate(three, b)
    entries = result.fills[result.fills["side"] == "buy"]
    assert len(entries) > 10 and result.metrics["n_rejected"] == 0


def test_momentum_with_costs_leaves_room_and_rejects_nothing(three: Panel) -> None:
    from bifrost.strategy import Commission

    r = backtest(
        three,
        "momentum",
        {"lookback": 60, "top_n": 2, "rebalance": 21},
        fill=FillModel(commission=Commission(percent=0.001)),
    )
    assert r.metrics["n_rejected"] == 0 and r.metrics["commission"] > 0
    assert isinstance(r.trades, pd.DataFrame) and r.n_trades > 5


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: momentum(p, lookback=0), "lookback must be a whole number of bars from 1 to 100,000"),
        (lambda p: momentum(p, lookback=10, skip=10), r"skip must be in \[0, lookback\)"),
        (lambda p: momentum(p, gross=1.5), r"gross must be in \(0, 1\]"),
        (lambda p: mean_reversion(p, lower=70, upper=30), "need 0 <= lower < upper <= 100"),
        (lambda p: mean_reversion(p, method="macd"), "method must be 'rsi' or 'bollinger'"),  # type: ignore[arg-type]
        (lambda p: buy_and_hold(p, gross=0.0), r"gross must be in \(0, 1\]"),
        (
            lambda p: backtest(p, "sma_cross", {"fast": 0}),
            "fast must be a whole number of bars from 1 to 100,000, got 0",
        ),
    ],
)
def test_bad_strategy_parameters_are_refused(three: Panel, call: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call(three)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("strategy", "params", "match"),
    [
        (
            "sma_cross",
            {"fast": 99999999999999999999},
            "sma_cross: fast must be a whole number of bars from 1 to 100,000",
        ),
        ("sma_cross", {"fast": 10**308}, r"fast must be .* got 10{79}…$"),
        ("sma_cross", {"slow": 100_001}, "sma_cross: slow must be a whole number of bars from 1 to 100,000"),
        ("sma_cross", {"fast": 1e308}, "parameter fast must be int"),
        ("mean_reversion", {"period": 99999999999999999999}, "period must be a whole number of bars"),
        ("momentum", {"top_n": 10**6}, "top_n must be a whole number of bars from 1 to 100,000"),
        ("momentum", {"lookback": 10**12}, "lookback must be a whole number of bars from 1 to 100,000"),
        ("mean_reversion", {"method": "bollinger", "devfactor": 1e308}, r"devfactor .* in \(0, 100\]"),
        ("mean_reversion", {"method": "bollinger", "devfactor": 0.0}, r"devfactor .* in \(0, 100\], got 0.0"),
    ],
)
def test_backtest_out_of_range_parameter_is_refused(
    three: Panel, strategy: str, params: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        backtest(three, strategy, params)


def test_strategy_called_directly_with_huge_period_is_refused(three: Panel) -> None:
    with pytest.raises(InvalidInputError, match="sma_cross: fast must be a whole number of bars"):
        sma_cross(three, fast=10**20)
    with pytest.raises(InvalidInputError, match=r"mean_reversion: devfactor .* in \(0, 100\]"):
        mean_reversion(three, method="bollinger", devfactor=1e308)


def test_user_strategy_huge_integer_parameter_is_refused(three: Panel) -> None:
    def mine(panel: Panel, *, window: int = 5) -> Signals:
        close = panel["close"]
        return Signals(entries=close > 0, exits=close < 0, size=1.0)

    with pytest.raises(InvalidInputError, match="parameter window must be at most 1,000,000,000 in size"):
        backtest(three, mine, {"window": 10**400})


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_builtin_strategy_on_a_range_without_bars_is_insufficient_data(real_store: EmbeddedStore, name: str) -> None:
    # found by QA: buy_and_hold raised numpy's "argmax of an empty sequence" (a traceback from the CLI)
    empty = real_store.read_panel(["ORCL"], start="2024-01-01")
    assert empty.shape == (0, 1)
    with pytest.raises(InsufficientDataError, match=r"the panel is empty \(0 bars × 1 symbols\)"):
        backtest(empty, name)


def test_every_shown_result_says_its_costs_and_no_costs_when_it_has_none(three: Panel) -> None:
    # issue 12 item 7: commission defaults to zero everywhere, so a result says "no costs"
    free = backtest(three, "sma_cross", {"fast": 10, "slow": 30})
    assert free.to_dict(fills=False, trades=False)["costs"] == "no costs"
    assert "no costs" in str(free) and "no costs" in free._repr_html_()
    assert "Costs: no costs." in free.tearsheet().notes
    paid = backtest(three, "sma_cross", {"fast": 10, "slow": 30}, fill=FillModel(commission=Commission(percent=0.001)))
    label = "commission 0.1% of value"
    assert paid.to_dict(fills=False, trades=False)["costs"] == label
    assert f"{label} (commission paid {paid.metrics['commission']:,.2f})" in str(paid)
    assert f"Costs: {label}." in paid.tearsheet().notes
    # a model with costs that never traded still says which costs it carries
    idle = backtest(three, "sma_cross", {"fast": 3000, "slow": 4000}, fill=FillModel(slippage_bps=3))
    assert "slippage 3 bps" in str(idle) and idle.metrics["commission"] == 0.0


@pytest.mark.parametrize(
    ("fill", "label"),
    [
        (FillModel(), "no costs"),
        (FillModel(commission=Commission(per_share=0.005, minimum=1.0)), "commission 0.005 a share (minimum 1)"),
        (FillModel(commission=Commission(minimum=1.0)), "minimum commission 1"),
        (FillModel(commission=Commission(fixed=2.5)), "commission 2.5 a fill"),
        (FillModel(slippage_range=0.1), "slippage 10% of the bar's range"),
        (
            FillModel(commission=Commission(percent=0.0005, fixed=1.0), slippage_bps=1.5),
            "commission 0.05% of value; commission 1 a fill; slippage 1.5 bps",
        ),
    ],
)
def test_costs_label_names_each_cost_of_the_fill_model(fill: FillModel, label: str) -> None:
    assert costs_label(fill) == label
