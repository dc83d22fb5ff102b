"""``bifrost orders`` (submit, list, show, cancel) and ``bifrost book state``: trading from the command line.

Orders go through the order manager (`bifrost.execution`) to the broker the ``broker``
setting names: ``paper`` (the default: the paper broker, filling against the store's bars
with the backtest's fill model) or ``alpaca`` (its keys from the settings). A market order
on the paper broker fills at the open of the first bar after now, or, when the store has no
later bar, at the last close at once; ``fill_basis`` says which.

``submit`` exits 0 when the order was accepted or filled, 1 when it was rejected (by a
pre-trade check or the broker: ``reasons`` say which) or its outcome is unknown (the broker
did not answer: the next ``submit`` or ``cancel`` asks the broker for it by its client order
id, never sends it again), and 2 when the request itself is invalid (one line naming the
field; nothing is changed but the audit trail). Quantities and prices print as JSON numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from bifrost.cli._common import JsonOpt, echo_json, iso, records, store
from bifrost.execution import OrderStatus, OrderType, Side, TimeInForce, TradingState

if TYPE_CHECKING:
    from bifrost.data import BarStore
    from bifrost.execution import Broker, Order, OrderManager

NAME = "orders"
BOOK_NAME = "book"
app = typer.Typer(help="Orders: submit, list, show, cancel (through the broker the `broker` setting names).")
book_app = typer.Typer(help="The book's trading state: active, reducing (only orders that reduce) or halted.")

_FINE = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED})
_SET_BY_HAND = "set by hand (bifrost book state --set)"

PortfolioOpt = Annotated[str, typer.Option("--portfolio", help="The portfolio (its account at the broker).")]
OrderIdArg = Annotated[str, typer.Argument(help="The order's id or its client order id.")]


@contextlib.contextmanager
def _trading(bars: BarStore) -> Iterator[tuple[OrderManager, Broker]]:
    # the setting `broker` picks the venue; Alpaca's keys come from the settings, never the
    # command line, and its session is closed when the command ends (no stream: one request)
    from bifrost.config import load_settings
    from bifrost.execution import OrderManager

    settings = load_settings()
    if settings.broker == "alpaca":
        from bifrost.execution import AlpacaBroker

        with AlpacaBroker.from_settings(settings, stream=False) as alpaca:
            yield OrderManager(bars, alpaca), alpaca
        return
    from bifrost.execution import PaperBroker

    # the wall clock (or the time a job advanced the venue to, when later): a market order with no
    # bar after now fills at the last close at once, never at the open of a bar already past
    paper = PaperBroker(bars, clock=_now)
    yield OrderManager(bars, paper), paper


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _number(value: object) -> object:
    # a Decimal quantity or price as a JSON number (its own digits: 37.84 stays 37.84)
    return float(value) if isinstance(value, Decimal) else value


def _order_record(order: Order, *, fill_basis: str | None = None) -> dict[str, Any]:
    request = order.request
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "status": str(order.status),
        "reasons": list(order.reasons),
        "filled_quantity": _number(order.filled_quantity),
        "avg_fill_price": _number(order.avg_fill_price),
        "fill_basis": fill_basis,
        "portfolio": request.portfolio,
        "symbol": order.symbol,
        "side": str(order.side),
        "order_type": str(order.order_type),
        "time_in_force": str(order.time_in_force),
        "quantity": _number(order.quantity),
        "limit_price": _number(order.limit_price),
        "stop_price": _number(order.stop_price),
        "commission": _number(order.commission),
        "in_doubt": order.in_doubt,
        "broker_order_id": order.broker_order_id,
        "ts_created": iso(order.ts_created),
        "ts_updated": iso(order.ts_updated),
    }


def _fill_basis(broker: Broker, order: Order) -> str | None:
    # what the broker priced the order's last fill at (paper: next_open, last_close, bar_range, quote)
    if order.filled_quantity == 0:
        return None
    fills = [f for f in broker.fills(order.request.portfolio) if f.client_order_id == order.client_order_id]
    return (fills[-1].basis or None) if fills else None


def _order_line(order: Order, fill_basis: str | None) -> str:
    # order 5d00… (mine-1): buy 10 ORCL market day: filled 10 at 44.970001 (last close)
    named = order.order_id if order.client_order_id == order.order_id else f"{order.order_id} ({order.client_order_id})"
    stop = f" stop {order.stop_price}" if order.stop_price is not None else ""
    limit = f" at {order.limit_price}" if order.limit_price is not None else ""
    line = (
        f"order {named}: {order.side} {order.quantity} {order.symbol} {order.order_type}{stop}{limit} "
        f"{order.time_in_force}: {order.status}"
    )
    if order.filled_quantity > 0:
        basis = f" ({fill_basis.replace('_', ' ')})" if fill_basis else ""
        done = "" if order.filled_quantity == order.quantity else f" of {order.quantity}"
        line += f" {order.filled_quantity}{done} at {order.avg_fill_price}{basis}"
    if order.in_doubt:
        line += ", in doubt: the broker's answer is unknown (it is asked for this order before the next one is sent)"
    if order.reasons:
        line += f" ({'; '.join(order.reasons)})"
    return line


@app.command("submit")
def orders_submit(
    portfolio: PortfolioOpt,
    symbol: Annotated[str, typer.Option(help="The symbol, as the store names it.")],
    side: Annotated[Side, typer.Option(help="buy or sell.")],
    quantity: Annotated[str, typer.Option(help="Shares (> 0; a decimal where the broker allows fractions).")],
    order_type: Annotated[OrderType, typer.Option("--type", help="The order type.")] = OrderType.MARKET,
    limit_price: Annotated[str | None, typer.Option(help="Limit price (limit, stop_limit), on the tick.")] = None,
    stop_price: Annotated[
        str | None, typer.Option(help="Stop (trigger) price (stop, stop_limit), on the tick.")
    ] = None,
    tif: Annotated[TimeInForce, typer.Option("--tif", help="Time in force.")] = TimeInForce.DAY,
    client_order_id: Annotated[
        str | None, typer.Option(help="Your id for the order: the same id again returns that order, never a second.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Submit an order through the pre-trade checks to the broker; print its state.

    Exit status 0 when it was accepted or filled, 1 when it was rejected or its outcome is
    unknown, 2 when the request is invalid.
    """
    # the loose fields go to the manager, which parses them: a bad request is audited (order.refused)
    fields = {
        "portfolio": portfolio, "symbol": symbol, "side": side.value, "quantity": quantity,
        "order_type": order_type.value, "limit_price": limit_price, "stop_price": stop_price,
        "time_in_force": tif.value, "client_order_id": client_order_id,
    }  # fmt: skip
    from bifrost.execution import load_decisions

    with store() as bars, _trading(bars) as (manager, broker):
        manager.process_events()  # what the broker reported since (fills, orders in doubt resolved) first
        order = manager.submit(fields)
        basis = _fill_basis(broker, order)
        decided = load_decisions(bars, order.order_id)
    warnings = [f"{r.check}: {r.reason}" for r in decided.itertuples() if r.verdict == "warn"]
    if json_out:
        echo_json({**_order_record(order, fill_basis=basis), "warnings": warnings})
    else:
        typer.echo(_order_line(order, basis))
        for warning in warnings:  # a warning passes the order; the trader still reads it
            typer.echo(f"  warning: {warning}")
    if order.in_doubt or order.status not in _FINE:
        raise typer.Exit(1)


