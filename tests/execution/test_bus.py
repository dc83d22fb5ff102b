"""Order events: the in-process bus, the store's marker, waiting for a change (LISTEN on PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

import pytest

from bifrost.data import BarStore
from bifrost.errors import InvalidInputError
from bifrost.execution._bus import orders_marker, wait_for_orders
from bifrost.execution._manager import OrderManager
from bifrost.execution._order import Order, OrderEvent, OrderRequest, OrderStatus, Side
from bifrost.execution._paper import PaperBroker
from tests.execution._crash_child import reopen, seed

BACKENDS = ["embedded", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def seeded(store: BarStore) -> BarStore:
    seed(store, 1)
    return store


def buy(quantity: int = 10) -> OrderRequest:
    return OrderRequest(portfolio="P0", symbol="ORCL", side=Side.BUY, quantity=Decimal(quantity))


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_subscribe_receives_each_durable_event_until_unsubscribed(seeded: BarStore) -> None:
    manager = OrderManager(seeded, PaperBroker(seeded))
    seen: list[tuple[OrderStatus, str]] = []
    unsubscribe = manager.subscribe(lambda o, e: seen.append((o.status, type(e).__name__)))
    manager.submit(buy())
    unsubscribe()
    manager.submit(buy())
    assert seen == [
        (OrderStatus.SUBMITTED, "Submitted"),
        (OrderStatus.ACCEPTED, "Accepted"),
        (OrderStatus.FILLED, "Filled"),
    ]


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_subscriber_that_raises_is_logged_and_the_flow_goes_on(
    seeded: BarStore, caplog: pytest.LogCaptureFixture
) -> None:
    manager = OrderManager(seeded, PaperBroker(seeded))

    def broken(order: Order, event: OrderEvent) -> None:
        raise RuntimeError("dashboard bug")

    manager.subscribe(broken)
    with caplog.at_level(logging.ERROR, logger="bifrost.execution"):
        order = manager.submit(buy())
    assert order.status is OrderStatus.FILLED
    assert "subscriber" in caplog.text and "dashboard bug" in caplog.text


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_subscribe_non_callable_raises(seeded: BarStore) -> None:
    with pytest.raises(InvalidInputError, match="subscriber"):
        OrderManager(seeded, PaperBroker(seeded)).subscribe("print")  # type: ignore[arg-type]


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_orders_marker_changes_on_every_event_and_only_then(seeded: BarStore) -> None:
    empty = orders_marker(seeded)
    assert orders_marker(seeded) == empty
    OrderManager(seeded, PaperBroker(seeded)).submit(buy())
    after = orders_marker(seeded)
    assert after != empty and after == "orders:1:3"  # one order, its three events


@pytest.mark.parametrize("store", BACKENDS, indirect=True)
def test_wait_for_orders_sees_an_order_made_by_another_writer(seeded: BarStore) -> None:
    # Arrange: another writer (its own store object, as another process has) submits while we wait
    marker = orders_marker(seeded)
    other = reopen(seeded)
    errors: list[BaseException] = []

    def trade() -> None:
        try:
            OrderManager(other, PaperBroker(other)).submit(buy())
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    thread = threading.Timer(0.3, trade)
    thread.start()
    try:
        # Act
        changed = wait_for_orders(seeded, marker, timeout_s=60, poll_s=0.05)
    finally:
        thread.join()
        other.close()
    # Assert
    assert errors == [] and changed != marker


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_wait_for_orders_nothing_happens_returns_the_same_marker(seeded: BarStore) -> None:
    marker = orders_marker(seeded)
    assert wait_for_orders(seeded, marker, timeout_s=0.2, poll_s=0.05) == marker


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
@pytest.mark.parametrize("bad", [{"timeout_s": -1}, {"timeout_s": float("nan")}, {"poll_s": 0}])
def test_wait_for_orders_bad_timeout_raises(seeded: BarStore, bad: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError):
        wait_for_orders(seeded, "orders:0:0", **bad)
