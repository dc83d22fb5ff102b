"""Pre-trade checks, trading states and the kill switch."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
import pytest

from bifrost.data import AUDIT_SCHEMA, BarStore
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.execution._checks import (
    BookView,
    MarketView,
    OpenOrder,
    RiskLimitCheck,
    SizeCheck,
    TradingState,
    TradingStateCheck,
    kill_switch,
    set_trading_state,
    trading_state,
)
from bifrost.execution._manager import OrderManager
from bifrost.execution._order import OrderRequest, RejectReason, Side
from bifrost.execution._paper import PaperBroker
from bifrost.execution._schema import EXECUTION_SCHEMA
from bifrost.risk import Limit, check_limits, set_limits
from tests.execution._crash_child import seed

T = pd.Timestamp("2014-12-31", tz="UTC")
PRICE = Decimal("45")
MARKET = MarketView(ts=T, prices={"ORCL": PRICE, "NVDA": Decimal("20")})


def book(
    position: int = 100,
    *,
    state: TradingState = TradingState.ACTIVE,
    open_orders: Sequence[OpenOrder] = (),
    cash: int = 100_000,
) -> BookView:
    positions = {"ORCL": Decimal(position)} if position else {}
    equity = Decimal(cash) + Decimal(position) * PRICE
    return BookView(portfolio="P0", trading_state=state, positions=positions, cash=Decimal(cash), equity=equity,
                    open_orders=tuple(open_orders))  # fmt: skip


def order(side: Side, quantity: int, symbol: str = "ORCL") -> OrderRequest:
    return OrderRequest(portfolio="P0", symbol=symbol, side=side, quantity=Decimal(quantity))


@pytest.fixture
def seeded(store: BarStore) -> BarStore:
    seed(store, 1)
    return store


# -- trading state ---------------------------------------------------------------------------------
def test_trading_state_check_halted_blocks_even_a_reducing_order() -> None:
    result = TradingStateCheck().check(order(Side.SELL, 10), book(state=TradingState.HALTED), MARKET)
    assert result.verdict == "block" and result.reject_reason is RejectReason.TRADING_HALTED


@pytest.mark.parametrize(
    ("side", "quantity", "verdict"),
    [(Side.SELL, 50, "pass"), (Side.SELL, 100, "pass"), (Side.SELL, 150, "block"), (Side.BUY, 1, "block")],
)
def test_trading_state_check_reducing_passes_only_orders_that_reduce(side: Side, quantity: int, verdict: str) -> None:
    result = TradingStateCheck().check(order(side, quantity), book(100, state=TradingState.REDUCING), MARKET)
    assert result.verdict == verdict
    if verdict == "block":
        assert result.reject_reason is RejectReason.REDUCE_ONLY and "does not reduce" in result.reason


def test_trading_state_check_reducing_counts_working_orders() -> None:
    # a long 100 with 80 already being sold: selling 30 more would go short
    working = [OpenOrder(client_order_id="w", symbol="ORCL", side=Side.SELL, leaves_quantity=Decimal(80))]
    result = TradingStateCheck().check(
        order(Side.SELL, 30), book(100, state=TradingState.REDUCING, open_orders=working), MARKET
    )
    assert result.verdict == "block"


@pytest.mark.parametrize(("quantity", "verdict"), [(50, "pass"), (100, "pass"), (101, "block")])
def test_trading_state_check_reducing_passes_a_buy_that_covers_a_short_up_to_flat(quantity: int, verdict: str) -> None:
    # a short of 100: buying 100 closes it (reduces, as selling a long to zero does); 101 would go long
    result = TradingStateCheck().check(order(Side.BUY, quantity), book(-100, state=TradingState.REDUCING), MARKET)
    assert result.verdict == verdict


def test_trading_state_check_reducing_flat_book_blocks_any_order() -> None:
    result = TradingStateCheck().check(order(Side.SELL, 1), book(0, state=TradingState.REDUCING), MARKET)
    assert result.verdict == "block"


# -- size minimum ----------------------------------------------------------------------------------
def test_size_check_below_minimum_blocks() -> None:
    result = SizeCheck(min_notional=1_000).check(order(Side.BUY, 10), book(), MARKET)  # 450 < 1000
    assert result.verdict == "block" and "below the minimum 1000" in result.reason


def test_size_check_reducing_order_in_reducing_book_skips_minimum() -> None:
    result = SizeCheck(min_notional=1_000).check(order(Side.SELL, 10), book(100, state=TradingState.REDUCING), MARKET)
    assert result.verdict == "pass" and "skipped" in result.reason


@pytest.mark.parametrize("bad", [0, -1, "nan", float("inf")])
def test_size_check_bad_minimum_raises(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="min_notional"):
        SizeCheck(min_notional=bad)


# -- risk limits -----------------------------------------------------------------------------------
@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_risk_limit_check_gross_exposure_blocks_increase_passes_reduction(seeded: BarStore) -> None:
    # equity 104,500; 100 ORCL = 4.3%; buying 2,000 more takes gross to ~90%
    set_limits(seeded, "P0", [Limit(name="gross", metric="gross_exposure", threshold=0.5)])
    check = RiskLimitCheck(seeded)
    blocked = check.check(order(Side.BUY, 2_000), book(100), MARKET)
    assert blocked.verdict == "block" and blocked.reject_reason is RejectReason.RISK_LIMIT
    assert "limit 'gross' (gross_exposure): 90.43% of equity after the order, above 50.00%" in blocked.reason
    over = book(2_000, cash=10_000)  # already above: a sale that reduces passes
    assert check.check(order(Side.SELL, 100), over, MARKET).verdict == "pass"


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_risk_limit_check_in_a_batch_reads_the_limits_once_and_after_it_again(seeded: BarStore) -> None:
    # a batch (submit_many) judges its orders on one snapshot of the limits; a change shows after the batch
    set_limits(seeded, "P0", [Limit(name="gross", metric="gross_exposure", threshold=0.5)])
    check = RiskLimitCheck(seeded)
    check.begin_batch()
    assert check.check(order(Side.BUY, 2_000), book(100), MARKET).verdict == "block"
    set_limits(seeded, "P0", [Limit(name="gross", metric="gross_exposure", threshold=2.0)])  # raised meanwhile
    assert check.check(order(Side.BUY, 2_000), book(100), MARKET).verdict == "block"  # the batch's snapshot
    check.end_batch()
    assert check.check(order(Side.BUY, 2_000), book(100), MARKET).verdict == "pass"


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_risk_limit_check_above_warning_level_warns(seeded: BarStore) -> None:
    set_limits(seeded, "P0", [Limit(name="name", metric="single_name", threshold=0.5, warn_at=0.5)])
    result = RiskLimitCheck(seeded).check(order(Side.BUY, 600), book(100), MARKET)  # 700 × 45 / 104,500 = 30%
    assert result.verdict == "warn" and "'name'" in result.reason


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_risk_limit_check_open_var_breach_blocks_increase_not_reduction(seeded: BarStore) -> None:
    # Arrange: hold ORCL, then a VaR limit no real book meets, checked and recorded
    OrderManager(seeded, PaperBroker(seeded)).submit(order(Side.BUY, 1_000))
    set_limits(seeded, "P0", [Limit(name="tiny_var", metric="var", threshold=0.0001)])
    assert check_limits(seeded, "P0").breached
    check = RiskLimitCheck(seeded)
    # Act / Assert
    blocked = check.check(order(Side.BUY, 10), book(1_000), MARKET)
    assert blocked.verdict == "block" and "VaR/ES limit is breached" in blocked.reason
    assert check.check(order(Side.SELL, 10), book(1_000), MARKET).verdict == "pass"


# -- trading states in the store and the kill switch -------------------------------------------------
@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_set_trading_state_keeps_history_and_audits(seeded: BarStore) -> None:
    assert trading_state(seeded, "P0") is TradingState.ACTIVE
    set_trading_state(seeded, "P0", "reducing", reason="month end")
    set_trading_state(seeded, "P0", TradingState.HALTED, reason="desk closed")
    assert trading_state(seeded, "P0") is TradingState.HALTED
    with seeded.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        history = db.rows("SELECT previous, state, reason FROM {t}book_state_history ORDER BY id")
    with seeded.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        kinds = [r[0] for r in db.rows("SELECT kind FROM {t}audit_log ORDER BY seq")]
    assert history == [("active", "reducing", "month end"), ("reducing", "halted", "desk closed")]
    assert kinds == ["book.state", "book.state"]


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
@pytest.mark.parametrize(
    ("portfolio", "state", "reason", "error", "match"),
    [
        ("P0", "frozen", "x", InvalidInputError, "trading state must be one of"),
        ("P0", "halted", "", InvalidInputError, "needs a reason"),
        ("P0", "halted", "a\nb", InvalidInputError, "needs a reason"),
        ("P0", "halted", "x" * 501, InvalidInputError, "at most 500 characters"),
        ("nobody", "halted", "x", NotFoundError, "no portfolio 'nobody'"),
    ],
)
def test_set_trading_state_bad_input_raises_and_changes_nothing(
    seeded: BarStore, portfolio: str, state: str, reason: str, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        set_trading_state(seeded, portfolio, state, reason=reason)
    assert trading_state(seeded, "P0") is TradingState.ACTIVE


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_kill_switch_var_breach_halts_book_and_new_orders_are_rejected(seeded: BarStore) -> None:
    manager = OrderManager(seeded, PaperBroker(seeded))
    manager.submit(order(Side.BUY, 1_000))
    assert kill_switch(seeded, "P0") is TradingState.ACTIVE  # no breach recorded yet
    set_limits(seeded, "P0", [Limit(name="tiny_var", metric="var", threshold=0.0001)])
    check_limits(seeded, "P0")
    # Act
    state = kill_switch(seeded, "P0")
    # Assert
    assert state is TradingState.HALTED and trading_state(seeded, "P0") is TradingState.HALTED
    rejected = manager.submit(order(Side.SELL, 10))
    assert rejected.reject_reason is RejectReason.TRADING_HALTED


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_kill_switch_unknown_metric_raises(seeded: BarStore) -> None:
    with pytest.raises(InvalidInputError, match="kill_switch metrics"):
        kill_switch(seeded, "P0", metrics=("gross_exposure",))
