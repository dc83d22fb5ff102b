"""Orders: the one order vocabulary of bifrost, and the order state machine written as data.

CONTRACT SKELETON (issue 14): the names, fields and signatures below are fixed; the
order-model helper fills in the behaviour (validation, `Order.apply`, replay, the diagram).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum, auto

import pandas as pd

from bifrost.portfolio import Side

__all__ = [
    "Accepted",
    "CancelReason",
    "CancelRejected",
    "Canceled",
    "Expired",
    "Filled",
    "Order",
    "OrderEvent",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "PendingCancel",
    "PendingReplace",
    "RejectReason",
    "Rejected",
    "ReplaceRejected",
    "Replaced",
    "Side",
    "SubmitUnknown",
    "Submitted",
    "TimeInForce",
]

ZERO = Decimal(0)


class OrderStatus(StrEnum):
    NEW = auto()
    SUBMITTED = auto()
    ACCEPTED = auto()
    PARTIALLY_FILLED = auto()
    FILLED = auto()
    PENDING_CANCEL = auto()
    PENDING_REPLACE = auto()
    CANCELED = auto()
    REJECTED = auto()
    EXPIRED = auto()


class OrderType(StrEnum):
    MARKET = auto()
    LIMIT = auto()
    STOP = auto()
    STOP_LIMIT = auto()


class TimeInForce(StrEnum):
    DAY = auto()
    GTC = auto()
    IOC = auto()
    FOK = auto()


class RejectReason(StrEnum):
    """Why an order was rejected: by a pre-trade check, the broker, or the fill (backtest and paper)."""

    INSUFFICIENT_CASH = auto()  # the account cannot carry the cost with commission (backtest, paper, Alpaca 403)
    SHORT_NOT_ALLOWED = auto()  # a sell that would open or grow a short on an account that may not short
    RISK_LIMIT = auto()  # a bifrost.risk limit blocked it before it reached the broker
    COMPLIANCE = auto()  # a compliance rule blocked it (issue 15)
    TRADING_HALTED = auto()  # the book is HALTED
    REDUCE_ONLY = auto()  # the book is REDUCING and the order would not reduce exposure
    BROKER = auto()  # the broker refused it (Alpaca 422, ...); the message says what the broker said
    NOT_RECEIVED = auto()  # an order in doubt that the broker confirms it never received


class CancelReason(StrEnum):
    """Why an order ended canceled."""

    REQUESTED = auto()  # a user or a job asked
    UNFILLED = auto()  # IOC/FOK: what could not fill at once
    REPLACED = auto()  # the backtest's target orders: replaced by a newer one
    STOPPED_OUT = auto()  # the backtest: the position it belonged to was stopped out
    BROKER = auto()  # the broker canceled it on its own


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """An order intent, before any check: what a trader or a job asks for.

    Validated on construction (`__post_init__`): quantity a positive finite Decimal, the
    prices its type needs (and no others) positive finite Decimals, a known time in force;
    `OrderRequest.create(...)` parses loose input (str, float, int) and names the field that
    is wrong. The tick-size check needs the market and is made by the order manager.
    """

    portfolio: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    client_order_id: str  # the key every party knows (the broker never sees our order_id)
    ts: pd.Timestamp


@dataclass(frozen=True, slots=True, kw_only=True)
class Submitted(_Event):
    """The order was handed to the broker (written ahead: durable before the call)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitUnknown(_Event):
    """The broker call timed out or failed (5xx): the order may or may not be at the broker."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted(_Event):
    broker_order_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected(_Event):
    reason: RejectReason
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingCancel(_Event):
    """A cancel was sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRejected(_Event):
    """The broker refused the cancel: back to ACCEPTED (or PARTIALLY_FILLED)."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingReplace(_Event):
    """A replace was sent, asking for these (None: unchanged)."""

    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Replaced(_Event):
    """The broker replaced the order: its quantity and prices are these from now on."""

    quantity: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    broker_order_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceRejected(_Event):
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Canceled(_Event):
    reason: CancelReason = CancelReason.REQUESTED
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Expired(_Event):
    """A DAY order at the session's end, or a backtest order past its ``valid_bars``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Filled(_Event):
    """A fill of ``quantity`` (> 0) at ``price``; ``trade_id`` is unique per order (a repeat is refused)."""

    trade_id: str
    quantity: Decimal
    price: Decimal
    commission: Decimal = ZERO


OrderEvent = (
    Submitted
    | SubmitUnknown
    | Accepted
    | Rejected
    | PendingCancel
    | CancelRejected
    | PendingReplace
    | Replaced
    | ReplaceRejected
    | Canceled
    | Expired
    | Filled
)


class Order:
    """One order: its request, its status, and the events that made it (the only way it changes).

    Fixed interface (the order-model helper implements it):

    - ``Order(order_id=..., request=..., ts_created=...)`` makes a NEW order (its
      ``client_order_id`` is the request's, or ``order_id`` when the request has none);
    - properties ``order_id, client_order_id, request, symbol, side, quantity (current,
      after replaces), limit_price, stop_price, order_type, time_in_force, status,
      filled_quantity, leaves_quantity, avg_fill_price (Decimal | None), commission,
      broker_order_id, in_doubt (a SubmitUnknown not yet resolved), reasons (tuple[str, ...]),
      events (tuple[OrderEvent, ...]), trade_ids (frozenset[str]), ts_created, ts_updated,
      is_terminal, is_working``;
    - ``apply(event)``: raise `InvalidTransitionError` (`DuplicateFillError` for a repeated
      trade id) and change nothing when the event is illegal, overfills, or names another
      ``client_order_id``;
    - ``Order.replay(order_id=..., request=..., ts_created=..., events=...)`` rebuilds one.
    """
