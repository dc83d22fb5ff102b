"""Orders: the one order vocabulary of bifrost, and the order state machine written as data.

An `OrderRequest` is an intent (validated on construction); an `Order` is one order's
life: it changes only by `Order.apply` of an event, along the edges of `TRANSITION_EVENTS`
(which event may move which status to which), of which `TRANSITIONS` is the status view.
An illegal event raises `InvalidTransitionError` and changes nothing.

Examples
--------
>>> from decimal import Decimal as D
>>> import pandas as pd
>>> ts = pd.Timestamp("2014-01-02 14:30", tz="UTC")
>>> request = OrderRequest(portfolio="main", symbol="ORCL", side=Side.BUY, quantity=D(100))
>>> order = Order(order_id="o-1", request=request, ts_created=ts)
>>> for event in (Submitted(client_order_id="o-1", ts=ts), Accepted(client_order_id="o-1", ts=ts),
...               Filled(client_order_id="o-1", ts=ts, trade_id="t-1", quantity=D(40), price=D("37.5"))):
...     order.apply(event)
>>> order.status, order.filled_quantity, order.leaves_quantity
(<OrderStatus.PARTIALLY_FILLED: 'partially_filled'>, Decimal('40'), Decimal('60'))
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum, auto
from types import MappingProxyType
from typing import Any, Final, TypeVar, assert_never

import pandas as pd

from bifrost._checks import (
    PRICE_MAX,
    PRICE_MIN,
    TS_MAX,
    TS_MIN,
    as_bounded_decimal,
    as_utc_timestamp,
    check_symbol,
    quote,
)
from bifrost.errors import DuplicateFillError, InvalidInputError, InvalidTransitionError
from bifrost.portfolio import Side
from bifrost.portfolio._ledger import check_portfolio_name

__all__ = [
    "CLIENT_ORDER_ID_MAX_LEN",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "TRANSITION_EVENTS",
    "WORKING_STATUSES",
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
    "check_client_order_id",
    "check_tick",
    "event_from_dict",
    "event_to_dict",
    "order_states_doc",
    "state_diagram",
    "tick_size",
]

ZERO = Decimal(0)
CLIENT_ORDER_ID_MAX_LEN: Final = 64  # Alpaca allows 128; we keep 64
_CLIENT_ORDER_ID_RE: Final = re.compile(rf"[A-Za-z0-9._:-]{{1,{CLIENT_ORDER_ID_MAX_LEN}}}")
_PRICE_MIN: Final = Decimal(str(PRICE_MIN))
_PRICE_MAX: Final = Decimal(str(int(PRICE_MAX)))


class OrderStatus(StrEnum):
    """Where an order is in its life (`TRANSITIONS` says which may follow which)."""

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
    """Market, limit, stop (a market order once the stop trades) or stop-limit."""

    MARKET = auto()
    LIMIT = auto()
    STOP = auto()
    STOP_LIMIT = auto()


class TimeInForce(StrEnum):
    """How long an order works: the session, until canceled, immediate-or-cancel, fill-or-kill."""

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


_NEEDS_LIMIT: Final = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_NEEDS_STOP: Final = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


# -- checks -----------------------------------------------------------------------------------
def check_client_order_id(value: object, name: str = "client_order_id") -> str:
    """Return ``value`` if it can be a client order id: 1-64 characters of ``A-Z a-z 0-9 . _ : -``.

    Parameters
    ----------
    value
        The id to check.
    name
        The field's name, for the message.

    Returns
    -------
    str
        ``value`` itself.

    Raises
    ------
    InvalidInputError
        If it is not such text (the value quoted).

    Examples
    --------
    >>> check_client_order_id("rebal-2014-01-02:ORCL")
    'rebal-2014-01-02:ORCL'
    """
    if not isinstance(value, str) or _CLIENT_ORDER_ID_RE.fullmatch(value) is None:
        raise InvalidInputError(
            f"{name} must be 1-{CLIENT_ORDER_ID_MAX_LEN} characters of A-Z a-z 0-9 . _ : -, got {quote(value)}"
        )
    return value


def _decimal(value: object, name: str, *, strict: bool, minimum: Decimal | None = None) -> Decimal:
    """Return ``value`` as a bounded Decimal (`as_bounded_decimal`) that is > 0, or >= ``minimum``."""
    if strict and (isinstance(value, bool) or not isinstance(value, Decimal)):
        raise InvalidInputError(f"{name} must be a Decimal, got {type(value).__name__} {quote(value)}")
    out = as_bounded_decimal(value, name)
    if minimum is None and out <= ZERO:
        raise InvalidInputError(f"{name} must be positive, got {quote(value)}")
    if minimum is not None and out < minimum:
        raise InvalidInputError(f"{name} must be at least {minimum}, got {quote(value)}")
    return out


def _price(value: object, name: str, *, strict: bool) -> Decimal:
    """Return ``value`` as a positive Decimal price in ``[PRICE_MIN, PRICE_MAX]``."""
    out = _decimal(value, name, strict=strict)
    if not _PRICE_MIN <= out <= _PRICE_MAX:
        raise InvalidInputError(f"{name} must be between {PRICE_MIN:g} and {PRICE_MAX:g}, got {quote(value)}")
    return out


def tick_size(price: Decimal) -> Decimal:
    """Return the minimum price increment of a US equity quoted at ``price`` (SEC Rule 612).

    Parameters
    ----------
    price
        A positive price.

    Returns
    -------
    Decimal
        ``0.01`` at or above $1.00, ``0.0001`` below.

    Raises
    ------
    InvalidInputError
        If ``price`` is not a positive finite Decimal.

    Examples
    --------
    >>> tick_size(Decimal("37.50")), tick_size(Decimal("0.5"))
    (Decimal('0.01'), Decimal('0.0001'))
    """
    checked = _decimal(price, "price", strict=True)
    return Decimal("0.01") if checked >= 1 else Decimal("0.0001")


def check_tick(price: Decimal, name: str, *, tick: Decimal | None = None) -> Decimal:
    """Return ``price`` if it is a whole number of ticks, else raise.

    Parameters
    ----------
    price
        A positive price.
    name
        The field's name, for the message (``limit_price``, ``stop_price``).
    tick
        The symbol's own tick size where it is known (its reference data:
        `bifrost.data.tick_size`); None: the US equity rule (`tick_size`, SEC Rule 612).

    Returns
    -------
    Decimal
        ``price`` itself.

    Raises
    ------
    InvalidInputError
        If ``price`` is not a positive finite Decimal or is off the tick.

    Examples
    --------
    >>> check_tick(Decimal("37.50"), "limit_price")
    Decimal('37.50')
    >>> check_tick(Decimal("37.505"), "limit_price")
    Traceback (most recent call last):
    ...
    bifrost.errors.InvalidInputError: limit_price 37.505 is off the tick: not a multiple of 0.01 (SEC Rule 612)
    >>> check_tick(Decimal("101.1"), "stop", tick=Decimal("0.25"))
    Traceback (most recent call last):
    ...
    bifrost.errors.InvalidInputError: stop 101.1 is off the tick: not a multiple of 0.25 (the symbol's reference data)
    """
    checked = _decimal(price, name, strict=True)
    if tick is None:
        rule, tick = "SEC Rule 612", tick_size(checked)
    else:
        rule, tick = "the symbol's reference data", _decimal(tick, "tick", strict=True)
    if checked % tick != ZERO:
        raise InvalidInputError(f"{name} {checked} is off the tick: not a multiple of {tick} ({rule})")
    return price


# -- the request ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """An order intent, before any check: what a trader or a job asks for.

    Validated on construction (`__post_init__`): quantity a positive finite Decimal, the
    prices its type needs (and no others) positive finite Decimals, a known time in force;
    `OrderRequest.create(...)` parses loose input (str, float, int) and names the field that
    is wrong. The tick-size check needs the market and is made by the order manager.

    Raises
    ------
    InvalidInputError
        Naming the field and the value: a portfolio name that is not printable text of
        1-256 characters, an invalid symbol, a side, type or time in force that is not the
        enum, a quantity or price that is not a Decimal, not positive, not finite or out of
        bounds (quantity ``1e-18 … 1e15``, prices ``1e-8 … 1e9``), a limit price missing on a
        limit or stop-limit order (or given on another), a stop price missing on a stop or
        stop-limit order (or given on another), a client order id that is not 1-64
        characters of ``A-Z a-z 0-9 . _ : -``.
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

    def __post_init__(self) -> None:
        """Check every field (see the class's Raises)."""
        check_portfolio_name(self.portfolio)
        check_symbol(self.symbol, "symbol")
        for name, value, kind in (
            ("side", self.side, Side),
            ("order_type", self.order_type, OrderType),
            ("time_in_force", self.time_in_force, TimeInForce),
        ):
            if not isinstance(value, kind):
                allowed = ", ".join(repr(m.value) for m in kind)
                raise InvalidInputError(f"{name} must be a {kind.__name__} ({allowed}), got {quote(value)}")
        _decimal(self.quantity, "quantity", strict=True)
        _check_prices(self.order_type, self.limit_price, self.stop_price, strict=True)
        if self.client_order_id is not None:
            check_client_order_id(self.client_order_id)

    @classmethod
    def create(
        cls,
        *,
        portfolio: str,
        symbol: str,
        side: str | Side,
        quantity: str | float | int | Decimal,
        order_type: str | OrderType = OrderType.MARKET,
        limit_price: str | float | int | Decimal | None = None,
        stop_price: str | float | int | Decimal | None = None,
        time_in_force: str | TimeInForce = TimeInForce.DAY,
        client_order_id: str | None = None,
    ) -> OrderRequest:
        """Make a request from loose input: text, floats or ints for numbers, any case for the enums.

        Parameters
        ----------
        portfolio, symbol
            As the class.
        side
            ``"buy"`` / ``"SELL"`` or a `Side`.
        quantity, limit_price, stop_price
            Numbers as text, float (by its shortest repr), int or Decimal; prices None when
            the order type has none.
        order_type
            ``"market"``, ``"limit"``, ``"stop"``, ``"stop_limit"`` (``"stop-limit"``) in any
            case, or an `OrderType`.
        time_in_force
            ``"day"``, ``"gtc"``, ``"ioc"``, ``"fok"`` in any case, or a `TimeInForce`.
        client_order_id
            As the class.

        Returns
        -------
        OrderRequest
            The validated request.

        Raises
        ------
        InvalidInputError
            Naming the field and the value (as the class, and for text that is no number or
            no member of the enum).

        Examples
        --------
        >>> OrderRequest.create(portfolio="main", symbol="ORCL", side="BUY", quantity="100",
        ...                     order_type="limit", limit_price=37.5).limit_price
        Decimal('37.5')
        """
        return cls(
            portfolio=portfolio,
            symbol=symbol,
            side=_parse_enum(side, "side", Side),
            quantity=_decimal(quantity, "quantity", strict=False),
            order_type=_parse_enum(order_type, "order_type", OrderType),
            limit_price=None if limit_price is None else _price(limit_price, "limit_price", strict=False),
            stop_price=None if stop_price is None else _price(stop_price, "stop_price", strict=False),
            time_in_force=_parse_enum(time_in_force, "time_in_force", TimeInForce),
            client_order_id=client_order_id,
        )


_E = TypeVar("_E", bound=StrEnum)


def _parse_enum(value: object, name: str, kind: type[_E]) -> _E:
    """Return the member of ``kind`` that ``value`` names (any case, ``-`` for ``_``)."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        text = value.strip().lower().replace("-", "_")
        for member in kind:
            if member.value == text:
                return member
    allowed = ", ".join(repr(m.value) for m in kind)
    raise InvalidInputError(f"{name} must be one of {allowed}; got {quote(value)}")


def _check_prices(order_type: OrderType, limit_price: object, stop_price: object, *, strict: bool) -> None:
    """Check that ``order_type`` has the prices it needs and no others, each a valid price."""
    for name, value, needed in (
        ("limit_price", limit_price, order_type in _NEEDS_LIMIT),
        ("stop_price", stop_price, order_type in _NEEDS_STOP),
    ):
        if needed and value is None:
            raise InvalidInputError(f"a {order_type} order needs a {name}")
        if not needed and value is not None:
            raise InvalidInputError(f"a {order_type} order takes no {name}, got {quote(value)}")
        if value is not None:
            _price(value, name, strict=strict)


# -- events -----------------------------------------------------------------------------------
_POSITIVE_DECIMALS: Final = frozenset({"quantity", "price", "limit_price", "stop_price"})
_TEXT_FIELDS: Final = frozenset({"message", "broker_order_id", "trade_id"})


_UTC: Final = as_utc_timestamp("2000-01-01", "ts").tzinfo


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    client_order_id: str  # the key every party knows (the broker never sees our order_id)
    ts: pd.Timestamp

    def __post_init__(self) -> None:
        """Check the fields (InvalidInputError naming ``Event.field``); ``ts`` becomes UTC (naive means UTC)."""
        kind = type(self).__name__
        check_client_order_id(self.client_order_id, f"{kind}.client_order_id")
        ts = self.ts
        if not (isinstance(ts, pd.Timestamp) and ts.tzinfo is _UTC and TS_MIN <= ts <= TS_MAX):  # the fast case
            object.__setattr__(self, "ts", as_utc_timestamp(ts, f"{kind}.ts"))
        for field in _OWN_FIELDS[type(self)]:
            name, value = field.name, getattr(self, field.name)
            where = f"{kind}.{name}"
            if value is None and field.default is None:
                continue
            if name == "quantity":
                _decimal(value, where, strict=True)
            elif name in _POSITIVE_DECIMALS:
                _price(value, where, strict=True)
            elif name == "commission":
                _decimal(value, where, strict=True, minimum=ZERO)
            elif name == "reason":
                reason_kind = RejectReason if isinstance(self, Rejected) else CancelReason
                if not isinstance(value, reason_kind):
                    raise InvalidInputError(f"{where} must be a {reason_kind.__name__}, got {quote(value)}")
            elif name in _TEXT_FIELDS and (not isinstance(value, str) or (name != "message" and not value)):
                raise InvalidInputError(
                    f"{where} must be {'text' if name == 'message' else 'non-empty text'}, got {quote(value)}"
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class Submitted(_Event):
    """The order was handed to the broker (written ahead: durable before the call)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitUnknown(_Event):
    """The broker call timed out or failed (5xx): the order may or may not be at the broker."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted(_Event):
    """The broker took the order (its id, when it gives one)."""

    broker_order_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected(_Event):
    """Refused: by a pre-trade check before it was sent, or by the broker; ``message`` says why."""

    reason: RejectReason
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingCancel(_Event):
    """A cancel was sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRejected(_Event):
    """The broker refused the cancel: back to the status before PENDING_CANCEL (ACCEPTED, PARTIALLY_FILLED, ...)."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingReplace(_Event):
    """A replace was sent, asking for these (None: unchanged)."""

    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Replaced(_Event):
    """The broker replaced the order: its quantity and prices are these from now on.

    A price left None keeps the order's price (None for a type without one); a price the
    order's type takes no part of is refused.
    """

    quantity: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    broker_order_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceRejected(_Event):
    """The broker refused the replace: the order stays as it was."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Canceled(_Event):
    """The order ended canceled (by request, unfilled IOC/FOK, the broker, ...)."""

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

_EVENT_TYPES: Final[Mapping[str, type[OrderEvent]]] = MappingProxyType(
    {
        "submitted": Submitted,
        "submit_unknown": SubmitUnknown,
        "accepted": Accepted,
        "rejected": Rejected,
        "pending_cancel": PendingCancel,
        "cancel_rejected": CancelRejected,
        "pending_replace": PendingReplace,
        "replaced": Replaced,
        "replace_rejected": ReplaceRejected,
        "canceled": Canceled,
        "expired": Expired,
        "filled": Filled,
    }
)
_OWN_FIELDS: Final[Mapping[type, tuple[dataclasses.Field[object], ...]]] = MappingProxyType(
    {kind: dataclasses.fields(kind)[2:] for kind in _EVENT_TYPES.values()}  # after client_order_id and ts
)
_EVENT_NAMES: Final[Mapping[type[OrderEvent], str]] = MappingProxyType({v: k for k, v in _EVENT_TYPES.items()})


# -- the state machine, as data ---------------------------------------------------------------
_S = OrderStatus
TRANSITION_EVENTS: Final[Mapping[tuple[OrderStatus, OrderStatus], tuple[type[OrderEvent], ...]]] = MappingProxyType(
    {
        (_S.NEW, _S.SUBMITTED): (Submitted,),
        (_S.NEW, _S.REJECTED): (Rejected,),  # blocked by a pre-trade check
        (_S.NEW, _S.CANCELED): (Canceled,),  # canceled before it was sent
        (_S.SUBMITTED, _S.SUBMITTED): (SubmitUnknown,),  # in doubt
        (_S.SUBMITTED, _S.ACCEPTED): (Accepted,),
        (_S.SUBMITTED, _S.REJECTED): (Rejected,),
        (_S.SUBMITTED, _S.CANCELED): (Canceled,),  # IOC/FOK unfilled
        (_S.SUBMITTED, _S.PARTIALLY_FILLED): (Filled,),  # a fill can beat the ack
        (_S.SUBMITTED, _S.FILLED): (Filled,),
        (_S.SUBMITTED, _S.PENDING_CANCEL): (PendingCancel,),
        (_S.ACCEPTED, _S.PARTIALLY_FILLED): (Filled,),
        (_S.ACCEPTED, _S.FILLED): (Filled,),
        (_S.ACCEPTED, _S.PENDING_CANCEL): (PendingCancel,),
        (_S.ACCEPTED, _S.PENDING_REPLACE): (PendingReplace,),
        (_S.ACCEPTED, _S.CANCELED): (Canceled,),
        (_S.ACCEPTED, _S.EXPIRED): (Expired,),
        (_S.ACCEPTED, _S.REJECTED): (Rejected,),
        (_S.PARTIALLY_FILLED, _S.PARTIALLY_FILLED): (Filled, Accepted),  # an ack after the first fill
        (_S.PARTIALLY_FILLED, _S.FILLED): (Filled,),
        (_S.PARTIALLY_FILLED, _S.PENDING_CANCEL): (PendingCancel,),
        (_S.PARTIALLY_FILLED, _S.PENDING_REPLACE): (PendingReplace,),
        (_S.PARTIALLY_FILLED, _S.CANCELED): (Canceled,),
        (_S.PARTIALLY_FILLED, _S.EXPIRED): (Expired,),
        (_S.PENDING_CANCEL, _S.PENDING_CANCEL): (Filled, Accepted),  # applied while the cancel is in flight
        (_S.PENDING_CANCEL, _S.CANCELED): (Canceled,),
        (_S.PENDING_CANCEL, _S.EXPIRED): (Expired,),
        (_S.PENDING_CANCEL, _S.FILLED): (Filled,),
        # CancelRejected: back to where it was (a fill since then makes it PARTIALLY_FILLED)
        (_S.PENDING_CANCEL, _S.SUBMITTED): (CancelRejected,),
        (_S.PENDING_CANCEL, _S.ACCEPTED): (CancelRejected,),
        (_S.PENDING_CANCEL, _S.PARTIALLY_FILLED): (CancelRejected,),
        (_S.PENDING_CANCEL, _S.PENDING_REPLACE): (CancelRejected,),
        (_S.PENDING_REPLACE, _S.PENDING_REPLACE): (Filled, Accepted),  # applied while the replace is in flight
        (_S.PENDING_REPLACE, _S.ACCEPTED): (Replaced, ReplaceRejected),
        (_S.PENDING_REPLACE, _S.PARTIALLY_FILLED): (Replaced, ReplaceRejected),
        (_S.PENDING_REPLACE, _S.FILLED): (Filled, Replaced),  # Replaced: quantity cut to what is filled
        (_S.PENDING_REPLACE, _S.PENDING_CANCEL): (PendingCancel,),
        (_S.PENDING_REPLACE, _S.CANCELED): (Canceled,),
        (_S.PENDING_REPLACE, _S.EXPIRED): (Expired,),
        (_S.CANCELED, _S.CANCELED): (Filled,),  # a late fill: made before the cancel took effect
        (_S.EXPIRED, _S.EXPIRED): (Filled,),  # a late fill: made before the expiry took effect
    }
)
"""Which events move an order from one status to another: ``(from, to) → event classes``."""

TRANSITIONS: Final[Mapping[OrderStatus, frozenset[OrderStatus]]] = MappingProxyType(
    {status: frozenset(dst for (src, dst) in TRANSITION_EVENTS if src is status) for status in OrderStatus}
)
"""The statuses each status can move to (FILLED and REJECTED: none)."""

TERMINAL_STATUSES: Final = frozenset({_S.FILLED, _S.CANCELED, _S.REJECTED, _S.EXPIRED})
"""Final statuses: no event changes them (CANCELED and EXPIRED still take a late fill's quantity)."""
WORKING_STATUSES: Final = frozenset(
    {_S.SUBMITTED, _S.ACCEPTED, _S.PARTIALLY_FILLED, _S.PENDING_CANCEL, _S.PENDING_REPLACE}
)
"""Statuses of an order that is (or may be) at the broker and not done."""

_EVENTS_FROM: Final[Mapping[OrderStatus, tuple[type[OrderEvent], ...]]] = MappingProxyType(
    {
        status: tuple({kind: None for (src, _), kinds in TRANSITION_EVENTS.items() if src is status for kind in kinds})
        for status in OrderStatus
    }
)
_BROKER_ANSWERS: Final = (Accepted, Rejected, CancelRejected, Replaced, ReplaceRejected, Canceled, Expired, Filled)


@dataclass(slots=True, kw_only=True)
class _State:
    """Everything about an order that events change; never changed once made (a copy of an Order is independent).

    `Order.apply` replaces it with `evolved` once every check has passed.
    """

    status: OrderStatus
    quantity: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    filled: Decimal = ZERO
    notional: Decimal = ZERO  # sum of fill quantity × price
    commission: Decimal = ZERO
    broker_order_id: str | None = None
    submitted: bool = False  # a Submitted was applied: the broker may have it
    accepted: bool = False
    in_doubt: bool = False
    before_cancel: OrderStatus | None = None  # the status PENDING_CANCEL returns to on CancelRejected
    reject_reason: RejectReason | None = None
    cancel_reason: CancelReason | None = None
    reasons: tuple[str, ...] = ()
    events: tuple[OrderEvent, ...] = ()
    trade_ids: frozenset[str] = frozenset()
    ts_updated: pd.Timestamp | None = None

    def evolved(self, changes: Mapping[str, Any]) -> _State:
        """Return a new state: this one with ``changes`` (faster than `dataclasses.replace`)."""
        new = object.__new__(_State)
        for name in _STATE_FIELDS:
            setattr(new, name, changes[name] if name in changes else getattr(self, name))
        return new


_STATE_FIELDS: Final = tuple(f.name for f in dataclasses.fields(_State))


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

    Two orders are equal when their ids, requests, creation times and events are (their
    state follows from those).

    Parameters
    ----------
    order_id
        Our id (1-64 characters of ``A-Z a-z 0-9 . _ : -``).
    request
        The validated intent.
    ts_created
        When it was made (UTC; naive means UTC).

    Raises
    ------
    InvalidInputError
        If ``order_id`` is not such an id, ``request`` not an `OrderRequest` or
        ``ts_created`` not a date.
    """

    __slots__ = ("_client_order_id", "_order_id", "_request", "_state", "_ts_created")
    __hash__ = None  # type: ignore[assignment]  # mutable: equal orders may differ later

    def __init__(self, *, order_id: str, request: OrderRequest, ts_created: pd.Timestamp) -> None:
        self._order_id = check_client_order_id(order_id, "order_id")
        if not isinstance(request, OrderRequest):
            raise InvalidInputError(f"request must be an OrderRequest, got {type(request).__name__}")
        self._request = request
        self._ts_created = as_utc_timestamp(ts_created, "ts_created")
        self._client_order_id = request.client_order_id or order_id
        self._state = _State(
            status=OrderStatus.NEW,
            quantity=request.quantity,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
        )

    @classmethod
    def replay(
        cls, *, order_id: str, request: OrderRequest, ts_created: pd.Timestamp, events: Iterable[OrderEvent]
    ) -> Order:
        """Rebuild an order from its request and its events, applied in order.

        Parameters
        ----------
        order_id, request, ts_created
            As the constructor.
        events
            The events as `events` held them.

        Returns
        -------
        Order
            Equal to the order that applied them.

        Raises
        ------
        InvalidTransitionError
            If an event is illegal where it comes.
        """
        order = cls(order_id=order_id, request=request, ts_created=ts_created)
        for event in events:
            order.apply(event)
        return order

    # -- the one way an order changes --
    def apply(self, event: OrderEvent) -> None:
        """Apply ``event``: check everything, then change the order at once.

        Parameters
        ----------
        event
            An event for this order's ``client_order_id``.

        Raises
        ------
        InvalidTransitionError
            If the event names another order, is not allowed in the current status
            (`TRANSITION_EVENTS`), a cancel or replace is already pending, a fill overfills
            the order, or a replace asks for less than is filled or for a price the order's
            type does not take. The order is unchanged.
        DuplicateFillError
            If a fill's ``trade_id`` was already applied. The order is unchanged.
        """
        state = self._state
        if event.client_order_id != self._client_order_id:
            raise InvalidTransitionError(
                f"order {self._order_id}: {type(event).__name__} is for client_order_id "
                f"{event.client_order_id!r}, this order is {self._client_order_id!r}"
            )
        if not isinstance(event, _EVENTS_FROM[state.status]):
            raise InvalidTransitionError(self._refusal(event, f"not allowed in {state.status}"))
        target, changes = self._changes(state, event)
        allowed = TRANSITION_EVENTS.get((state.status, target), ())
        if not isinstance(event, allowed):
            raise InvalidTransitionError(self._refusal(event, f"not allowed in {state.status}"))
        # every check has passed: the order takes its next state at once
        changes["status"] = target
        changes["in_doubt"] = isinstance(event, SubmitUnknown) or (
            state.in_doubt and not isinstance(event, _BROKER_ANSWERS)
        )
        changes["events"] = (*state.events, event)
        changes["ts_updated"] = event.ts
        self._state = state.evolved(changes)

    def _refusal(self, event: OrderEvent, why: str) -> str:
        return f"order {self._order_id} ({self._client_order_id}): {type(event).__name__} {why}"

    def _resumed(self, state: _State, status: OrderStatus | None) -> OrderStatus:
        """The working status to go back to: ``status``, PARTIALLY_FILLED once anything is filled."""
        if status in (None, _S.SUBMITTED, _S.ACCEPTED):
            if state.filled > ZERO:
                return _S.PARTIALLY_FILLED
            return _S.ACCEPTED if state.accepted or status is None else _S.SUBMITTED
        return status

    def _changes(self, state: _State, event: OrderEvent) -> tuple[OrderStatus, dict[str, Any]]:
        """Return the status ``event`` leads to and the fields it changes (checked), changing nothing."""
        status = state.status
        match event:
            case Submitted():
                return _S.SUBMITTED, {"submitted": True}
            case SubmitUnknown():
                return _S.SUBMITTED, {}
            case Accepted():
                if state.accepted:
                    raise InvalidTransitionError(self._refusal(event, f"not allowed in {status}: already accepted"))
                keeps = status in (_S.PARTIALLY_FILLED, _S.PENDING_CANCEL, _S.PENDING_REPLACE)
                changes: dict[str, Any] = {"accepted": True}
                if event.broker_order_id is not None:
                    changes["broker_order_id"] = event.broker_order_id
                return (status if keeps else _S.ACCEPTED), changes
            case Rejected():
                reasons = (*state.reasons, event.message or str(event.reason))
                return _S.REJECTED, {"reject_reason": event.reason, "reasons": reasons}
            case PendingCancel():
                return _S.PENDING_CANCEL, {"before_cancel": status}
            case CancelRejected():
                return self._resumed(state, state.before_cancel), {"before_cancel": None}
            case PendingReplace():
                if event.quantity is None and event.limit_price is None and event.stop_price is None:
                    raise InvalidTransitionError(self._refusal(event, "changes nothing: give a quantity or a price"))
                self._check_replace(state, event, event.quantity)
                return _S.PENDING_REPLACE, {}
            case Replaced():
                self._check_replace(state, event, event.quantity)
                changes = {"quantity": event.quantity}
                if event.limit_price is not None:
                    changes["limit_price"] = event.limit_price
                if event.stop_price is not None:
                    changes["stop_price"] = event.stop_price
                if event.broker_order_id is not None:
                    changes["broker_order_id"] = event.broker_order_id
                return (_S.FILLED if event.quantity == state.filled else self._resumed(state, None)), changes
            case ReplaceRejected():
                return self._resumed(state, None), {}
            case Canceled():
                reasons = (*state.reasons, event.message or str(event.reason))
                return _S.CANCELED, {"cancel_reason": event.reason, "reasons": reasons}
            case Expired():
                return _S.EXPIRED, {}
            case Filled():
                if event.trade_id in state.trade_ids:
                    raise DuplicateFillError(self._refusal(event, f"trade {event.trade_id!r} was already applied"))
                if not state.submitted:
                    raise InvalidTransitionError(
                        self._refusal(event, f"not allowed in {status}: it was never submitted")
                    )
                filled = state.filled + event.quantity
                if filled > state.quantity:
                    raise InvalidTransitionError(
                        self._refusal(
                            event,
                            f"would overfill: {state.filled} filled + {event.quantity} > quantity {state.quantity}",
                        )
                    )
                target: OrderStatus
                if status in TERMINAL_STATUSES:  # a late fill: the status stays
                    target = status
                elif filled == state.quantity:
                    target = _S.FILLED
                elif status in (_S.PENDING_CANCEL, _S.PENDING_REPLACE):  # the request stays pending
                    target = status
                else:
                    target = _S.PARTIALLY_FILLED
                return target, {
                    "filled": filled,
                    "notional": state.notional + event.quantity * event.price,
                    "commission": state.commission + event.commission,
                    "trade_ids": state.trade_ids | {event.trade_id},
                }
            case _:
                assert_never(event)

    def _check_replace(self, state: _State, event: PendingReplace | Replaced, quantity: Decimal | None) -> None:
        """Refuse a replace to less than is filled, or with a price the order's type does not take."""
        if quantity is not None and quantity < state.filled:
            raise InvalidTransitionError(
                self._refusal(event, f"asks for quantity {quantity}, less than the {state.filled} already filled")
            )
        kind = self._request.order_type
        for name, value, needed in (
            ("limit_price", event.limit_price, kind in _NEEDS_LIMIT),
            ("stop_price", event.stop_price, kind in _NEEDS_STOP),
        ):
            if value is not None and not needed:
                raise InvalidTransitionError(self._refusal(event, f"gives a {name} to a {kind} order"))

    # -- properties --
    @property
    def order_id(self) -> str:
        """Our id of the order."""
        return self._order_id

    @property
    def client_order_id(self) -> str:
        """The id the broker knows it by (the request's, or ``order_id``)."""
        return self._client_order_id

    @property
    def request(self) -> OrderRequest:
        """The intent as it was first asked (replaces change `quantity` and the prices, not this)."""
        return self._request

    @property
    def portfolio(self) -> str:
        """The portfolio (the broker account) the order trades for."""
        return self._request.portfolio

    @property
    def symbol(self) -> str:
        """The symbol traded."""
        return self._request.symbol

    @property
    def side(self) -> Side:
        """Buy or sell."""
        return self._request.side

    @property
    def order_type(self) -> OrderType:
        """Market, limit, stop or stop-limit."""
        return self._request.order_type

    @property
    def time_in_force(self) -> TimeInForce:
        """DAY, GTC, IOC or FOK."""
        return self._request.time_in_force

    @property
    def quantity(self) -> Decimal:
        """The quantity now (after replaces)."""
        return self._state.quantity

    @property
    def limit_price(self) -> Decimal | None:
        """The limit price now (after replaces); None for market and stop orders."""
        return self._state.limit_price

    @property
    def stop_price(self) -> Decimal | None:
        """The stop price now (after replaces); None for market and limit orders."""
        return self._state.stop_price

    @property
    def status(self) -> OrderStatus:
        """The status the events so far lead to."""
        return self._state.status

    @property
    def filled_quantity(self) -> Decimal:
        """The sum of the fills' quantities (late fills included)."""
        return self._state.filled

    @property
    def leaves_quantity(self) -> Decimal:
        """What may still fill: zero once the order is terminal, else quantity less filled."""
        if self._state.status in TERMINAL_STATUSES:
            return ZERO
        return self._state.quantity - self._state.filled

    @property
    def avg_fill_price(self) -> Decimal | None:
        """The quantity-weighted mean fill price, None before any fill."""
        if self._state.filled == ZERO:
            return None
        return self._state.notional / self._state.filled

    @property
    def commission(self) -> Decimal:
        """The sum of the fills' commissions."""
        return self._state.commission

    @property
    def broker_order_id(self) -> str | None:
        """The broker's id (from Accepted or Replaced), None until it gives one."""
        return self._state.broker_order_id

    @property
    def in_doubt(self) -> bool:
        """Whether a submit's outcome is unknown (a SubmitUnknown no broker answer has followed)."""
        return self._state.in_doubt

    @property
    def reject_reason(self) -> RejectReason | None:
        """Why it was rejected, None unless it was."""
        return self._state.reject_reason

    @property
    def cancel_reason(self) -> CancelReason | None:
        """Why it was canceled, None unless it was."""
        return self._state.cancel_reason

    @property
    def reasons(self) -> tuple[str, ...]:
        """The messages of its Rejected and Canceled events (the reason's name when a message is empty)."""
        return self._state.reasons

    @property
    def events(self) -> tuple[OrderEvent, ...]:
        """Every event applied, in order."""
        return self._state.events

    @property
    def trade_ids(self) -> frozenset[str]:
        """The trade ids of the fills applied."""
        return self._state.trade_ids

    @property
    def ts_created(self) -> pd.Timestamp:
        """When the order was made (UTC)."""
        return self._ts_created

    @property
    def ts_updated(self) -> pd.Timestamp:
        """The time of the last event applied, ``ts_created`` before any."""
        return self._ts_created if self._state.ts_updated is None else self._state.ts_updated

    @property
    def is_terminal(self) -> bool:
        """Whether the status is final (filled, canceled, rejected, expired)."""
        return self._state.status in TERMINAL_STATUSES

    @property
    def is_working(self) -> bool:
        """Whether it is (or may be) at the broker and not done."""
        return self._state.status in WORKING_STATUSES

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Order):
            return NotImplemented
        return (self._order_id, self._request, self._ts_created, self._state.events) == (
            other._order_id,
            other._request,
            other._ts_created,
            other._state.events,
        )

    def __repr__(self) -> str:
        return (
            f"Order({self._order_id!r}, {self.side} {self.quantity} {self.symbol} {self.order_type}, "
            f"{self.status}, filled {self.filled_quantity})"
        )


