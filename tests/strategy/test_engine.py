"""The fill model on small hand-made bars, each expected fill worked out in the test."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bifrost.data import Panel
from bifrost.errors import InvalidInputError
from bifrost.strategy import Commission, FillModel, Orders, Signals, simulate

NAN = np.nan


def bars(*rows: tuple[float, float, float, float], volume: float = 1e9, symbols: int = 1) -> Panel:
    """A panel of one symbol (or the same bars repeated): rows of (open, high, low, close)."""
    a = np.array(rows, dtype=np.float64)
    fields = {
        name: np.asfortranarray(np.repeat(a[:, i : i + 1], symbols, axis=1))
        for i, name in enumerate(("open", "high", "low", "close"))
    }
    fields["volume"] = np.full((len(rows), symbols), volume, order="F")
    ts = pd.date_range("2024-01-01", periods=len(rows), freq="D", tz="UTC", name="ts")
    return Panel(ts=ts, symbols=tuple(f"S{i}" for i in range(symbols)), fields=MappingProxyType(fields))


def at(n: int, *where: int) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    flags[list(where)] = True
    return flags


FLAT4 = bars((10, 11, 9, 10), (10.5, 11, 10, 10.8), (11, 12, 10.5, 11.5), (11.2, 11.6, 10.9, 11.0))


def test_market_order_fills_at_the_next_open() -> None:
    r = simulate(FLAT4, Signals(entries=at(4, 0), exits=at(4, 2), size=100), cash=10_000)
    assert r.fills[["side", "quantity", "price"]].values.tolist() == [["buy", 100, 10.5], ["sell", 100, 11.2]]
    assert list(r.fills["ts"].dt.day) == [2, 4]
    assert r.final_value == pytest.approx(10_000 + 100 * (11.2 - 10.5))
    assert r.n_trades == 1 and r.trades["pnl"].iloc[0] == pytest.approx(70.0)


def test_fill_at_close_fills_on_the_signal_bar() -> None:
    r = simulate(
        FLAT4, Signals(entries=at(4, 0), exits=at(4, 2), size=100), cash=10_000, fill=FillModel(fill_at="close")
    )
    assert r.fills["price"].tolist() == [10.0, 11.5]
    assert list(r.fills["ts"].dt.day) == [1, 3]


def test_buy_limit_touched_by_the_low_only_fills_at_the_limit() -> None:
    panel = bars((10, 10.2, 9.9, 10), (10, 10.4, 9.5, 10.1), (10, 10.5, 9.9, 10.2))
    r = simulate(panel, Signals(entries=at(3, 0), size=10, limit_price=9.8), cash=1_000)
    assert r.fills[["price", "quantity"]].values.tolist() == [[9.8, 10]]
    assert r.fills["ts"].iloc[0].day == 2


def test_buy_limit_gapped_through_fills_at_the_better_open() -> None:
    panel = bars((10, 10.2, 9.9, 10), (9.0, 9.6, 8.9, 9.5))
    r = simulate(panel, Signals(entries=at(2, 0), size=10, limit_price=9.8), cash=1_000)
    assert r.fills["price"].tolist() == [9.0]


def test_unreached_limit_stays_open_good_till_cancelled_or_expires() -> None:
    panel = bars((10, 10.2, 9.9, 10), (10, 10.4, 9.9, 10.1), (10, 10.5, 9.9, 10.2))
    r = simulate(panel, Signals(entries=at(3, 0), size=10, limit_price=9.0), cash=1_000)
    assert r.fills.empty and r.orders["status"].tolist() == ["accepted"]
    r = simulate(panel, Signals(entries=at(3, 0), size=10, limit_price=9.0), cash=1_000, fill=FillModel(valid_bars=1))
    assert r.orders["status"].tolist() == ["expired"] and r.orders["ts_done"].iloc[0].day == 3


def test_stop_loss_gapped_through_fills_at_the_open() -> None:
    # bought at 10 (open of bar 1); stop 5% below = 9.5; bar 2 opens at 9.0, below the stop
    panel = bars((10, 10, 10, 10), (10, 10.2, 9.8, 10), (9.0, 9.2, 8.8, 9.1))
    r = simulate(panel, Signals(entries=at(3, 0), size=10, stop_loss=0.05), cash=1_000)
    assert r.fills["price"].tolist() == [10.0, 9.0]
    assert r.orders["origin"].tolist() == ["strategy", "stop_loss"]


def test_stop_loss_touched_inside_the_bar_fills_at_the_stop() -> None:
    panel = bars((10, 10, 10, 10), (10, 10.2, 9.8, 10), (9.8, 9.9, 9.3, 9.6))
    r = simulate(panel, Signals(entries=at(3, 0), size=10, stop_loss=0.05), cash=1_000)
    assert r.fills["price"].tolist() == [10.0, 9.5]


def test_stop_loss_is_live_on_the_entry_bar_when_entered_at_its_open() -> None:
    panel = bars((10, 10, 10, 10), (10, 10.2, 9.4, 10))
    r = simulate(panel, Signals(entries=at(2, 0), size=10, stop_loss=0.05), cash=1_000)
    assert r.fills["price"].tolist() == [10.0, 9.5] and r.fills["ts"].nunique() == 1


def test_take_profit_and_trailing_stop() -> None:
    panel = bars((10, 10, 10, 10), (10, 10.5, 9.9, 10.4), (10.6, 11.2, 10.5, 11.0))
    r = simulate(panel, Signals(entries=at(3, 0), size=10, take_profit=0.1), cash=1_000)
    assert r.fills["price"].tolist() == [10.0, 11.0] and r.orders["origin"].iloc[-1] == "take_profit"
    # trailing 5%: peak after bar 1 is its high 10.5 → stop 9.975; bar 2 falls to 9.9
    panel = bars((10, 10, 10, 10), (10, 10.5, 10.0, 10.4), (10.2, 10.3, 9.9, 10.0))
    r = simulate(panel, Signals(entries=at(3, 0), size=10, trailing_stop=0.05), cash=1_000)
    assert r.fills["price"].tolist() == pytest.approx([10.0, 10.5 * 0.95])
    assert r.orders["origin"].iloc[-1] == "trailing_stop"


def test_buy_stop_fills_at_the_stop_or_at_a_gap_open() -> None:
    panel = bars((10, 10, 10, 10), (10.2, 10.7, 10.1, 10.6))
    r = simulate(panel, Orders(size=at(2, 0) * 10.0 + np.where(at(2, 0), 0, NAN), stop_price=10.5), cash=1_000)
    assert r.fills["price"].tolist() == [10.5]
    panel = bars((10, 10, 10, 10), (11.0, 11.3, 10.9, 11.1))
    r = simulate(panel, Orders(size=np.array([10.0, NAN]), stop_price=10.5), cash=1_000)
    assert r.fills["price"].tolist() == [11.0]


def test_stop_limit_triggers_then_waits_for_its_limit() -> None:
    # bar 1 gaps over the stop (10.5) and stays above the limit (10.6): triggered, unfilled;
    # bar 2 trades down to the limit: filled at 10.6
    panel = bars((10, 10, 10, 10), (10.9, 11.0, 10.7, 10.8), (10.8, 10.9, 10.5, 10.6))
    r = simulate(panel, Orders(size=np.array([10.0, NAN, NAN]), stop_price=10.5, limit_price=10.6), cash=1_000)
    assert r.fills["price"].tolist() == [10.6] and r.fills["ts"].iloc[0].day == 3
    # triggered inside the bar at the stop, which is within the limit: filled at the stop
    panel = bars((10, 10, 10, 10), (10.2, 10.8, 10.1, 10.7))
    r = simulate(panel, Orders(size=np.array([10.0, NAN]), stop_price=10.5, limit_price=10.6), cash=1_000)
    assert r.fills["price"].tolist() == [10.5]


def test_volume_cap_fills_partially_over_several_bars() -> None:
    # 10% of 1,000 shares a bar: 250 shares take three bars (100, 100, 50)
    panel = bars((10, 10, 10, 10), (10, 10, 10, 10), (11, 11, 11, 11), (12, 12, 12, 12), volume=1_000)
    r = simulate(panel, Orders(size=np.array([250.0, NAN, NAN, NAN])), cash=10_000, fill=FillModel(volume_cap=0.1))
    assert r.fills[["quantity", "price"]].values.tolist() == [[100, 10], [100, 11], [50, 12]]
    order = r.orders.iloc[0]
    assert order["status"] == "filled" and order["filled"] == 250
    assert order["avg_price"] == pytest.approx((1000 + 1100 + 600) / 250)


def test_unaffordable_order_is_rejected_and_recorded_not_resized() -> None:
    r = simulate(FLAT4, Signals(entries=at(4, 0), size=100), cash=1_000)
    assert r.fills.empty
    assert r.orders[["status", "reason", "size"]].values.tolist() == [["rejected", "insufficient_cash", 100.0]]
    assert (r.cash == 1_000).all() and r.metrics["n_rejected"] == 1


def test_commission_makes_an_exactly_affordable_order_unaffordable() -> None:
    # 100 shares at 10.5 cost 1,050 exactly; a 1-unit fixed commission tips it over
    ok = simulate(FLAT4, Signals(entries=at(4, 0), size=100), cash=1_050)
    assert len(ok.fills) == 1
    rejected = simulate(
        FLAT4, Signals(entries=at(4, 0), size=100), cash=1_050, fill=FillModel(commission=Commission(fixed=1.0))
    )
    assert rejected.fills.empty and rejected.orders["status"].iloc[0] == "rejected"


@pytest.mark.parametrize(
    ("commission", "expected"),
    [
        (Commission(percent=0.001), 100 * 10.5 * 0.001),
        (Commission(per_share=0.005, minimum=1.0), 1.0),  # 0.50 by the share, raised to the minimum
        (Commission(per_share=0.02, minimum=1.0), 2.0),
        (Commission(fixed=4.95), 4.95),
        (Commission(percent=0.001, per_share=0.01, fixed=1.0), 1.05 + 1.0 + 1.0),
    ],
)
def test_commission_schedules(commission: Commission, expected: float) -> None:
    r = simulate(FLAT4, Signals(entries=at(4, 0), size=100), cash=10_000, fill=FillModel(commission=commission))
    assert r.fills["commission"].iloc[0] == pytest.approx(expected)
    assert r.cash.iloc[1] == pytest.approx(10_000 - 1_050 - expected)


def test_slippage_is_adverse_and_stays_inside_the_bar() -> None:
    r = simulate(
        FLAT4, Signals(entries=at(4, 0), exits=at(4, 2), size=100), cash=10_000, fill=FillModel(slippage_bps=10)
    )
    assert r.fills["price"].tolist() == pytest.approx([10.5 * 1.001, 11.2 * 0.999])
    # a quarter of the range (1.0) on top: 10.5 + 0.25 = 10.75; capped at the high for a wide slip
    r = simulate(FLAT4, Signals(entries=at(4, 0), size=100), cash=10_000, fill=FillModel(slippage_range=0.25))
    assert r.fills["price"].tolist() == pytest.approx([10.75])
    r = simulate(FLAT4, Signals(entries=at(4, 0), size=100), cash=10_000, fill=FillModel(slippage_range=1.0))
    assert r.fills["price"].tolist() == [11.0]


def test_short_selling_needs_permission_and_margin() -> None:
    r = simulate(FLAT4, Orders(size=np.array([-100.0, NAN, NAN, NAN])), cash=10_000)
    assert r.fills.empty and r.orders["reason"].tolist() == ["short_not_allowed"]
    r = simulate(FLAT4, Orders(size=np.array([-100.0, NAN, 100.0, NAN])), cash=10_000, fill=FillModel(allow_short=True))
    assert r.fills[["side", "price"]].values.tolist() == [["sell", 10.5], ["buy", 11.2]]
    assert r.trades["pnl"].tolist() == pytest.approx([-70.0])
    # 1,050 short against 1,000 of equity exceeds leverage 1
    r = simulate(FLAT4, Orders(size=np.array([-100.0, NAN, NAN, NAN])), cash=1_000, fill=FillModel(allow_short=True))
    assert r.orders["status"].tolist() == ["rejected"]


def test_target_weights_rebalance_sells_before_buys_with_shared_cash() -> None:
    panel = bars((10, 10, 10, 10), (10, 10, 10, 10), (10, 10, 10, 10), symbols=2)
    size = np.array([[1.0, 0.0], [0.0, 1.0], [NAN, NAN]])
    r = simulate(panel, Orders(size=size, size_type="target_percent"), cash=1_000)
    # all in S0 on bar 1; on bar 2 sell S0 first, which pays for S1
    assert r.fills[["symbol", "side", "quantity"]].values.tolist() == [
        ["S0", "buy", 100], ["S0", "sell", 100], ["S1", "buy", 100]
    ]  # fmt: skip
    assert r.positions.iloc[-1].tolist() == [0, 100]


def test_percent_and_value_sizes_round_down_to_whole_shares_at_the_fill_price() -> None:
    r = simulate(FLAT4, Signals(entries=at(4, 0), size=0.5, size_type="percent"), cash=10_000)
    assert r.fills["quantity"].tolist() == [476]  # floor(5,000 / 10.5)
    r = simulate(FLAT4, Signals(entries=at(4, 0), size=1_000, size_type="value"), cash=10_000)
    assert r.fills["quantity"].tolist() == [95]
    r = simulate(
        FLAT4, Signals(entries=at(4, 0), size=1_000, size_type="value"), cash=10_000, fill=FillModel(lot_size=0)
    )
    assert r.fills["quantity"].tolist() == pytest.approx([1_000 / 10.5])


def test_missing_bars_delay_fills_and_keep_the_last_mark() -> None:
    panel = bars((10, 10, 10, 10), (NAN, NAN, NAN, NAN), (12, 12, 12, 12))
    r = simulate(panel, Signals(entries=at(3, 0), size=10), cash=1_000)
    assert r.fills["price"].tolist() == [12.0] and r.fills["ts"].iloc[0].day == 3
    r = simulate(
        bars((10, 10, 10, 10), (10, 10, 10, 10), (NAN, NAN, NAN, NAN)), Signals(entries=at(3, 0), size=10), cash=1_000
    )
    assert r.equity.tolist() == [1_000, 1_000, 1_000]


def _bad(**changes: Any) -> Any:
    return lambda: FillModel(**changes)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (_bad(fill_at="midday"), "fill_at must be 'open' or 'close'"),
        (_bad(slippage_bps=-1), "slippage_bps must be a non-negative"),
        (_bad(volume_cap=0.0), r"volume_cap must be in \(0, 1\]"),
        (_bad(volume_cap=1.5), r"volume_cap must be in \(0, 1\]"),
        (_bad(leverage=0.5), "leverage must be a number from 1 to 100"),
        (_bad(leverage=1e6), "leverage must be a number from 1 to 100"),
        (_bad(slippage_bps=20_000), "slippage_bps must be a non-negative number at most 10000"),
        (_bad(slippage_range=1.5), "slippage_range must be a non-negative number at most 1"),
        (_bad(lot_size=1e300), "lot_size must be a non-negative number at most 1e"),
        (lambda: Commission(percent=1.5), "percent must be a non-negative number at most 1,"),
        (lambda: Commission(fixed=1e300), "fixed must be a non-negative number at most 1e"),
        (_bad(valid_bars=-1), "valid_bars must be a non-negative integer"),
        (lambda: Commission(percent=float("nan")), "percent must be a non-negative"),
        (lambda: Signals(entries=[True], size_type="target_percent"), "target sizes need Orders"),  # type: ignore[arg-type]
        (lambda: Signals(entries=[True], stop_loss=1.5), r"stop_loss must be in \(0, 1\]"),
        (lambda: Orders(size=[1.0], size_type="lots"), "size_type must be one of"),  # type: ignore[arg-type]
        (lambda: simulate(FLAT4, Signals(entries=at(3, 0)), cash=1_000), "has 3 values"),
        (lambda: simulate(FLAT4, Signals(entries=at(4, 0)), cash=0), "cash must be a positive number"),
        (lambda: simulate(FLAT4, Signals(entries=at(4, 0), limit_price=-1.0)), "limit_price must be positive"),
        (lambda: simulate(FLAT4, Orders(size=np.array([np.inf, NAN, NAN, NAN]))), "size must be finite"),
        (lambda: simulate(FLAT4, "buy"), "must return Signals or Orders"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_refused_with_a_clear_error(call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_volume_cap_needs_a_volume_field() -> None:
    no_volume = Panel(
        ts=FLAT4.ts,
        symbols=FLAT4.symbols,
        fields=MappingProxyType({k: v for k, v in FLAT4.fields.items() if k != "volume"}),
    )
    with pytest.raises(InvalidInputError, match="volume_cap needs a 'volume' field"):
        simulate(no_volume, Signals(entries=at(4, 0)), fill=FillModel(volume_cap=0.1))
