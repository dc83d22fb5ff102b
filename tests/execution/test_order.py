"""The order model: request validation, ticks, every edge of the state machine and every refusal."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal as D

import pandas as pd
import pytest

from bifrost.errors import DuplicateFillError, InvalidInputError, InvalidTransitionError
from bifrost.execution._order import (
    TRANSITION_EVENTS,
    TRANSITIONS,
    Accepted,
    Canceled,
    CancelReason,
    CancelRejected,
    Expired,
    Filled,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    PendingCancel,
    PendingReplace,
    Rejected,
    RejectReason,
    Replaced,
    ReplaceRejected,
    Side,
    Submitted,
    SubmitUnknown,
    TimeInForce,
    check_client_order_id,
    check_tick,
    event_from_dict,
    event_to_dict,
    tick_size,
)

S = OrderStatus
T0 = pd.Timestamp("2014-01-02 14:30", tz="UTC")
CID = "c-1"


def _request(**changes: object) -> OrderRequest:
    fields: dict[str, object] = {
        "portfolio": "main",
        "symbol": "ORCL",
        "side": Side.BUY,
        "quantity": D(100),
        "order_type": OrderType.LIMIT,
        "limit_price": D("37.50"),
        "client_order_id": CID,
    }
    fields.update(changes)
    return OrderRequest(**fields)  # type: ignore[arg-type]


def _order(*events: OrderEvent, request: OrderRequest | None = None) -> Order:
    order = Order(order_id="o-1", request=request or _request(), ts_created=T0)
    for event in events:
        order.apply(event)
    return order


def _snapshot(order: Order) -> tuple[object, ...]:
    return (
        order.status,
        order.quantity,
        order.limit_price,
        order.stop_price,
        order.filled_quantity,
        order.leaves_quantity,
        order.avg_fill_price,
        order.commission,
        order.broker_order_id,
        order.in_doubt,
        order.reasons,
        order.reject_reason,
        order.cancel_reason,
        order.events,
        order.trade_ids,
        order.ts_updated,
    )


# event factories (each call a fresh event; fills take their quantity and trade id)
def sub() -> Submitted:
    return Submitted(client_order_id=CID, ts=T0)


def unk() -> SubmitUnknown:
    return SubmitUnknown(client_order_id=CID, ts=T0, message="timed out after 10 s")


def acc() -> Accepted:
    return Accepted(client_order_id=CID, ts=T0, broker_order_id="b-1")


def rej() -> Rejected:
    return Rejected(client_order_id=CID, ts=T0, reason=RejectReason.BROKER, message="422 invalid order")


def pc() -> PendingCancel:
    return PendingCancel(client_order_id=CID, ts=T0)


def cr() -> CancelRejected:
    return CancelRejected(client_order_id=CID, ts=T0, message="already filling")


def pr(quantity: str = "80") -> PendingReplace:
    return PendingReplace(client_order_id=CID, ts=T0, quantity=D(quantity))


def rp(quantity: str = "80") -> Replaced:
    return Replaced(client_order_id=CID, ts=T0, quantity=D(quantity), limit_price=D("37.40"), broker_order_id="b-2")


def rr() -> ReplaceRejected:
    return ReplaceRejected(client_order_id=CID, ts=T0, message="cannot replace")


def cx() -> Canceled:
    return Canceled(client_order_id=CID, ts=T0)


def exp() -> Expired:
    return Expired(client_order_id=CID, ts=T0)


def fill(quantity: str, trade_id: str = "t-1", price: str = "37.50") -> Filled:
    return Filled(client_order_id=CID, ts=T0, trade_id=trade_id, quantity=D(quantity), price=D(price), commission=D(1))


# (from, to, event class): the events that bring an order to `from`, and the event
EDGES: list[tuple[S, S, type, Callable[[], list[OrderEvent]], Callable[[], OrderEvent]]] = [
    (S.NEW, S.SUBMITTED, Submitted, list, sub),
    (S.NEW, S.REJECTED, Rejected, list, rej),
    (S.NEW, S.CANCELED, Canceled, list, cx),
    (S.SUBMITTED, S.SUBMITTED, SubmitUnknown, lambda: [sub()], unk),
    (S.SUBMITTED, S.ACCEPTED, Accepted, lambda: [sub()], acc),
    (S.SUBMITTED, S.REJECTED, Rejected, lambda: [sub()], rej),
    (S.SUBMITTED, S.CANCELED, Canceled, lambda: [sub()], cx),
    (S.SUBMITTED, S.PARTIALLY_FILLED, Filled, lambda: [sub()], lambda: fill("40")),
    (S.SUBMITTED, S.FILLED, Filled, lambda: [sub()], lambda: fill("100")),
    (S.SUBMITTED, S.PENDING_CANCEL, PendingCancel, lambda: [sub()], pc),
    (S.ACCEPTED, S.PARTIALLY_FILLED, Filled, lambda: [sub(), acc()], lambda: fill("40")),
    (S.ACCEPTED, S.FILLED, Filled, lambda: [sub(), acc()], lambda: fill("100")),
    (S.ACCEPTED, S.PENDING_CANCEL, PendingCancel, lambda: [sub(), acc()], pc),
    (S.ACCEPTED, S.PENDING_REPLACE, PendingReplace, lambda: [sub(), acc()], pr),
    (S.ACCEPTED, S.CANCELED, Canceled, lambda: [sub(), acc()], cx),
    (S.ACCEPTED, S.EXPIRED, Expired, lambda: [sub(), acc()], exp),
    (S.ACCEPTED, S.REJECTED, Rejected, lambda: [sub(), acc()], rej),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, Filled, lambda: [sub(), acc(), fill("40")], lambda: fill("30", "t-2")),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, Accepted, lambda: [sub(), fill("40")], acc),
    (S.PARTIALLY_FILLED, S.FILLED, Filled, lambda: [sub(), acc(), fill("40")], lambda: fill("60", "t-2")),
    (S.PARTIALLY_FILLED, S.PENDING_CANCEL, PendingCancel, lambda: [sub(), acc(), fill("40")], pc),
    (S.PARTIALLY_FILLED, S.PENDING_REPLACE, PendingReplace, lambda: [sub(), acc(), fill("40")], pr),
    (S.PARTIALLY_FILLED, S.CANCELED, Canceled, lambda: [sub(), acc(), fill("40")], cx),
    (S.PARTIALLY_FILLED, S.EXPIRED, Expired, lambda: [sub(), acc(), fill("40")], exp),
    (S.PENDING_CANCEL, S.PENDING_CANCEL, Filled, lambda: [sub(), acc(), pc()], lambda: fill("40")),
    (S.PENDING_CANCEL, S.PENDING_CANCEL, Accepted, lambda: [sub(), pc()], acc),
    (S.PENDING_CANCEL, S.CANCELED, Canceled, lambda: [sub(), acc(), pc()], cx),
    (S.PENDING_CANCEL, S.EXPIRED, Expired, lambda: [sub(), acc(), pc()], exp),
    (S.PENDING_CANCEL, S.FILLED, Filled, lambda: [sub(), acc(), pc()], lambda: fill("100")),
    (S.PENDING_CANCEL, S.SUBMITTED, CancelRejected, lambda: [sub(), pc()], cr),
    (S.PENDING_CANCEL, S.ACCEPTED, CancelRejected, lambda: [sub(), acc(), pc()], cr),
    (S.PENDING_CANCEL, S.PARTIALLY_FILLED, CancelRejected, lambda: [sub(), acc(), fill("40"), pc()], cr),
    (S.PENDING_CANCEL, S.PENDING_REPLACE, CancelRejected, lambda: [sub(), acc(), pr(), pc()], cr),
    (S.PENDING_REPLACE, S.PENDING_REPLACE, Filled, lambda: [sub(), acc(), pr()], lambda: fill("40")),
    (S.PENDING_REPLACE, S.PENDING_REPLACE, Accepted, lambda: [sub(), fill("40"), pr()], acc),
    (S.PENDING_REPLACE, S.ACCEPTED, Replaced, lambda: [sub(), acc(), pr()], rp),
    (S.PENDING_REPLACE, S.ACCEPTED, ReplaceRejected, lambda: [sub(), acc(), pr()], rr),
    (S.PENDING_REPLACE, S.PARTIALLY_FILLED, Replaced, lambda: [sub(), acc(), fill("40"), pr()], rp),
    (S.PENDING_REPLACE, S.PARTIALLY_FILLED, ReplaceRejected, lambda: [sub(), acc(), fill("40"), pr()], rr),
    (S.PENDING_REPLACE, S.FILLED, Filled, lambda: [sub(), acc(), pr()], lambda: fill("100")),
    (S.PENDING_REPLACE, S.FILLED, Replaced, lambda: [sub(), acc(), fill("40"), pr("40")], lambda: rp("40")),
    (S.PENDING_REPLACE, S.PENDING_CANCEL, PendingCancel, lambda: [sub(), acc(), pr()], pc),
    (S.PENDING_REPLACE, S.CANCELED, Canceled, lambda: [sub(), acc(), pr()], cx),
    (S.PENDING_REPLACE, S.EXPIRED, Expired, lambda: [sub(), acc(), pr()], exp),
    (S.CANCELED, S.CANCELED, Filled, lambda: [sub(), acc(), cx()], lambda: fill("40")),
    (S.EXPIRED, S.EXPIRED, Filled, lambda: [sub(), acc(), exp()], lambda: fill("40")),
]

# one way into each status, for the refusal sweep
INTO: dict[S, Callable[[], list[OrderEvent]]] = {
    S.NEW: list,
    S.SUBMITTED: lambda: [sub()],
    S.ACCEPTED: lambda: [sub(), acc()],
    S.PARTIALLY_FILLED: lambda: [sub(), acc(), fill("40", "t-0")],
    S.FILLED: lambda: [sub(), acc(), fill("100", "t-0")],
    S.PENDING_CANCEL: lambda: [sub(), acc(), pc()],
    S.PENDING_REPLACE: lambda: [sub(), acc(), pr()],
    S.CANCELED: lambda: [sub(), acc(), cx()],
    S.REJECTED: lambda: [sub(), rej()],
    S.EXPIRED: lambda: [sub(), acc(), exp()],
}
FACTORIES: list[Callable[[], OrderEvent]] = [
    sub,
    unk,
    acc,
    rej,
    pc,
    cr,
    pr,
    rp,
    rr,
    cx,
    exp,
    lambda: fill("10", "t-9"),
]


# -- the table --------------------------------------------------------------------------------
def test_edges_cover_transition_events_exactly() -> None:
    tested = {(src, dst, kind) for src, dst, kind, _, _ in EDGES}
    table = {(src, dst, kind) for (src, dst), kinds in TRANSITION_EVENTS.items() for kind in kinds}
    assert tested == table


def test_transitions_is_the_status_view_of_the_table() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    assert TRANSITIONS[S.FILLED] == frozenset() and TRANSITIONS[S.REJECTED] == frozenset()
    assert TRANSITIONS[S.CANCELED] == frozenset({S.CANCELED}) and TRANSITIONS[S.EXPIRED] == frozenset({S.EXPIRED})
    assert TRANSITIONS[S.NEW] == frozenset({S.SUBMITTED, S.REJECTED, S.CANCELED})
    assert S.REJECTED not in TRANSITIONS[S.PARTIALLY_FILLED] and S.REJECTED in TRANSITIONS[S.ACCEPTED]


@pytest.mark.parametrize(
    ("src", "dst", "kind", "before", "make"),
    EDGES,
    ids=[f"{s}-{d}-{k.__name__}" for s, d, k, _, _ in EDGES],
)
def test_order_apply_edge_moves_to_target(
    src: S, dst: S, kind: type, before: Callable[[], list[OrderEvent]], make: Callable[[], OrderEvent]
) -> None:
    # Arrange
    order = _order(*before())
    assert order.status is src
    event = make()
    assert isinstance(event, kind)
    # Act
    order.apply(event)
    # Assert
    assert order.status is dst
    assert order.events[-1] is event


@pytest.mark.parametrize("status", list(OrderStatus))
def test_order_apply_any_event_either_follows_table_or_changes_nothing(status: S) -> None:
    for make in FACTORIES:
        order = _order(*INTO[status]())
        before = _snapshot(order)
        event = make()
        try:
            order.apply(event)
        except InvalidTransitionError:
            assert _snapshot(order) == before, type(event).__name__
        else:
            assert isinstance(event, TRANSITION_EVENTS[(status, order.status)]), type(event).__name__


@pytest.mark.parametrize("status", [S.FILLED, S.REJECTED])
def test_order_final_status_refuses_every_event(status: S) -> None:
    for make in FACTORIES:
        order = _order(*INTO[status]())
        before = _snapshot(order)
        with pytest.raises(InvalidTransitionError, match=f"not allowed in {status}"):
            order.apply(make())
        assert _snapshot(order) == before


@pytest.mark.parametrize("status", [S.CANCELED, S.EXPIRED])
def test_order_canceled_or_expired_takes_only_a_late_fill(status: S) -> None:
    for make in FACTORIES[:-1]:
        order = _order(*INTO[status]())
        before = _snapshot(order)
        with pytest.raises(InvalidTransitionError):
            order.apply(make())
        assert _snapshot(order) == before
    order = _order(*INTO[status]())
    order.apply(fill("40"))
    order.apply(fill("60", "t-2"))
    assert order.status is status and order.filled_quantity == D(100) and order.is_terminal


# -- refusals ---------------------------------------------------------------------------------
REFUSALS: list[tuple[str, Callable[[], list[OrderEvent]], Callable[[], OrderEvent], str]] = [
    ("fill_before_submit", list, lambda: fill("10"), "Filled not allowed in new"),
    ("accept_before_submit", list, acc, "Accepted not allowed in new"),
    ("submitted_twice", lambda: [sub()], sub, "Submitted not allowed in submitted"),
    ("unknown_before_submit", list, unk, "SubmitUnknown not allowed in new"),
    ("accepted_twice", lambda: [sub(), acc()], acc, "Accepted not allowed in accepted"),
    ("accepted_after_partial_ack", lambda: [sub(), acc(), fill("40")], acc, "already accepted"),
    ("accepted_while_cancel_pending_after_ack", lambda: [sub(), acc(), pc()], acc, "already accepted"),
    ("accepted_while_replace_pending_after_ack", lambda: [sub(), acc(), pr()], acc, "already accepted"),
    ("cancel_pending_twice", lambda: [sub(), acc(), pc()], pc, "PendingCancel not allowed in pending_cancel"),
    ("replace_pending_twice", lambda: [sub(), acc(), pr()], pr, "PendingReplace not allowed in pending_replace"),
    ("replace_submitted", lambda: [sub()], pr, "PendingReplace not allowed in submitted"),
    ("cancel_rejected_without_cancel", lambda: [sub(), acc()], cr, "CancelRejected not allowed in accepted"),
    ("replaced_without_replace", lambda: [sub(), acc()], rp, "Replaced not allowed in accepted"),
    ("replaced_while_cancel_pending", lambda: [sub(), acc(), pc()], rp, "Replaced not allowed in pending_cancel"),
    ("replace_rejected_without_replace", lambda: [sub(), acc()], rr, "ReplaceRejected not allowed in accepted"),
    ("rejected_after_fill", lambda: [sub(), acc(), fill("40")], rej, "Rejected not allowed in partially_filled"),
    ("rejected_while_cancel_pending", lambda: [sub(), acc(), pc()], rej, "not allowed in pending_cancel"),
    ("expired_before_ack", lambda: [sub()], exp, "Expired not allowed in submitted"),
    ("canceled_twice", lambda: [sub(), acc(), cx()], cx, "Canceled not allowed in canceled"),
    ("fill_after_cancel_before_submit", lambda: [cx()], lambda: fill("10"), "canceled: it was never submitted"),
    ("overfill", lambda: [sub(), acc(), fill("40")], lambda: fill("61", "t-2"), r"overfill: 40 filled \+ 61"),
    ("overfill_at_once", lambda: [sub()], lambda: fill("100.5"), "overfill"),
    ("overfill_late", lambda: [sub(), acc(), fill("40"), cx()], lambda: fill("61", "t-2"), "overfill"),
    ("replace_below_filled", lambda: [sub(), acc(), fill("40")], lambda: pr("39"), "less than the 40 already filled"),
    ("replaced_below_filled", lambda: [sub(), acc(), pr(), fill("90")], rp, "less than the 90 already filled"),
    (
        "replace_nothing",
        lambda: [sub(), acc()],
        lambda: PendingReplace(client_order_id=CID, ts=T0),
        "changes nothing",
    ),
    (
        "replace_gives_stop_to_limit",
        lambda: [sub(), acc()],
        lambda: PendingReplace(client_order_id=CID, ts=T0, stop_price=D(30)),
        "gives a stop_price to a limit order",
    ),
    (
        "replaced_gives_stop_to_limit",
        lambda: [sub(), acc(), pr()],
        lambda: Replaced(client_order_id=CID, ts=T0, quantity=D(80), stop_price=D(30)),
        "gives a stop_price to a limit order",
    ),
    (
        "other_client_order_id",
        lambda: [sub()],
        lambda: Accepted(client_order_id="c-2", ts=T0),
        "is for client_order_id 'c-2', this order is 'c-1'",
    ),
]


@pytest.mark.parametrize(("before", "make", "match"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_order_apply_illegal_event_raises_and_changes_nothing(
    before: Callable[[], list[OrderEvent]], make: Callable[[], OrderEvent], match: str
) -> None:
    # Arrange
    order = _order(*before())
    snapshot = _snapshot(order)
    # Act / Assert
    with pytest.raises(InvalidTransitionError, match=match):
        order.apply(make())
    assert _snapshot(order) == snapshot


@pytest.mark.parametrize("before", [lambda: [sub(), acc()], lambda: [sub(), acc(), cx()]], ids=["working", "late"])
def test_order_fill_repeated_trade_id_raises_duplicate_fill(before: Callable[[], list[OrderEvent]]) -> None:
    order = _order(*before())
    order.apply(fill("10", "t-7"))
    snapshot = _snapshot(order)
    with pytest.raises(DuplicateFillError, match="trade 't-7' was already applied"):
        order.apply(fill("5", "t-7", price="38"))
    assert _snapshot(order) == snapshot


# -- semantics --------------------------------------------------------------------------------
def test_order_ioc_unfilled_submitted_to_canceled_with_reason() -> None:
    order = _order(sub(), request=_request(time_in_force=TimeInForce.IOC))
    order.apply(Canceled(client_order_id=CID, ts=T0, reason=CancelReason.UNFILLED, message="IOC: nothing at once"))
    assert order.status is S.CANCELED and order.cancel_reason is CancelReason.UNFILLED
    assert order.reasons == ("IOC: nothing at once",) and order.leaves_quantity == D(0)


def test_order_fill_while_cancel_pending_then_cancel_rejected_is_partially_filled() -> None:
    order = _order(sub(), acc(), pc(), fill("40"))
    assert (order.status, order.filled_quantity) == (S.PENDING_CANCEL, D(40))
    order.apply(cr())
    assert (order.status, order.leaves_quantity) == (S.PARTIALLY_FILLED, D(60))


def test_order_accept_while_cancel_pending_then_cancel_rejected_is_accepted() -> None:
    order = _order(sub(), pc(), acc(), cr())
    assert order.status is S.ACCEPTED and order.broker_order_id == "b-1"


def test_order_cancel_rejected_during_replace_returns_to_pending_replace() -> None:
    order = _order(sub(), acc(), pr(), pc(), cr(), rp())
    assert order.status is S.ACCEPTED and order.quantity == D(80)


def test_order_replaced_updates_quantity_prices_and_broker_id() -> None:
    order = _order(sub(), acc(), fill("40"), pr(), rp())
    assert (order.quantity, order.limit_price, order.leaves_quantity) == (D(80), D("37.40"), D(40))
    assert order.broker_order_id == "b-2" and order.request.quantity == D(100)


def test_order_replaced_without_prices_keeps_them() -> None:
    request = _request(order_type=OrderType.STOP_LIMIT, stop_price=D("36.00"))
    order = _order(sub(), acc(), pr(), Replaced(client_order_id=CID, ts=T0, quantity=D(50)), request=request)
    assert (order.quantity, order.limit_price, order.stop_price) == (D(50), D("37.50"), D("36.00"))


def test_order_replaced_down_to_filled_is_filled() -> None:
    order = _order(sub(), acc(), fill("40"), pr("40"), rp("40"))
    assert order.status is S.FILLED and order.leaves_quantity == D(0)


def test_order_late_fill_on_canceled_grows_filled_keeps_status() -> None:
    order = _order(sub(), acc(), fill("40"), cx(), fill("60", "t-2"))
    assert order.status is S.CANCELED and order.filled_quantity == D(100) and order.leaves_quantity == D(0)


@pytest.mark.parametrize(
    "answer",
    [acc, rej, lambda: fill("10"), cx, lambda: fill("100")],
    ids=["accepted", "rejected", "fill", "cancel", "full"],
)
def test_order_in_doubt_set_by_submit_unknown_cleared_by_broker_answer(answer: Callable[[], OrderEvent]) -> None:
    order = _order(sub(), unk())
    assert order.in_doubt and order.status is S.SUBMITTED and order.is_working
    order.apply(unk())
    assert order.in_doubt
    order.apply(answer())
    assert not order.in_doubt


def test_order_in_doubt_survives_own_pending_cancel_until_answer() -> None:
    order = _order(sub(), unk(), pc())
    assert order.in_doubt
    order.apply(cr())
    assert (order.in_doubt, order.status) == (False, S.SUBMITTED)


def test_order_rejected_not_received_records_reason() -> None:
    order = _order(sub(), unk())
    order.apply(Rejected(client_order_id=CID, ts=T0, reason=RejectReason.NOT_RECEIVED, message=""))
    assert order.reject_reason is RejectReason.NOT_RECEIVED and order.reasons == ("not_received",)
    assert order.is_terminal and not order.is_working


def test_order_pretrade_block_records_message() -> None:
    order = _order(
        Rejected(client_order_id=CID, ts=T0, reason=RejectReason.RISK_LIMIT, message="max_weight: 31% > 25%")
    )
    assert order.status is S.REJECTED and order.reasons == ("max_weight: 31% > 25%",)


def test_order_fills_give_avg_price_commission_and_ts_updated() -> None:
    order = _order(sub(), acc())
    later = T0 + pd.Timedelta(minutes=5)
    order.apply(fill("40", "t-1", "37.50"))
    order.apply(
        Filled(client_order_id=CID, ts=later, trade_id="t-2", quantity=D(60), price=D("37.60"), commission=D("0.5"))
    )
    assert order.avg_fill_price == (D(40) * D("37.50") + D(60) * D("37.60")) / D(100) == D("37.56")
    assert order.commission == D("1.5") and order.ts_updated == later and order.trade_ids == {"t-1", "t-2"}
    assert order.status is S.FILLED and order.is_terminal and not order.is_working


def test_order_new_has_no_fills() -> None:
    order = _order()
    assert order.status is S.NEW and order.avg_fill_price is None and order.ts_updated == T0
    assert not order.is_working and not order.is_terminal and order.leaves_quantity == D(100)
    assert (order.symbol, order.side, order.order_type, order.time_in_force) == ("ORCL", Side.BUY, "limit", "day")
    assert order.portfolio == "main" and order.broker_order_id is None and order.events == ()


def test_order_client_order_id_defaults_to_order_id() -> None:
    order = Order(order_id="o-9", request=_request(client_order_id=None), ts_created=T0)
    assert order.client_order_id == "o-9"
    order.apply(Submitted(client_order_id="o-9", ts=T0))
    assert order.status is S.SUBMITTED


def test_order_copy_is_independent_of_original() -> None:
    # the order manager applies events to a copy and keeps the original until they are durable
    order = _order(sub(), acc())
    before = _snapshot(order)
    other = copy.copy(order)
    other.apply(fill("40"))
    assert _snapshot(order) == before and other.filled_quantity == D(40) and other != order


def test_order_replay_equals_original() -> None:
    order = _order(sub(), unk(), fill("10"), acc(), pr(), fill("20", "t-2"), rr(), pc(), cx(), fill("5", "t-3"))
    again = Order.replay(order_id="o-1", request=_request(), ts_created=T0, events=order.events)
    assert again == order and _snapshot(again) == _snapshot(order)
    assert again != _order(sub())


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"order_id": "o 1"}, "order_id must be 1-64 characters"),
        ({"order_id": "o" * 65}, "order_id must be 1-64 characters"),
        ({"request": "ORCL"}, "request must be an OrderRequest"),
        ({"ts_created": "garbage"}, "ts_created must be a date"),
    ],
)
def test_order_constructor_bad_input_raises(changes: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"order_id": "o-1", "request": _request(), "ts_created": T0}
    args.update(changes)
    with pytest.raises(InvalidInputError, match=match):
        Order(**args)  # type: ignore[arg-type]


# -- the request ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"portfolio": ""}, "portfolio name must be printable"),
        ({"portfolio": "a\x00b"}, "portfolio name must be printable"),
        ({"symbol": "OR CL"}, "symbol 'OR CL' is not a valid symbol"),
        ({"symbol": "=cmd"}, "symbol '=cmd' is not a valid symbol"),
        ({"side": "buy"}, "side must be a Side"),
        ({"order_type": "limit"}, "order_type must be a OrderType"),
        ({"time_in_force": "gtc"}, "time_in_force must be a TimeInForce"),
        ({"quantity": 100}, "quantity must be a Decimal, got int"),
        ({"quantity": 1.5}, "quantity must be a Decimal, got float"),
        ({"quantity": True}, "quantity must be a Decimal, got bool"),
        ({"quantity": D(0)}, "quantity must be positive"),
        ({"quantity": D(-5)}, "quantity must be positive"),
        ({"quantity": D("NaN")}, "quantity must be a finite number"),
        ({"quantity": D("Infinity")}, "quantity must be a finite number"),
        ({"quantity": D("1e308")}, "quantity must be at most 1e15"),
        ({"quantity": D("1e-19")}, "quantity must be 0 or at least 1e-18"),
        ({"quantity": D("1." + "1" * 30)}, "at most 28 significant digits"),
        ({"limit_price": None}, "a limit order needs a limit_price"),
        ({"limit_price": D(0)}, "limit_price must be positive"),
        ({"limit_price": D(-1)}, "limit_price must be positive"),
        ({"limit_price": D("NaN")}, "limit_price must be a finite number"),
        ({"limit_price": D("1e308")}, "limit_price must be at most 1e15"),
        ({"limit_price": D("2e9")}, "limit_price must be between 1e-08 and 1e\\+09"),
        ({"limit_price": 37.5}, "limit_price must be a Decimal"),
        ({"order_type": OrderType.MARKET}, "a market order takes no limit_price"),
        ({"order_type": OrderType.STOP, "stop_price": D(30)}, "a stop order takes no limit_price"),
        ({"order_type": OrderType.STOP, "limit_price": None}, "a stop order needs a stop_price"),
        ({"order_type": OrderType.STOP_LIMIT}, "a stop_limit order needs a stop_price"),
        ({"order_type": OrderType.STOP_LIMIT, "limit_price": None, "stop_price": D(30)}, "needs a limit_price"),
        ({"stop_price": D(30)}, "a limit order takes no stop_price"),
        ({"client_order_id": ""}, "client_order_id must be 1-64 characters"),
        ({"client_order_id": "x" * 65}, "client_order_id must be 1-64 characters"),
        ({"client_order_id": "a b"}, "client_order_id must be 1-64 characters"),
        ({"client_order_id": "a/b"}, "client_order_id must be 1-64 characters"),
        ({"client_order_id": 7}, "client_order_id must be 1-64 characters"),
    ],
)
def test_order_request_bad_field_raises_naming_it(changes: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        _request(**changes)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {"order_type": OrderType.MARKET, "time_in_force": TimeInForce.DAY, "limit_price": None}),
        ({"order_type": OrderType.STOP, "stop_price": D("1.0001")}, {"stop_price": D("1.0001")}),
        ({"quantity": D("0.5")}, {"quantity": D("0.5")}),
        ({"client_order_id": "A.b_c:d-" + "9" * 56}, {"client_order_id": "A.b_c:d-" + "9" * 56}),
    ],
)
def test_order_request_valid_fields_kept(changes: dict[str, object], expected: dict[str, object]) -> None:
    fields: dict[str, object] = {"portfolio": "main", "symbol": "BRK.B", "side": Side.SELL, "quantity": D(3)}
    fields.update(changes)
    request = OrderRequest(**fields)  # type: ignore[arg-type]
    for name, value in expected.items():
        assert getattr(request, name) == value


def test_order_request_create_parses_loose_input() -> None:
    request = OrderRequest.create(
        portfolio="main",
        symbol="ORCL",
        side="SELL",
        quantity=0.1,
        order_type="Stop-Limit",
        limit_price="37.5",
        stop_price=37,
        time_in_force="gtc",
        client_order_id="rebal-1",
    )
    assert request == OrderRequest(
        portfolio="main",
        symbol="ORCL",
        side=Side.SELL,
        quantity=D("0.1"),
        order_type=OrderType.STOP_LIMIT,
        limit_price=D("37.5"),
        stop_price=D(37),
        time_in_force=TimeInForce.GTC,
        client_order_id="rebal-1",
    )
    assert OrderRequest.create(portfolio="p", symbol="X", side=Side.BUY, quantity=D(1)).order_type is OrderType.MARKET


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"quantity": float("nan")}, "quantity must be a finite number, got nan"),
        ({"quantity": "NaN"}, "quantity must be a finite number, got 'NaN'"),
        ({"quantity": float("inf")}, "quantity must be a finite number, got inf"),
        ({"quantity": "-inf"}, "quantity must be a finite number"),
        ({"quantity": 1e308}, "quantity must be at most 1e15 in magnitude, got 1e\\+308"),
        ({"quantity": "1e308"}, "quantity must be at most 1e15 in magnitude, got '1e308'"),
        ({"quantity": 0}, "quantity must be positive, got 0"),
        ({"quantity": "0"}, "quantity must be positive, got '0'"),
        ({"quantity": -10}, "quantity must be positive, got -10"),
        ({"quantity": "-0.5"}, "quantity must be positive, got '-0.5'"),
        ({"quantity": "ten"}, "quantity must be a number, got 'ten'"),
        ({"quantity": True}, "quantity must be a number, got True"),
        ({"side": "hold"}, "side must be one of 'buy', 'sell'; got 'hold'"),
        ({"side": 1}, "side must be one of 'buy', 'sell'; got 1"),
        (
            {"order_type": "trailing"},
            "order_type must be one of 'market', 'limit', 'stop', 'stop_limit'; got 'trailing'",
        ),
        ({"time_in_force": "opg"}, "time_in_force must be one of 'day', 'gtc', 'ioc', 'fok'; got 'opg'"),
        ({"order_type": "limit", "limit_price": float("nan")}, "limit_price must be a finite number, got nan"),
        ({"order_type": "limit", "limit_price": float("inf")}, "limit_price must be a finite number, got inf"),
        ({"order_type": "limit", "limit_price": 1e308}, "limit_price must be at most 1e15"),
        ({"order_type": "limit", "limit_price": 0}, "limit_price must be positive, got 0"),
        ({"order_type": "limit", "limit_price": "-1"}, "limit_price must be positive, got '-1'"),
        ({"order_type": "limit"}, "a limit order needs a limit_price"),
        ({"order_type": "stop_limit", "limit_price": "10"}, "a stop_limit order needs a stop_price"),
        ({"order_type": "stop", "stop_price": float("nan")}, "stop_price must be a finite number, got nan"),
        ({"order_type": "stop", "stop_price": 0}, "stop_price must be positive"),
        ({"limit_price": "10"}, "a market order takes no limit_price, got Decimal\\('10'\\)"),
        ({"symbol": "NO SUCH"}, "symbol 'NO SUCH' is not a valid symbol"),
        ({"client_order_id": "x" * 129}, "client_order_id must be 1-64 characters"),
    ],
)
def test_order_request_create_bad_input_names_field_and_value(changes: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"portfolio": "main", "symbol": "ORCL", "side": "buy", "quantity": "100"}
    args.update(changes)
    with pytest.raises(InvalidInputError, match=match):
        OrderRequest.create(**args)  # type: ignore[arg-type]


def test_check_client_order_id_accepts_64_refuses_65() -> None:
    assert check_client_order_id("a" * 64) == "a" * 64
    with pytest.raises(InvalidInputError, match="got 'aaa"):
        check_client_order_id("a" * 65)


# -- ticks ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("price", "tick"),
    [("1", "0.01"), ("1.00", "0.01"), ("37.5", "0.01"), ("700000", "0.01"), ("0.9999", "0.0001"), ("0.0001", "0.0001")],
)
def test_tick_size_is_penny_at_or_above_one_dollar(price: str, tick: str) -> None:
    assert tick_size(D(price)) == D(tick)


@pytest.mark.parametrize("price", ["37.50", "37.5", "1", "0.9999", "0.5", "1234.56"])
def test_check_tick_on_tick_returns_price(price: str) -> None:
    assert check_tick(D(price), "limit_price") == D(price)


@pytest.mark.parametrize(
    ("price", "match"),
    [
        ("37.505", "limit_price 37.505 is off the tick: not a multiple of 0.01"),
        ("1.001", "not a multiple of 0.01"),
        ("0.99995", "limit_price 0.99995 is off the tick: not a multiple of 0.0001"),
        ("0", "limit_price must be positive"),
        ("-1", "limit_price must be positive"),
        ("NaN", "limit_price must be a finite number"),
    ],
)
def test_check_tick_off_tick_or_bad_raises(price: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        check_tick(D(price), "limit_price")


def test_tick_size_float_refused() -> None:
    with pytest.raises(InvalidInputError, match="price must be a Decimal, got float"):
        tick_size(1.5)  # type: ignore[arg-type]


# -- events -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: Filled(client_order_id=CID, ts=T0, trade_id="t", quantity=D(0), price=D(1)),
            "Filled.quantity must be positive",
        ),
        (
            lambda: Filled(client_order_id=CID, ts=T0, trade_id="t", quantity=D(-1), price=D(1)),
            "Filled.quantity must be positive",
        ),
        (
            lambda: Filled(client_order_id=CID, ts=T0, trade_id="t", quantity=D("NaN"), price=D(1)),
            "Filled.quantity must be a finite",
        ),
        (
            lambda: Filled(client_order_id=CID, ts=T0, trade_id="t", quantity=1, price=D(1)),  # type: ignore[arg-type]
            "Filled.quantity must be a Decimal",
        ),
        (
            lambda: Filled(client_order_id=CID, ts=T0, trade_id="t", quantity=D(1), price=D("Infinity")),
            "Filled.price must be a finite",
        ),
        (
            lambda: Filled(client_order_id=CID, ts=T0, trade_id="t", quantity=D(1), price=D(0)),
            "Filled.price must be positive",
        ),
        (
            lambda: Filled(client_order_id=CID, ts=T0, trade_id="t", quantity=D(1), price=D(1), commission=D(-1)),
            "Filled.commission must be at least 0",
        ),
        (
            lambda: Filled(client_order_id=CID, ts=T0, trade_id="", quantity=D(1), price=D(1)),
            "Filled.trade_id must be non-empty",
        ),
        (lambda: Accepted(client_order_id="", ts=T0), "Accepted.client_order_id must be 1-64"),
        (lambda: Accepted(client_order_id=CID, ts="garbage"), "Accepted.ts must be a date"),  # type: ignore[arg-type]
        (
            lambda: Accepted(client_order_id=CID, ts=T0, broker_order_id=""),
            "Accepted.broker_order_id must be non-empty",
        ),
        (
            lambda: Rejected(client_order_id=CID, ts=T0, reason="broker", message="x"),  # type: ignore[arg-type]
            "Rejected.reason must be a RejectReason",
        ),
        (
            lambda: Rejected(client_order_id=CID, ts=T0, reason=CancelReason.BROKER, message="x"),  # type: ignore[arg-type]
            "Rejected.reason must be a RejectReason",
        ),
        (lambda: Canceled(client_order_id=CID, ts=T0, message=None), "Canceled.message must be text"),  # type: ignore[arg-type]
        (lambda: Replaced(client_order_id=CID, ts=T0, quantity=None), "Replaced.quantity must be a Decimal"),  # type: ignore[arg-type]
        (
            lambda: PendingReplace(client_order_id=CID, ts=T0, limit_price=D(0)),
            "PendingReplace.limit_price must be positive",
        ),
    ],
)
def test_event_bad_field_raises_naming_it(make: Callable[[], object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        make()


def test_event_naive_ts_means_utc() -> None:
    event = Submitted(client_order_id=CID, ts=pd.Timestamp("2014-01-02 09:30"))
    assert event.ts == pd.Timestamp("2014-01-02 09:30", tz="UTC") and str(event.ts.tz) == "UTC"


def _every_event() -> list[OrderEvent]:
    ts = pd.Timestamp("2014-01-02 14:30:00.123456789", tz="UTC")
    return [
        Submitted(client_order_id=CID, ts=ts),
        SubmitUnknown(client_order_id=CID, ts=ts, message="503 from the broker"),
        Accepted(client_order_id=CID, ts=ts),
        Accepted(client_order_id=CID, ts=ts, broker_order_id="61e69015-8549-4bfd"),
        Rejected(client_order_id=CID, ts=ts, reason=RejectReason.INSUFFICIENT_CASH, message="cost 1,000 > cash 10"),
        PendingCancel(client_order_id=CID, ts=ts),
        CancelRejected(client_order_id=CID, ts=ts, message=""),
        PendingReplace(client_order_id=CID, ts=ts, limit_price=D("37.40")),
        Replaced(client_order_id=CID, ts=ts, quantity=D("1E+2"), limit_price=D("37.40"), stop_price=D("36.000")),
        ReplaceRejected(client_order_id=CID, ts=ts, message='say "no"'),
        Canceled(client_order_id=CID, ts=ts, reason=CancelReason.UNFILLED),
        Expired(client_order_id=CID, ts=ts),
        Filled(
            client_order_id=CID, ts=ts, trade_id="t-1", quantity=D("0.50"), price=D("37.5000"), commission=D("0.005")
        ),
    ]


@pytest.mark.parametrize("event", _every_event(), ids=lambda e: type(e).__name__)
def test_event_dict_round_trip_is_exact(event: OrderEvent) -> None:
    data = event_to_dict(event)
    assert all(v is None or isinstance(v, str) for v in data.values())
    back = event_from_dict(data)
    assert back == event and type(back) is type(event)
    assert event_to_dict(back) == data  # Decimal exponents and nanoseconds kept


def test_event_to_dict_writes_type_and_text() -> None:
    ts = pd.Timestamp("2014-01-02 14:30", tz="UTC")
    data = event_to_dict(Filled(client_order_id=CID, ts=ts, trade_id="t-1", quantity=D("40"), price=D("37.50")))
    assert data == {
        "type": "filled",
        "client_order_id": CID,
        "ts": "2014-01-02T14:30:00+00:00",
        "trade_id": "t-1",
        "quantity": "40",
        "price": "37.50",
        "commission": "0",
    }


def test_event_from_dict_optional_field_left_out_takes_default() -> None:
    event = event_from_dict({"type": "canceled", "client_order_id": CID, "ts": "2014-01-02T14:30:00+00:00"})
    assert event == Canceled(client_order_id=CID, ts=T0 - pd.Timedelta(0), reason=CancelReason.REQUESTED)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            {"type": "exploded", "client_order_id": CID, "ts": "2014-01-02"},
            "order event type must be one of .*got 'exploded'",
        ),
        ({"client_order_id": CID, "ts": "2014-01-02"}, "order event type must be one of .*got None"),
        ({"type": "expired", "client_order_id": CID, "ts": "2014-01-02", "price": "1"}, "'expired' has no field price"),
        (
            {"type": "filled", "client_order_id": CID, "ts": "2014-01-02", "trade_id": "t"},
            "'filled' lacks its field quantity",
        ),
        (
            {
                "type": "filled",
                "client_order_id": CID,
                "ts": "2014-01-02",
                "trade_id": "t",
                "quantity": "x",
                "price": "1",
            },
            "Filled.quantity must be a number, got 'x'",
        ),
        (
            {
                "type": "filled",
                "client_order_id": CID,
                "ts": "2014-01-02",
                "trade_id": "t",
                "quantity": "NaN",
                "price": "1",
            },
            "Filled.quantity must be a finite number",
        ),
        (
            {"type": "rejected", "client_order_id": CID, "ts": "2014-01-02", "reason": "bored", "message": ""},
            "Rejected.reason must be one of .*got 'bored'",
        ),
        ({"type": "expired", "client_order_id": CID, "ts": 5}, "Expired.ts must be text, got int"),
        ({"type": "expired", "client_order_id": CID, "ts": "soon"}, "Expired.ts must be a date"),
    ],
)
def test_event_from_dict_bad_data_raises(data: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        event_from_dict(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("price", "tick", "ok"), [("101.25", "0.25", True), ("101.10", "0.25", False), ("0.5", "0.5", True)]
)
def test_check_tick_against_the_symbols_own_tick_size(price: str, tick: str, ok: bool) -> None:
    if ok:
        assert check_tick(D(price), "limit_price", tick=D(tick)) == D(price)
    else:
        with pytest.raises(
            InvalidInputError, match=r"off the tick: not a multiple of 0.25 \(the symbol's reference data\)"
        ):
            check_tick(D(price), "limit_price", tick=D(tick))


def test_check_tick_bad_tick_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="tick"):
        check_tick(D("10"), "limit_price", tick=D("-0.01"))