@app.command("list")
def orders_list(
    portfolio: Annotated[str | None, typer.Option("--portfolio", help="Only this portfolio's orders.")] = None,
    since: Annotated[str | None, typer.Option(help="Only orders created on or after this date.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List orders, oldest first: id, client id, symbol, side, quantity, filled, status, reasons."""
    from bifrost._checks import as_utc_timestamp
    from bifrost.execution import list_orders

    start = None if since is None else as_utc_timestamp(since, "--since")
    with store() as bars:
        frame = list_orders(bars, portfolio=portfolio, since=start)
    if json_out:
        echo_json([{k: _number(v) for k, v in row.items()} for row in records(frame)])
    elif frame.empty:
        typer.echo("no orders yet: `bifrost orders submit`")
    else:
        typer.echo(frame.to_string(index=False))


@app.command("show")
def orders_show(order_id: OrderIdArg, json_out: JsonOpt = False) -> None:
    """Show one order: its request, its state, every event that made it and its pre-trade checks' decisions."""
    from bifrost.execution import event_to_dict, load_decisions, load_order

    with store() as bars:
        order = load_order(bars, order_id)
        decided = load_decisions(bars, order.order_id)
    events = [event_to_dict(e) for e in order.events]
    checks = [{"check": r.check, "verdict": r.verdict, "reason": r.reason} for r in decided.itertuples()]
    if json_out:
        echo_json({**_order_record(order), "events": events, "checks": checks})
        return
    typer.echo(_order_line(order, None))
    if events:
        shown = pd.DataFrame([_event_row(e) for e in events])
        typer.echo(shown.to_string(index=False))
    if checks:
        typer.echo("pre-trade checks:")
        typer.echo(pd.DataFrame(checks).to_string(index=False))


def _event_row(event: Mapping[str, str | None]) -> dict[str, str]:
    rest = ", ".join(f"{k}={v}" for k, v in event.items() if k not in ("type", "ts", "client_order_id") and v)
    return {"ts": str(event.get("ts") or ""), "event": str(event.get("type") or ""), "detail": rest}


@app.command("cancel")
def orders_cancel(order_id: OrderIdArg, json_out: JsonOpt = False) -> None:
    """Ask the broker to cancel a working order; print its state.

    Exit status 0 when the order is canceled (or its cancel is pending at the broker), 1
    when it ended otherwise (filled, rejected or expired before the cancel).
    """
    with store() as bars, _trading(bars) as (manager, _):
        manager.process_events()
        order = manager.cancel(order_id)
    if json_out:
        echo_json(_order_record(order))
    else:
        typer.echo(_order_line(order, None))
    if order.status not in (OrderStatus.CANCELED, OrderStatus.PENDING_CANCEL):
        raise typer.Exit(1)


@book_app.command("state")
def book_state(
    name: Annotated[
        str | None, typer.Argument(metavar="[PORTFOLIO]", help="The portfolio (default: every one).")
    ] = None,
    set_to: Annotated[TradingState | None, typer.Option("--set", help="Set the state.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the audit trail with the change).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the trading state of a portfolio (or of every one), or set it with --set (audited).

    ``active``: orders pass the checks; ``reducing``: only orders that reduce a position;
    ``halted``: no new order passes (cancels still do).
    """
    from bifrost.errors import InvalidInputError
    from bifrost.execution import set_trading_state, trading_state
    from bifrost.portfolio import list_portfolios

    if set_to is None and reason is not None:
        raise InvalidInputError("bifrost book state: --reason goes with --set (the reason for the change)")
    if set_to is not None and name is None:
        raise InvalidInputError("bifrost book state: --set needs the PORTFOLIO whose state it sets")
    with store() as bars:
        if set_to is not None and name is not None:
            set_trading_state(bars, name, set_to, reason=reason or _SET_BY_HAND)
        names = [name] if name is not None else list(list_portfolios(bars)["name"])
        states = [{"portfolio": n, "state": str(trading_state(bars, n))} for n in names]
    if json_out:
        echo_json(states[0] if name is not None else states)
    elif not states:
        typer.echo("no portfolios yet: `bifrost portfolio create`")
    else:
        width = max(len(s["portfolio"]) for s in states)
        for s in states:
            typer.echo(f"{s['portfolio']:{width}} {s['state']}")