# -- storage form -----------------------------------------------------------------------------
def event_to_dict(event: OrderEvent) -> dict[str, str | None]:
    """Return ``event`` as text: ``type`` (``"filled"``, ...), its fields, Decimals as text, ``ts`` ISO.

    Parameters
    ----------
    event
        Any order event.

    Returns
    -------
    dict
        ``{"type": ..., "client_order_id": ..., "ts": ..., <fields>}``; None for a field
        that is None. `event_from_dict` reads it back exactly.

    Examples
    --------
    >>> event_to_dict(Accepted(client_order_id="o-1", ts=pd.Timestamp("2014-01-02", tz="UTC")))
    {'type': 'accepted', 'client_order_id': 'o-1', 'ts': '2014-01-02T00:00:00+00:00', 'broker_order_id': None}
    """
    out: dict[str, str | None] = {"type": _EVENT_NAMES[type(event)]}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if value is None:
            out[field.name] = None
        elif isinstance(value, pd.Timestamp):
            out[field.name] = value.isoformat()
        else:
            out[field.name] = str(value)
    return out


def event_from_dict(data: Mapping[str, str | None]) -> OrderEvent:
    """Rebuild an event from `event_to_dict`'s form.

    Parameters
    ----------
    data
        ``type`` and the event's fields as text (an optional field may be left out).

    Returns
    -------
    OrderEvent
        Equal to the event written.

    Raises
    ------
    InvalidInputError
        For an unknown ``type``, a field the event does not have, a required field
        missing, or a value that does not parse (the field and value named).
    """
    kind_name = data.get("type")
    kind = _EVENT_TYPES.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        raise InvalidInputError(f"order event type must be one of {', '.join(_EVENT_TYPES)}; got {quote(kind_name)}")
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(data) - set(fields) - {"type"})
    if unknown:
        raise InvalidInputError(f"order event {kind_name!r} has no field {', '.join(unknown)}")
    values: dict[str, object] = {}
    for name, field in fields.items():
        if name not in data:
            if field.default is dataclasses.MISSING:
                raise InvalidInputError(f"order event {kind_name!r} lacks its field {name}")
            continue
        text = data[name]
        where = f"{kind.__name__}.{name}"
        if text is None:
            values[name] = None
        elif not isinstance(text, str):
            raise InvalidInputError(f"{where} must be text, got {type(text).__name__} {quote(text)}")
        elif name in _POSITIVE_DECIMALS or name == "commission":
            try:
                values[name] = Decimal(text)
            except InvalidOperation:
                raise InvalidInputError(f"{where} must be a number, got {quote(text)}") from None
        elif name == "reason":
            values[name] = _parse_enum(text, where, RejectReason if kind is Rejected else CancelReason)
        else:
            values[name] = text
    return kind(**values)  # type: ignore[arg-type]  # the fields are checked by the event's __post_init__


