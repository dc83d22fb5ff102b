"""A backtest's orders in the order vocabulary of bifrost.execution: statuses, reasons, types and sides."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bifrost.execution._fills import LIMIT, MARKET, ORDER_TYPES, STOP, STOP_LIMIT
from bifrost.execution._order import CancelReason, OrderStatus, OrderType, RejectReason, Side
from bifrost.strategy import FillModel, Orders, Signals, simulate
from bifrost.strategy import _kernel as K
from bifrost.strategy._result import ORDER_FATES
from tests.strategy.test_engine import FLAT4, at, bars

NAN = np.nan
COLUMNS = [
    "order_id", "ts_created", "symbol", "side", "order_type", "origin", "size", "size_type", "limit_price",
    "stop_price", "status", "reason", "filled", "avg_price", "ts_done",
]  # fmt: skip


def test_order_fates_name_every_status_and_reason_code_of_the_kernel() -> None:
    assert {status for status, _ in ORDER_FATES} == set(range(K.N_STATUSES))
    assert {reason for _, reason in ORDER_FATES} == set(range(K.N_REASONS))
    for status, reason in ORDER_FATES.values():
        assert isinstance(status, OrderStatus) and (reason is None or isinstance(reason, RejectReason | CancelReason))
    assert ORDER_FATES[K.REJECTED, K.NO_CASH] == (OrderStatus.REJECTED, RejectReason.INSUFFICIENT_CASH)
    assert ORDER_FATES[K.OPEN, K.NO_REASON] == (OrderStatus.ACCEPTED, None)
    assert [ORDER_TYPES[code] for code in (MARKET, LIMIT, STOP, STOP_LIMIT)] == list(OrderType)


def test_backtest_orders_carry_side_type_status_and_reason_as_the_order_manager_does() -> None:
    # bar 0: buy 10 at market (fills at bar 1's open, 10); bar 1: a buy limit at 1 (never reached);
    # bar 2 gaps through the 5% stop: the limit is canceled (stopped out), the position sold at the open
    panel = bars((10, 10, 10, 10), (10, 10.2, 9.8, 10), (9.0, 9.2, 8.8, 9.1))
    r = simulate(
        panel, Orders(size=np.array([10.0, 5.0, NAN]), limit_price=np.array([NAN, 1.0, NAN]), stop_loss=0.05), cash=1e3
    )
    assert list(r.orders.columns) == COLUMNS
    got = r.orders[["side", "order_type", "origin", "status", "reason"]].values.tolist()
    assert got == [
        ["buy", "market", "strategy", "filled", ""],
        ["buy", "limit", "strategy", "canceled", "stopped_out"],
        ["sell", "stop", "stop_loss", "filled", ""],
    ]
    for column, vocabulary in (("side", Side), ("order_type", OrderType), ("status", OrderStatus)):
        assert all(type(v) is str for v in r.orders[column]) and set(r.orders[column]) <= set(vocabulary)


def test_backtest_order_replaced_by_a_newer_one_is_canceled_replaced() -> None:
    r = simulate(FLAT4, Orders(size=np.array([10.0, 20.0, NAN, NAN]), limit_price=1.0), cash=1e3)
    assert r.orders[["status", "reason"]].values.tolist() == [["canceled", "replaced"], ["accepted", ""]]
    assert r.orders["ts_done"].isna().tolist() == [False, True]


def test_backtest_order_partly_filled_at_the_end_is_partially_filled() -> None:
    # a 10% volume cap takes 100 of 1,000 shares a bar: 200 of 250 in the two bars left
    panel = bars((10, 10, 10, 10), (10, 10, 10, 10), (11, 11, 11, 11), volume=1_000)
    r = simulate(panel, Orders(size=np.array([250.0, NAN, NAN])), cash=1e4, fill=FillModel(volume_cap=0.1))
    order = r.orders.iloc[0]
    assert (order["status"], order["filled"], order["side"]) == ("partially_filled", 200.0, "buy")
    assert pd.isna(order["ts_done"])


def test_backtest_rejections_name_the_reject_reason_and_the_side() -> None:
    short = simulate(FLAT4, Orders(size=np.array([-100.0, NAN, NAN, NAN])), cash=1e4)
    cash = simulate(FLAT4, Signals(entries=at(4, 0), size=100), cash=1_000)
    assert short.orders[["side", "status", "reason"]].values.tolist() == [["sell", "rejected", "short_not_allowed"]]
    assert cash.orders[["side", "status", "reason"]].values.tolist() == [["buy", "rejected", "insufficient_cash"]]
    assert cash.to_dict()["rejected_orders"] == 1


def test_target_orders_take_the_side_they_trade_and_an_empty_target_is_no_order() -> None:
    # bar 0: all in S0, nothing in S1 (held: no order); bar 1: S0 out, S1 in; bar 2 (the last):
    # S1 to half, placed on the close and still working at the end: a sell by its target at that close
    panel = bars((10, 10, 10, 10), (10, 10, 10, 10), (10, 10, 10, 10), symbols=2)
    size = np.array([[1.0, 0.0], [0.0, 1.0], [NAN, 0.5]])
    r = simulate(panel, Orders(size=size, size_type="target_percent"), cash=1_000)
    got = r.orders[["symbol", "side", "status"]].values.tolist()
    assert got == [
        ["S0", "buy", "filled"],
        ["S0", "sell", "filled"],
        ["S1", "buy", "filled"],
        ["S1", "sell", "accepted"],
    ]
