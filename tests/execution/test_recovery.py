"""The kill test: SIGKILL the order flow at every step boundary, restart, reconcile, find nothing lost or doubled."""

from __future__ import annotations

import os
import signal
from decimal import Decimal

import pytest

from bifrost.data import BarStore
from bifrost.errors import ReconciliationError
from bifrost.execution._manager import STEPS, OrderManager
from bifrost.execution._order import OrderRequest, OrderStatus, Side
from bifrost.execution._paper import PaperBroker
from bifrost.portfolio import Fill, record_transactions
from tests.execution._crash_child import check_recovered, day, fork_run, kill_at, parts, seed

BACKENDS = ["embedded", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def seeded(store: BarStore) -> BarStore:
    seed(store, len(STEPS) + 1)
    return store


@pytest.mark.parametrize("store", BACKENDS, indirect=True)
def test_flow_killed_at_every_step_recovers_without_divergence(seeded: BarStore) -> None:
    # Arrange: one portfolio per step (P0..P8), the flow killed at that step's first boundary
    for run, step in enumerate(STEPS):
        # Act
        status = fork_run(seeded, run, kill_at(step))
        # Assert: the child died at the step (SIGKILL), and the restarted book agrees with the broker
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (step, status)
        assert check_recovered(seeded, f"P{run}", day(run, 0)) == [], step


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_flow_killed_at_second_fill_durable_recovers(seeded: BarStore) -> None:
    status = fork_run(seeded, 0, kill_at("events_polled", occurrence=2))
    assert os.WIFSIGNALED(status)
    assert check_recovered(seeded, "P0", day(0, 0)) == []


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_flow_not_killed_leaves_book_equal_to_broker(seeded: BarStore) -> None:
    status = fork_run(seeded, 0, None)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert check_recovered(seeded, "P0", day(0, 0)) == []


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_killed_before_broker_call_is_rejected_not_received_never_resent(seeded: BarStore) -> None:
    # Arrange: killed with the intent durable, before the broker was called
    fork_run(seeded, 0, kill_at("broker_called"))
    manager, broker, _ = parts(seeded, 0, None)
    # Act
    manager.reconcile()
    # Assert: asked by client order id, the broker has none: rejected, and the broker still has none
    order = manager.order("r0-buy")
    assert order.status is OrderStatus.REJECTED and order.reject_reason == "not_received"
    assert broker.get_order("r0-buy") is None


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_reconcile_position_difference_raises_and_refuses_submit(seeded: BarStore) -> None:
    # Arrange: a normal flow, then a fill booked in the ledger that the broker never made
    fork_run(seeded, 0, None)
    record_transactions(
        seeded,
        "P0",
        [Fill(txn_id="by-hand", ts=day(0, 3), symbol="ORCL", side=Side.BUY, quantity=Decimal(1), price=Decimal(20))],
    )
    manager = OrderManager(seeded, PaperBroker(seeded, clock=lambda: day(0, 3)), clock=lambda: day(0, 3))
    # Act / Assert
    with pytest.raises(ReconciliationError, match=r"P0 ORCL: the ledger holds 61, the broker 60"):
        manager.reconcile()
    with pytest.raises(ReconciliationError, match="trading is refused"):
        manager.submit(OrderRequest(portfolio="P0", symbol="ORCL", side=Side.BUY, quantity=Decimal(1)))
