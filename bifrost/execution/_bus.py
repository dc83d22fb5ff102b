"""Order events for whoever watches: in the same process (a bus), and across processes (the store).

In the process that runs the order manager, `OrderBus` calls each subscriber with the order
and the event once the event is durable. Another process (a Voila dashboard watching fills
that a papermill job makes) polls `orders_marker`, which changes on every stored order
event, or waits for a change with `wait_for_orders`: on PostgreSQL it LISTENs on the
``bifrost_orders`` channel (the manager NOTIFYs in the transaction that stores the event, so
the notice arrives only once the event is committed); on the embedded store it polls the
marker.
"""

from __future__ import annotations

import json
import logging
import select
import threading
import time
from collections.abc import Callable

import psycopg

from bifrost._checks import as_finite_float
from bifrost.data import StateDb, Store
from bifrost.errors import InvalidInputError
from bifrost.execution._order import Order, OrderEvent
from bifrost.execution._schema import EXECUTION_SCHEMA

__all__ = ["CHANNEL", "OrderBus", "Subscriber", "orders_marker", "wait_for_orders"]

log = logging.getLogger("bifrost.execution")

CHANNEL = "bifrost_orders"
Subscriber = Callable[[Order, OrderEvent], None]


class OrderBus:
    """Subscribers of one process, called with ``(order, event)`` after each durable event.

    A subscriber that raises is logged and skipped: it never undoes or stops the flow that
    published the event (the event is already stored).
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(order, event)`` for every event from now on; return a function that unsubscribes."""
        if not callable(fn):
            raise InvalidInputError(f"a subscriber is a function of (order, event), got {type(fn).__name__}")
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def publish(self, order: Order, event: OrderEvent) -> None:
        """Call every subscriber with ``(order, event)``."""
        with self._lock:
            subscribers = list(self._subscribers)
        for fn in subscribers:
            try:
                fn(order, event)
            except Exception:  # a subscriber's bug is its own: the event is stored already
                log.exception("order event subscriber %r failed on %s", fn, type(event).__name__)


def notify(db: StateDb, order: Order) -> None:
    """On PostgreSQL, NOTIFY ``bifrost_orders`` inside ``db``'s transaction (delivered on commit)."""
    if db.postgres:
        payload = json.dumps({"client_order_id": order.client_order_id, "status": str(order.status)})
        db.run("SELECT pg_notify(?, ?)", (CHANNEL, payload))


def orders_marker(store: Store) -> str:
    """Return a short text that changes on every stored order event (one small query).

    For a dashboard that polls the store and reads the orders again only when this changed.
    The text means nothing but itself.
    """
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        orders, last = db.rows("SELECT (SELECT count(*) FROM {t}orders), (SELECT max(seq) FROM {t}order_events)")[0]
    return f"orders:{int(orders)}:{0 if last is None else int(last)}"


def wait_for_orders(store: Store, marker: str, *, timeout_s: float = 30.0, poll_s: float = 0.25) -> str:
    """Wait until `orders_marker` differs from ``marker`` or ``timeout_s`` passed; return the marker then.

    On PostgreSQL the wait LISTENs on ``bifrost_orders`` (a change is seen as soon as it
    commits); on the embedded store it polls the marker every ``poll_s`` seconds.

    Raises
    ------
    InvalidInputError
        If ``timeout_s`` or ``poll_s`` is not a positive finite number of seconds.
    """
    timeout_s = as_finite_float(timeout_s, "timeout_s", minimum=0.0, maximum=86_400.0)
    poll_s = as_finite_float(poll_s, "poll_s", minimum=0.001, maximum=3_600.0)
    deadline = time.monotonic() + timeout_s
    current = orders_marker(store)
    if current != marker:
        return current
    url = getattr(store, "url", None) if store.backend == "postgres" else None
    if not isinstance(url, str):
        while current == marker and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(poll_s, left))
            current = orders_marker(store)
        return current
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"LISTEN {CHANNEL}")
        current = orders_marker(store)  # a change between the first read and LISTEN is not missed
        while current == marker and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([con.fileno()], [], [], min(left, 5.0))
            if ready:
                con.execute("SELECT 1")  # reads the pending notices off the socket
                for _ in con.notifies(timeout=0):
                    pass
            current = orders_marker(store)
    return current
