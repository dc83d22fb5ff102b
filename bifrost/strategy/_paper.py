"""Paper trading a strategy day by day: its signals through the order manager to the paper broker.

`paper_trade` replays a symbol's bars one at a time. On each bar ``t``:

1. the paper broker's market steps to ``t`` (`PaperBroker.advance`): the orders placed at
   the close of ``t - 1`` fill at ``t``'s open (under the same `FillModel` as a backtest);
2. the order manager takes the broker's events (`OrderManager.process_events`): fills
   reach the portfolio's ledger and the audit trail (steps 1 and 2 run on the bars where
   the run has an order working: on the others the broker has nothing to fill and the
   manager nothing to apply, and the broker's clock is the run's);
3. the strategy runs on the bars up to ``t`` only, and its signal for ``t`` becomes an
   order, submitted at ``t``'s close through the order manager (its pre-trade checks).

Step 3 mirrors the backtest kernel's `Signals` semantics exactly (`bifrost.strategy._kernel`,
step 3): when the symbol is flat, an entry (a short entry, where the fill model allows
shorts) opens a position of ``size`` shares, as a market order or, with the signals' limit
and stop prices, a limit, stop or stop-limit order; when long (short), an exit (a short
exit) closes the whole position with a market order; a new order replaces the symbol's
unfilled one (canceled). Orders are good till canceled, as the backtest's pending orders
are. So the paper fills, and the final value, are the backtest's: the paper-parity test
(`tests/strategy/test_paper_parity.py`) holds them equal to the bit on ORCL.

Not mirrored: sizes other than shares (a value or a share of equity is sized at fill time
by the backtest; an order's quantity is fixed when it is sent), attached stop-loss, take-profit
and trailing stops, and dividends (the paper broker credits none; `PaperRun.ledger_value`
is the ledger's own value, which credits the store's dividends).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from bifrost._checks import check_symbol, is_number
from bifrost.data import Adjustment, Panel, Store
from bifrost.errors import InsufficientDataError, InvalidInputError
from bifrost.execution._checks import PreTradeCheck
from bifrost.execution._fills import FillModel
from bifrost.execution._manager import OrderManager
from bifrost.execution._order import OrderRequest, OrderType, Side, TimeInForce
from bifrost.execution._paper import PaperBroker
from bifrost.portfolio import CashFlow, CashKind, create_portfolio, load_portfolio, record_transactions
from bifrost.strategy._engine import MAX_AMOUNT, Signals, as_grid, prepare
from bifrost.strategy._strategies import Strategy, check_constraints, check_params, resolve_strategy

__all__ = ["PaperRun", "paper_trade"]

FILL_COLUMNS = ("ts", "symbol", "side", "quantity", "price", "commission", "basis", "client_order_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperRun:
    """What a paper run did.

    Attributes
    ----------
    portfolio
        The portfolio it traded (created for the run, with the deposit).
    fills
        One row per paper fill, oldest first: ``ts, symbol, side, quantity (> 0), price,
        commission`` as `BacktestResult.fills` has them (floats), ``basis`` (how the price
        was found) and ``client_order_id``.
    final_value
        Cash plus the position at the last close, in the backtest kernel's float arithmetic
        over the paper fills (so it equals the backtest's to the bit when the fills do).
    ledger_value
        The same from the portfolio's stored ledger, in Decimals (with the store's
        dividends, which the paper broker does not credit).
    order_ids
        The order manager's ids of the orders sent, oldest first.
    """

    portfolio: str
    fills: pd.DataFrame
    final_value: float
    ledger_value: Decimal
    order_ids: tuple[str, ...]


def _prefix(panel: Panel, end: int) -> Panel:
    # the bars up to (and including) row end - 1: what the strategy may see on that bar
    return replace(panel, ts=panel.ts[:end], fields={f: v[:end] for f, v in panel.fields.items()}, raw_splits=())


def _last(request: Signals, name: str, shape: tuple[int, int]) -> Any:
    # the value of a signals field on the panel's last bar (None where the field is unset)
    value = getattr(request, name)
    if value is None:
        return None
    return np.broadcast_to(as_grid(value, shape), shape)[-1, 0]


def paper_trade(
    store: Store,
    strategy: str | Strategy,
    symbol: str,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    params: Mapping[str, Any] | None = None,
    cash: float = 100_000.0,
    fill_model: FillModel | None = None,
    portfolio: str | None = None,
    adjustment: Adjustment = "split_adjusted",
    checks: Sequence[PreTradeCheck] | None = None,
) -> PaperRun:
    """Paper trade ``strategy`` on ``symbol``'s bars day by day, through the order manager and the paper broker.

    Parameters
    ----------
    store
        Holds the bars; the portfolio, the orders, the paper broker's state and the audit
        trail are written there.
    strategy
        A built-in's name or a strategy function returning `Signals`.
    symbol
        The symbol traded.
    start, end
        The bars' half-open date range (None: all).
    params
        The strategy's parameters (checked as `backtest` checks them).
    cash
        The deposit the portfolio starts with, on the first bar.
    fill_model
        The paper broker's fill model (default ``FillModel()``), as a backtest's ``fill``.
    portfolio
        The portfolio to create (default ``paper_<strategy>_<symbol>``).
    adjustment
        The bars the strategy reads and the broker fills against.
    checks
        The order manager's pre-trade checks (None: its defaults, the portfolio's risk
        limits and trading state). An order they block is rejected and not traded: a
        backtest knows no such limits.

    Returns
    -------
    PaperRun
        The fills, the final value, the orders.

    Raises
    ------
    InvalidInputError
        On a bad strategy, parameter, symbol, cash or fill model; a strategy returning
        `Orders`, or sizes other than shares; a portfolio name already taken.
    InsufficientDataError
        If the range holds no bars.

    Examples
    --------
    >>> import tempfile
    >>> from bifrost.data import EmbeddedStore, SyntheticMarket, ingest
    >>> from bifrost.strategy import backtest
    >>> store = EmbeddedStore(tempfile.mkdtemp())
    >>> _ = ingest(store, SyntheticMarket(n_symbols=1, n_days=120, seed=3))
    >>> symbol = store.list_symbols()["symbol"][0]
    >>> params = {"fast": 5, "slow": 20, "size": 50}
    >>> run = paper_trade(store, "sma_cross", symbol, params=params)
    >>> panel = store.read_panel([symbol], adjustment="split_adjusted")
    >>> run.final_value == backtest(panel, "sma_cross", params, dividends="ignore").final_value
    True
    >>> len(run.fills), sorted(set(run.fills["basis"]))
    (6, ['next_open'])
    """
    name, fn = resolve_strategy(strategy)
    chosen = check_params(name, fn, params or {})
    check_constraints(name, fn, chosen)
    symbol = check_symbol(symbol)
    model = FillModel() if fill_model is None else fill_model
    if not isinstance(model, FillModel):
        raise InvalidInputError(f"fill_model must be a FillModel, got {type(fill_model).__name__}")
    if not is_number(cash) or not math.isfinite(float(cash)) or not 0 < float(cash) <= MAX_AMOUNT:
        raise InvalidInputError(f"cash must be a positive number up to {MAX_AMOUNT:.0e}, got {cash!r}")
    panel = store.read_panel([symbol], start, end, adjustment=adjustment)
    if panel.shape[0] == 0:
        raise InsufficientDataError(f"no bars of {symbol} in the range {start} to {end}")
    whole = fn(panel, **chosen)
    if not isinstance(whole, Signals):
        raise InvalidInputError(
            f"paper_trade runs strategies returning Signals; {name} returned {type(whole).__name__}"
        )
    if whole.size_type != "shares":
        raise InvalidInputError(
            f"paper_trade sizes orders in shares (an order's quantity is fixed when it is sent); {name} asks for "
            f"size_type={whole.size_type!r}"
        )
    prepare(panel, whole, cash=float(cash), fill=model, dividends="ignore")  # the request's own checks
    book = portfolio if portfolio is not None else f"paper_{name}_{symbol}"
    first = panel.ts[0]
    create_portfolio(store, book, inception=first)
    record_transactions(
        store, book, [CashFlow(txn_id="deposit", ts=first, kind=CashKind.DEPOSIT, amount=Decimal(repr(float(cash))))]
    )
    now = [first]
    run = uuid.uuid4().hex[:12]
    # a venue of its own: its clock replays the bars, beside any other paper book in the store
    broker = PaperBroker(
        store, fill_model=model, clock=lambda: now[0], name=f"paper-replay-{run}", adjustment=adjustment
    )
    manager = OrderManager(store, broker, checks=checks, clock=lambda: now[0])
    order_ids: list[str] = []
    working: str | None = None  # the client order id of this run's unfilled order
    position = Decimal(0)
    for t, ts in enumerate(panel.ts):
        now[0] = ts
        if working is not None:  # else the broker has nothing to fill and the manager nothing to apply
            broker.advance(ts)
            if manager.process_events():
                position = broker.positions(book).get(symbol, Decimal(0))
                if not manager.order(working).is_working:
                    working = None
        seen = fn(_prefix(panel, t + 1), **chosen)
        if not isinstance(seen, Signals):
            raise InvalidInputError(f"{name} returned {type(seen).__name__} on the bars up to {ts.date()}, not Signals")
        order = _signal(seen, book, symbol, position, model, t + 1)
        if order is None:
            continue
        if working is not None:
            manager.cancel(working)  # the kernel's REPLACED: a new order replaces the unfilled one
        sent = manager.submit(replace(order, client_order_id=f"replay-{run}-{t}"))
        order_ids.append(sent.order_id)
        working = sent.client_order_id if sent.is_working else None
        position = broker.positions(book).get(symbol, Decimal(0))
    manager.process_events()
    return _result(store, broker, book, panel, symbol, float(cash), tuple(order_ids))


def _signal(
    request: Signals, book: str, symbol: str, position: Decimal, model: FillModel, n: int
) -> OrderRequest | None:
    # the kernel's step 3 in signal mode, on the last bar of a prefix of n bars
    shape = (n, 1)
    pos = float(position)
    if pos == 0.0:
        long_in = bool(_last(request, "entries", shape))
        short_in = request.short_entries is not None and bool(_last(request, "short_entries", shape))
        short_in = short_in and model.allow_short
        if not (long_in or short_in):
            return None
        size = float(_last(request, "size", shape))
        if math.isnan(size) or size == 0.0:
            return None
        quantity = model.round_lot(abs(size))
        if quantity == 0.0:
            return None  # the kernel's order would lapse: nothing to trade
        limit = _price(_last(request, "limit_price", shape))
        stop = _price(_last(request, "stop_price", shape))
        kind = (
            (OrderType.MARKET if stop is None else OrderType.STOP)
            if limit is None
            else (OrderType.LIMIT if stop is None else OrderType.STOP_LIMIT)
        )
        return OrderRequest(
            portfolio=book, symbol=symbol, side=Side.BUY if long_in else Side.SELL, quantity=_decimal(quantity),
            order_type=kind, limit_price=limit, stop_price=stop, time_in_force=TimeInForce.GTC,
        )  # fmt: skip
    exit_long = pos > 0.0 and request.exits is not None and bool(_last(request, "exits", shape))
    exit_short = pos < 0.0 and request.short_exits is not None and bool(_last(request, "short_exits", shape))
    if not (exit_long or exit_short):
        return None
    return OrderRequest(
        portfolio=book, symbol=symbol, side=Side.SELL if pos > 0.0 else Side.BUY, quantity=abs(position),
        order_type=OrderType.MARKET, time_in_force=TimeInForce.GTC,
    )  # fmt: skip


def _price(value: Any) -> Decimal | None:
    return None if value is None or math.isnan(float(value)) else Decimal(repr(float(value)))


def _decimal(value: float) -> Decimal:
    d = Decimal(repr(float(value)))
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


def _result(
    store: Store, broker: PaperBroker, book: str, panel: Panel, symbol: str, cash: float, order_ids: tuple[str, ...]
) -> PaperRun:
    fills = broker.fills(book)
    frame = pd.DataFrame(
        {
            "ts": pd.DatetimeIndex([f.ts for f in fills], dtype="datetime64[ns, UTC]"),
            "symbol": [f.symbol for f in fills],
            "side": [f.side.value for f in fills],
            "quantity": np.array([float(f.quantity) for f in fills], dtype=np.float64),
            "price": np.array([float(f.price) for f in fills], dtype=np.float64),
            "commission": np.array([float(f.commission) for f in fills], dtype=np.float64),
            "basis": [f.basis for f in fills],
            "client_order_id": [f.client_order_id for f in fills],
        },
        columns=list(FILL_COLUMNS),
    )
    # the kernel's arithmetic: cash - q * px - commission per fill, then the mark at the last close
    money, pos = cash, 0.0
    for q, px, comm, side in zip(frame["quantity"], frame["price"], frame["commission"], frame["side"], strict=True):
        signed = q if side == Side.BUY.value else -q
        money = money - signed * px - comm
        pos += signed
    closes = panel["close"][:, 0]
    marked = closes[~np.isnan(closes)]
    final = money + pos * float(marked[-1]) if pos != 0.0 and marked.size else money
    ledger = load_portfolio(store, book)
    value = ledger.cash
    for p in ledger.positions():
        if p.quantity and marked.size and p.symbol == symbol:
            value += p.quantity * Decimal(repr(float(marked[-1])))
    return PaperRun(portfolio=book, fills=frame, final_value=final, ledger_value=value, order_ids=order_ids)
