"""What a broker is to the order manager: the `Broker` protocol and the reports it returns.

A broker is "the other side": it keeps its own state (a remote venue, or the paper broker's
own tables) and survives the order manager's crashes, so that restarting can ask it what
happened. Satisfy the protocol structurally; do not inherit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import pandas as pd

from bifrost.execution._order import Order, OrderEvent, OrderStatus
from bifrost.portfolio import Side

__all__ = ["Broker", "BrokerAccount", "BrokerFill", "BrokerOrder"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerOrder:
    """The broker's view of one order."""

    client_order_id: str
    broker_order_id: str | None
    symbol: str
    side: Side
    quantity: Decimal
    filled_quantity: Decimal
    status: OrderStatus
    avg_fill_price: Decimal | None
    ts_updated: pd.Timestamp


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerFill:
    """One execution as the broker reports it (``trade_id`` is unique per order).

    ``basis`` says how the price was found where the broker says so (the paper broker:
    ``next_open``, ``last_close``, ``bar_range`` or ``quote``; empty from a real venue).
    """

    client_order_id: str
    trade_id: str
    ts: pd.Timestamp
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    commission: Decimal
    basis: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerAccount:
    """An account's money as the broker reports it."""

    account: str
    cash: Decimal
    buying_power: Decimal
    equity: Decimal
    currency: str = "USD"


class Broker(Protocol):
    """Send orders to a venue and report what it did.

    The account is the portfolio's name (``order.request.portfolio``). Every call may raise
    `BrokerUnavailableError` (timed out, 5xx, unreachable: the outcome is unknown) or
    `BrokerError` (a definite failure of a call that is not an order). An order the broker
    refuses is a `Rejected` event, never an exception.
    """

    name: str

    def submit(self, order: Order) -> list[OrderEvent]:
        """Send ``order``; return the events known at once (Accepted, Rejected, Filled, ...)."""
        ...

    def cancel(self, order: Order) -> list[OrderEvent]:
        """Ask to cancel ``order``; return the events known at once."""
        ...

    def replace(
        self,
        order: Order,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> list[OrderEvent]:
        """Ask to change ``order``'s quantity or prices (None: unchanged); return the events known at once."""
        ...

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """Return the broker's view of the order, or None when the broker confirms it has no such order."""
        ...

    def open_orders(self, account: str) -> list[BrokerOrder]:
        """Return the account's working orders."""
        ...

    def fills(self, account: str, *, since: pd.Timestamp | None = None) -> list[BrokerFill]:
        """Return the account's fills (from ``since`` on), oldest first."""
        ...

    def positions(self, account: str) -> dict[str, Decimal]:
        """Return the account's positions in signed shares (flat symbols omitted)."""
        ...

    def account(self, account: str) -> BrokerAccount:
        """Return the account's cash, buying power and equity."""
        ...

    def poll_events(self) -> list[OrderEvent]:
        """Return the order events that arrived since the last poll, oldest first."""
        ...
