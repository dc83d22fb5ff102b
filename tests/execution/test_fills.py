"""The fill model's rules called from Python (as the paper broker calls them), against hand-worked values
and against the backtest kernel, which compiles the same functions into its loop."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import bifrost.strategy
from bifrost.errors import InvalidInputError
from bifrost.execution import _fills
from bifrost.execution._fills import Commission, FillModel
from bifrost.execution._order import OrderType, Side
from bifrost.strategy import Orders, simulate
from tests.strategy.test_engine import bars

NAN = math.nan
BUY, SELL = Side.BUY, Side.SELL
PLAIN = FillModel()


def test_strategy_exports_the_execution_fill_model_itself() -> None:
    assert bifrost.strategy.FillModel is FillModel and bifrost.strategy.Commission is Commission
    assert FillModel().vector(per_year=252.0).shape == (_fills.N_CFG,)


def test_fill_price_market_order_on_a_gapping_bar_is_the_open() -> None:
    # yesterday's close is irrelevant: a market order takes the open, however far it gapped
    assert PLAIN.fill_price(BUY, OrderType.MARKET, 12.0, 12.5, 11.8) == (12.0, False)
    assert PLAIN.fill_price(SELL, OrderType.MARKET, 8.0, 8.4, 7.9) == (8.0, False)


@pytest.mark.parametrize(
    ("side", "bar", "limit", "expected"),
    [
        (BUY, (9.0, 9.6, 8.9), 9.8, 9.0),  # gapped down through the limit: the better open
        (BUY, (10.0, 10.4, 9.5), 9.8, 9.8),  # the low reaches it: at the limit
        (BUY, (10.0, 10.4, 9.9), 9.8, NAN),  # never reached
        (SELL, (11.0, 11.2, 10.8), 10.5, 11.0),
        (SELL, (10.0, 10.7, 9.9), 10.5, 10.5),
        (SELL, (10.0, 10.4, 9.9), 10.5, NAN),
    ],
)
def test_fill_price_limit_order_fills_at_the_open_through_a_gap_else_at_the_limit(
    side: Side, bar: tuple[float, float, float], limit: float, expected: float
) -> None:
    price, triggered = PLAIN.fill_price(side, OrderType.LIMIT, *bar, limit=limit)
    assert (price == expected or (math.isnan(price) and math.isnan(expected))) and triggered is False


@pytest.mark.parametrize(
    ("side", "bar", "stop", "expected"),
    [
        (BUY, (11.0, 11.3, 10.9), 10.5, (11.0, True)),  # gapped up through the stop: the (worse) open
        (BUY, (10.2, 10.7, 10.1), 10.5, (10.5, True)),  # touched inside the bar: at the stop
        (BUY, (10.2, 10.4, 10.1), 10.5, (NAN, False)),
        (SELL, (9.0, 9.2, 8.8), 9.5, (9.0, True)),
        (SELL, (9.8, 9.9, 9.3), 9.5, (9.5, True)),
    ],
)
def test_fill_price_stop_order_fills_at_a_gap_open_else_at_the_stop(
    side: Side, bar: tuple[float, float, float], stop: float, expected: tuple[float, bool]
) -> None:
    price, triggered = PLAIN.fill_price(side, OrderType.STOP, *bar, stop=stop)
    assert triggered is expected[1]
    assert price == expected[0] or (math.isnan(price) and math.isnan(expected[0]))


def test_fill_price_stop_limit_triggers_on_a_gap_then_waits_for_its_limit() -> None:
    # stop 10.5, limit 10.6: the bar gaps to 10.9 and stays above 10.6 (triggered, no fill);
    # the next bar, a limit order now, trades down to 10.6
    price, triggered = PLAIN.fill_price(BUY, OrderType.STOP_LIMIT, 10.9, 11.0, 10.7, limit=10.6, stop=10.5)
    assert math.isnan(price) and triggered is True
    assert PLAIN.fill_price(BUY, OrderType.STOP_LIMIT, 10.8, 10.9, 10.5, limit=10.6, stop=10.5, triggered=True) == (
        10.6,
        True,
    )
    # not yet triggered, the same bar opens above the stop: triggered at the open 10.8, above the
    # limit, and filled at the limit, which its low reaches
    assert PLAIN.fill_price(BUY, OrderType.STOP_LIMIT, 10.8, 10.9, 10.5, limit=10.6, stop=10.5) == (10.6, True)
    # triggered inside the bar at the stop, within the limit: at the stop
    assert PLAIN.fill_price(BUY, OrderType.STOP_LIMIT, 10.2, 10.8, 10.1, limit=10.6, stop=10.5) == (10.5, True)
    # a sell stop-limit: stop 9.5, limit 9.4; gaps down to 9.0, below the limit, and never trades back up
    price, triggered = PLAIN.fill_price(SELL, OrderType.STOP_LIMIT, 9.0, 9.3, 8.8, limit=9.4, stop=9.5)
    assert math.isnan(price) and triggered is True


def test_slipped_is_adverse_and_stays_inside_the_bar() -> None:
    bps = FillModel(slippage_bps=10)
    assert bps.slipped(10.5, BUY, 11.0, 10.0) == pytest.approx(10.5105, abs=1e-12)
    assert bps.slipped(10.5, SELL, 11.0, 10.0) == pytest.approx(10.4895, abs=1e-12)
    assert bps.slipped(10.5, BUY, 10.51, 10.0) == 10.51  # capped at the high: nothing traded above it
    ranged = FillModel(slippage_range=0.25)  # a quarter of the 0.4 range: 0.1
    assert ranged.slipped(9.0, SELL, 9.2, 8.8) == pytest.approx(8.9, abs=1e-12)
    assert FillModel(slippage_range=1.0).slipped(9.0, SELL, 9.2, 8.8) == 8.8  # floored at the low
    assert PLAIN.slipped(10.5, BUY, 11.0, 10.0) == 10.5


@pytest.mark.parametrize(
    ("commission", "quantity", "price", "expected"),
    [
        (Commission(per_share=0.005, minimum=1.0), 100, 10.5, 1.0),  # 0.50 by the share, raised to the minimum
        (Commission(per_share=0.005, minimum=1.0), 1_000, 10.5, 5.0),  # above the minimum
        (Commission(per_share=0.005, minimum=1.0), -100, 10.5, 1.0),  # a sell costs the same
        (Commission(percent=0.001, fixed=1.0), 100, 10.5, 2.05),
        (Commission(percent=0.001, per_share=0.01, minimum=0.5, fixed=1.0), 100, 10.5, 1.05 + 1.0 + 1.0),
        (Commission(), 100, 10.5, 0.0),
    ],
)
def test_commission_of_equals_the_schedule_worked_by_hand(
    commission: Commission, quantity: float, price: float, expected: float
) -> None:
    model = FillModel(commission=commission)
    assert model.commission_of(quantity, price) == pytest.approx(expected, abs=1e-12)
    assert commission.of(quantity, price) == model.commission_of(quantity, price)


@pytest.mark.parametrize(
    ("lot", "quantity", "expected"),
    [(1.0, 2.7, 2.0), (1.0, -2.7, -2.0), (1.0, 2.9999999999, 3.0), (100.0, 250.0, 200.0), (0.0, 2.7, 2.7)],
)
def test_round_lot_rounds_towards_zero_to_the_lot(lot: float, quantity: float, expected: float) -> None:
    assert FillModel(lot_size=lot).round_lot(quantity) == expected


def test_helpers_equal_the_kernels_fill_on_a_gapping_bar() -> None:
    # a buy stop at 10.5 on a bar that gaps to 11.0: the backtest's fill is the helpers' price,
    # slipped, and their commission, to the bit
    model = FillModel(slippage_bps=7, slippage_range=0.1, commission=Commission(per_share=0.005, minimum=1.0))
    panel = bars((10, 10, 10, 10), (11.0, 11.6, 10.9, 11.1))
    r = simulate(panel, Orders(size=np.array([300.0, NAN]), stop_price=10.5), cash=10_000, fill=model)
    raw, triggered = model.fill_price(BUY, OrderType.STOP, 11.0, 11.6, 10.9, stop=10.5)
    price = model.slipped(raw, BUY, 11.6, 10.9)
    assert triggered and raw == 11.0 and price == pytest.approx(11.0 * 1.0007 + 0.07, abs=1e-12)
    assert r.fills["price"].tolist() == [price]
    assert r.fills["commission"].tolist() == [model.commission_of(300, price)] == [1.5]


def _call(method: str, **arguments: Any) -> Any:
    return lambda: getattr(FillModel(), method)(**arguments)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (_call("fill_price", side="buy", order_type=OrderType.MARKET, open=1.0, high=1.0, low=1.0), "side must be"),
        (_call("fill_price", side=BUY, order_type="market", open=1.0, high=1.0, low=1.0), "order_type must be"),
        (_call("fill_price", side=BUY, order_type=OrderType.LIMIT, open=1.0, high=1.0, low=1.0), "limit"),
        (_call("fill_price", side=BUY, order_type=OrderType.STOP, open=1.0, high=1.0, low=1.0), "stop"),
        (
            _call("fill_price", side=BUY, order_type=OrderType.STOP_LIMIT, open=1.0, high=1.0, low=1.0, limit=1.0),
            "stop",
        ),
        (_call("fill_price", side=BUY, order_type=OrderType.LIMIT, open=1, high=1, low=1, limit=NAN), "limit"),
        (_call("fill_price", side=BUY, order_type=OrderType.MARKET, open=NAN, high=1.0, low=1.0), "open must be"),
        (_call("fill_price", side=BUY, order_type=OrderType.MARKET, open=2.0, high=1.5, low=1.0), "low <= open"),
        (
            _call("fill_price", side=BUY, order_type=OrderType.MARKET, open=1, high=1, low=1, triggered=1),
            "triggered",
        ),
        (_call("slipped", price=math.inf, side=BUY, high=1.0, low=1.0), "price must be"),
        (_call("slipped", price=1.0, side=BUY, high=1.0, low=2.0), "low <= high"),
        (_call("commission_of", quantity=NAN, price=1.0), "quantity must be"),
        (_call("commission_of", quantity=1.0, price=0.0), "price must be"),
        (_call("round_lot", quantity=math.inf), "quantity must be"),
    ],
)
def test_helpers_refuse_bad_input_naming_it(call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()