# -- the diagram ------------------------------------------------------------------------------
def state_diagram() -> str:
    """Return the state machine as a mermaid ``stateDiagram-v2``, drawn from `TRANSITION_EVENTS`.

    Returns
    -------
    str
        One edge per ``(from, to)`` pair, labelled with the events that take it; ``[*]``
        into NEW and out of the terminal statuses.

    Examples
    --------
    >>> print(state_diagram().splitlines()[2])
        new --> submitted: Submitted
    """
    lines = ["stateDiagram-v2", "    [*] --> new"]
    lines += [
        f"    {src} --> {dst}: {', '.join(kind.__name__ for kind in kinds)}"
        for (src, dst), kinds in TRANSITION_EVENTS.items()
    ]
    lines += [f"    {status} --> [*]" for status in OrderStatus if status in TERMINAL_STATUSES]
    return "\n".join(lines) + "\n"


def order_states_doc() -> str:
    """Return ``docs/execution/order-states.md``: the state diagram and how it is made."""
    return (
        "# Order states\n\n"
        "Generated from `bifrost.execution._order.TRANSITION_EVENTS` (do not edit by hand); "
        "regenerate with\n\n"
        "```\n"
        ".venv/bin/python -c 'from bifrost.execution._order import order_states_doc as d; print(d(), end=\"\")' \\\n"
        "    > docs/execution/order-states.md\n"
        "```\n\n"
        "`tests/execution/test_order_states_doc.py` fails when this file and the table differ.\n\n"
        "An order changes only by applying an event; an event on no edge here raises "
        "`InvalidTransitionError` and changes nothing. A fill that would overfill the order is "
        "refused, and so is a fill whose trade id was already applied (`DuplicateFillError`). "
        "A fill while a cancel or a replace is pending is applied and the request stays pending; "
        "`CancelRejected` returns the order to the status it had before the cancel was sent "
        "(`partially_filled` once anything is filled). FILLED and REJECTED take no event; "
        "CANCELED and EXPIRED take only a late fill (made before the cancel or the expiry took "
        "effect), which adds to the filled quantity and leaves the status; an order canceled "
        "before it was submitted takes no fill.\n\n"
        "```mermaid\n" + state_diagram() + "```\n"
    )
