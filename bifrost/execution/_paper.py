"""The paper broker: fills orders against the store's bars with the backtest engine's own fill code.

`PaperBroker` satisfies `Broker`. It is "the other side" of the order manager: its state
(accounts, positions, orders, fills, an event outbox, the time its bars were processed to,
the last quotes) lives in its own tables (`PAPER_SCHEMA`, package ``paper_broker``) and
every change is one transaction of its own, so that it survives the order manager being
killed at any point. An order it accepted is never lost or doubled: a `submit` of a
``client_order_id`` it already holds returns that order's events and makes nothing new.

How an order fills (the backtest kernel's rules, with its code: `FillModel`'s helpers)
-------------------------------------------------------------------------------------
An order placed at time ``T`` (the broker's clock) trades on the bars of its symbol
stamped after ``T`` (a daily bar is stamped at its session date 00:00 UTC: an order placed
on day ``D`` trades from bar ``D+1`` on). `advance` steps through those bars in time
order; on each bar, exposure-reducing orders go first (the kernel's rule, so a rebalance
frees cash before it spends it):

- market: the bar's open (basis ``next_open``); limit, stop, stop-limit: where the bar's
  range reaches them, at the open when it gaps through (``bar_range``; a stop-limit's
  fired stop is remembered across bars); slippage as the fill model says, never outside
  the bar's range nor past a limit;
- the volume cap takes at most ``volume_cap`` × the bar's volume (rounded down to the
  lot, shared by the orders one step fills on that bar); the rest waits for the next
  bars: a partial fill;
- cash, at fill time: a fill that grows the position and costs more than the cash (with
  commission) is refused, `Rejected` ``INSUFFICIENT_CASH`` (an order already partly filled
  is `Canceled` with reason ``BROKER`` and the message saying so); a sell that would open
  or grow a short on a fill model without ``allow_short``: ``SHORT_NOT_ALLOWED``;
- DAY orders expire (`Expired`) at the end of their session: the date of the first bar
  they could trade on; GTC orders live until filled or canceled.

At once, when the order arrives (or is replaced):

- IOC and FOK trade against the live quote, else the last bar at its close (``quote`` /
  ``last_close``; the volume cap against that bar's volume); FOK all or nothing; what
  cannot fill is `Canceled` ``UNFILLED``;
- a market order fills at the last close when the store holds no bar of its symbol at or
  after the clock (``last_close``, slipped within that bar's range), or always with
  ``fill_at="close"``;
- any order marketable at the live quote fills there, in full, without slippage
  (``quote``). A quote is live until a bar stamped after it is processed.

Every fill records its basis (`FILL_BASES`): on `BrokerFill.basis`, and in the trade id
of its `Filled` event (`fill_basis` reads it back).

Events: `submit`, `cancel` and `replace` return theirs; what `advance` and `quote` produce
waits in the outbox for `poll_events` (at least once: an event polled but not yet marked
delivered may come again to a new broker object; a restart of the caller reconciles through
`get_order` and `fills`).

Money: the cash test is the backtest's float expression at fill time; the account's cash,
positions and fills are Decimals (floats by their shortest repr, so a fill's price is the
bar's float exactly).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal, get_args

import numpy as np
import pandas as pd

from bifrost._checks import as_bounded_decimal, as_price, as_utc_timestamp, check_symbol
from bifrost.data import Adjustment, StateDb, Store
from bifrost.errors import BrokerError, InvalidInputError, SymbolNotFoundError
from bifrost.execution._broker import BrokerAccount, BrokerFill, BrokerOrder
from bifrost.execution._fills import FillModel
from bifrost.execution._order import (
    Accepted,
    Canceled,
    CancelReason,
    CancelRejected,
    Expired,
    Filled,
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
    Rejected,
    RejectReason,
    Replaced,
    ReplaceRejected,
    Side,
    TimeInForce,
    event_from_dict,
    event_to_dict,
)
from bifrost.execution._paper_schema import PAPER_SCHEMA

__all__ = ["FILL_BASES", "FillBasis", "PaperBroker", "fill_basis"]

FillBasis = Literal["next_open", "last_close", "bar_range", "quote"]
FILL_BASES: Final[tuple[FillBasis, ...]] = get_args(FillBasis)

_LOCK = "paper_broker"
_EPS = 1e-9  # the kernel's: a position smaller than this many shares is flat
_DAY = pd.Timedelta(days=1)
_WORKING = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
_FIELDS = ("open", "high", "low", "close", "volume")


def fill_basis(trade_id: str) -> FillBasis | None:
    """Return how the paper fill ``trade_id`` was priced (None: not a paper broker's trade id).

    Examples
    --------
    >>> fill_basis("paper-7-1-next_open")
    'next_open'
    >>> fill_basis("alpaca-trade-1") is None
    True
    """
    basis = trade_id.rsplit("-", 1)[-1]
    for known in FILL_BASES:
        if basis == known:
            return known
    return None


def _dec(value: float) -> Decimal:
    # a float by its shortest repr; a whole number without its ".0"
    d = Decimal(repr(float(value)))
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _opt_dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _ts(value: object) -> pd.Timestamp:
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(slots=True)
class _Bars:
    # one symbol's bars as the broker fills against them (float64, ns timestamps)
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def current(self, now_ns: int) -> int | None:
        # the index of the last bar stamped at or before now
        i = int(np.searchsorted(self.ts, now_ns, side="right")) - 1
        return i if i >= 0 else None


@dataclass(slots=True)
class _Working:
    # an order row while the broker works on it (mutable inside one transaction)
    client_order_id: str
    seq: int
    broker_order_id: str
    account: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: OrderStatus
    filled: Decimal
    fill_value: Decimal
    n_fills: int
    triggered: bool
    session_end: pd.Timestamp | None
    ts_placed: pd.Timestamp
    ts_updated: pd.Timestamp
    dirty: bool = False

    @property
    def sign(self) -> float:
        return 1.0 if self.side is Side.BUY else -1.0

    @property
    def leaves(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def working(self) -> bool:
        return self.status in _WORKING

    def limit(self) -> float:
        return float(self.limit_price) if self.limit_price is not None else math.nan

    def stop(self) -> float:
        return float(self.stop_price) if self.stop_price is not None else math.nan


_ORDER_COLUMNS = (
    "client_order_id, seq, broker_order_id, account, symbol, side, order_type, time_in_force, quantity, "
    "limit_price, stop_price, status, filled_quantity, fill_value, n_fills, triggered, session_end, ts_placed, "
    "ts_updated"
)


def _working_from_row(row: Sequence[Any]) -> _Working:
    return _Working(
        client_order_id=str(row[0]),
        seq=int(row[1]),
        broker_order_id=str(row[2]),
        account=str(row[3]),
        symbol=str(row[4]),
        side=Side(row[5]),
        order_type=OrderType(row[6]),
        time_in_force=TimeInForce(row[7]),
        quantity=Decimal(row[8]),
        limit_price=_opt_dec(row[9]),
        stop_price=_opt_dec(row[10]),
        status=OrderStatus(row[11]),
        filled=Decimal(row[12]),
        fill_value=Decimal(row[13]),
        n_fills=int(row[14]),
        triggered=bool(row[15]),
        session_end=None if row[16] is None else _ts(row[16]),
        ts_placed=_ts(row[17]),
        ts_updated=_ts(row[18]),
    )


@dataclass(slots=True)
class _Account:
    # an account's cash and positions while one transaction changes them
    cash: Decimal
    positions: dict[str, Decimal]
    dirty: set[str]
    cash_dirty: bool = False


class _Session:
    # the state one write transaction reads and changes: accounts, orders, events, the bar caps
    def __init__(self, broker: PaperBroker, db: StateDb, *, deliver: bool) -> None:
        self.broker = broker
        self.venue = broker.name
        self.db = db
        self.deliver = deliver
        self.accounts: dict[str, _Account | None] = {}
        self.events: list[OrderEvent] = []
        self.cap_used: dict[tuple[str, int], float] = {}

    def account(self, name: str) -> _Account | None:
        if name not in self.accounts:
            found = self.db.rows(
                "SELECT cash FROM {t}paper_accounts WHERE venue = ? AND account = ?", (self.venue, name)
            )
            if not found:
                self.accounts[name] = None
            else:
                rows = self.db.rows(
                    "SELECT symbol, quantity FROM {t}paper_positions WHERE venue = ? AND account = ?",
                    (self.venue, name),
                )
                self.accounts[name] = _Account(Decimal(found[0][0]), {s: Decimal(q) for s, q in rows}, set())
        return self.accounts[name]

    def emit(self, event: OrderEvent) -> None:
        self.db.run(
            "INSERT INTO {t}paper_events (venue, client_order_id, event, delivered) VALUES (?, ?, ?, ?)",
            (self.venue, event.client_order_id, json.dumps(event_to_dict(event)), self.deliver),
        )
        self.events.append(event)

    def save_order(self, w: _Working) -> None:
        if not w.dirty:
            return
        self.db.run(
            "UPDATE {t}paper_orders SET quantity = ?, limit_price = ?, stop_price = ?, status = ?, "
            "filled_quantity = ?, fill_value = ?, n_fills = ?, triggered = ?, session_end = ?, ts_updated = ? "
            "WHERE venue = ? AND client_order_id = ?",
            (
                str(w.quantity), _text(w.limit_price), _text(w.stop_price), w.status.value, str(w.filled),
                str(w.fill_value), w.n_fills, w.triggered,
                None if w.session_end is None else w.session_end.isoformat(), w.ts_updated.isoformat(),
                self.venue, w.client_order_id,
            ),
        )  # fmt: skip
        w.dirty = False

    def save_accounts(self) -> None:
        for name, acct in self.accounts.items():
            if acct is None:
                continue
            if acct.cash_dirty:
                self.db.run(
                    "UPDATE {t}paper_accounts SET cash = ? WHERE venue = ? AND account = ?",
                    (str(acct.cash), self.venue, name),
                )
            for symbol in sorted(acct.dirty):
                self.db.run(
                    "DELETE FROM {t}paper_positions WHERE venue = ? AND account = ? AND symbol = ?",
                    (self.venue, name, symbol),
                )
                q = acct.positions.get(symbol, Decimal(0))
                if q != 0:
                    self.db.run(
                        "INSERT INTO {t}paper_positions (venue, account, symbol, quantity) VALUES (?, ?, ?, ?)",
                        (self.venue, name, symbol, str(q)),
                    )
            acct.dirty.clear()
            acct.cash_dirty = False


class PaperBroker:
    """A broker that fills against the store's bars with the backtest engine's fill model.

    Parameters
    ----------
    store
        Where its tables live and whose bars (and their volumes) it fills against.
    fill_model
        The backtest's `FillModel` (default: ``FillModel()``): slippage, commission, the
        volume cap, the lot size, shorting and leverage. ``valid_bars`` does not apply (a
        paper order lives by its time in force).
    clock
        The broker's "now", a function returning a UTC timestamp. None: the time `advance`
        last stepped to (durable), or the wall clock before any `advance`.
    name
        The broker's name in the order manager's records, and its venue here: brokers of
        one name share accounts, orders and clock; another name is another venue (a
        replay of history, `bifrost.strategy.paper_trade`, runs on one of its own).
    adjustment
        The bars it fills against: ``raw`` (as traded, the default) or another
        `bifrost.data.Adjustment` (a paper run beside a backtest on adjusted bars).

    Notes
    -----
    The module's docstring states the fill rules. Times: an order is placed at
    ``max(clock(), processed_through)``: the bars already processed are past.
    """

    def __init__(
        self,
        store: Store,
        *,
        fill_model: FillModel | None = None,
        clock: Callable[[], pd.Timestamp] | None = None,
        name: str = "paper",
        adjustment: Adjustment = "raw",
    ) -> None:
        model = FillModel() if fill_model is None else fill_model
        if not isinstance(model, FillModel):
            raise InvalidInputError(f"fill_model must be a FillModel, got {type(fill_model).__name__}")
        if clock is not None and not callable(clock):
            raise InvalidInputError(f"clock must be a function returning a timestamp, got {type(clock).__name__}")
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"name must be a non-empty text, got {name!r}")
        if adjustment not in ("raw", "split_adjusted", "adjusted"):
            raise InvalidInputError(f"adjustment must be 'raw', 'split_adjusted' or 'adjusted', got {adjustment!r}")
        self.name = name
        self.store = store
        self.fill_model = model
        self._clock = clock
        self._adjustment: Adjustment = adjustment
        self._bars: dict[str, _Bars | None] = {}
        self._markers: dict[str, str] = {}
        self._advanced: pd.Timestamp | None = None
        self._polled = 0  # the last event seq this object returned from poll_events
        self._polled_durable = 0

    # -- transactions, time and bars ----------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[StateDb]:
        # one write of the broker's own: every change of its state is one of these
        with self.store.transaction(schema=PAPER_SCHEMA, lock=_LOCK) as db:
            db.before_commit(self._sync)
            yield db

    def _read(self) -> AbstractContextManager[StateDb]:
        return self.store.transaction(schema=PAPER_SCHEMA, read_only=True)

    def _now(self, db: StateDb) -> pd.Timestamp:
        processed = self._processed(db)
        if self._clock is not None:
            now = as_utc_timestamp(self._clock(), "the paper broker's clock()")
        elif processed is not None:
            now = processed
        else:
            now = pd.Timestamp.now(tz="UTC")
        return now if processed is None or now >= processed else processed

    def _processed(self, db: StateDb) -> pd.Timestamp | None:
        # the time the bars were processed to: the durable one, or this object's later advance
        found = db.rows("SELECT ts FROM {t}paper_clock WHERE venue = ?", (self.name,))
        durable = _ts(found[0][0]) if found else None
        if self._advanced is None or (durable is not None and durable >= self._advanced):
            return durable
        return self._advanced

    def _sync(self, db: StateDb) -> None:
        # what changed nothing but this object's memory is written with the next change (each
        # write transaction calls this): the events polled, and an advance over no working order
        if self._polled > self._polled_durable:
            db.run(
                "UPDATE {t}paper_events SET delivered = ? WHERE venue = ? AND delivered = ? AND seq <= ?",
                (True, self.name, False, self._polled),
            )
            self._polled_durable = self._polled
        found = db.rows("SELECT ts FROM {t}paper_clock WHERE venue = ?", (self.name,))
        if self._advanced is not None and (not found or _ts(found[0][0]) < self._advanced):
            db.run("DELETE FROM {t}paper_clock WHERE venue = ?", (self.name,))
            db.run("INSERT INTO {t}paper_clock (venue, ts) VALUES (?, ?)", (self.name, self._advanced.isoformat()))

    def _series(self, symbol: str, *, through: pd.Timestamp | None = None) -> _Bars | None:
        # the symbol's bars, read once; read again when the store took an ingest since, unless
        # the cached bars already reach `through`
        known = symbol in self._bars
        cached = self._bars.get(symbol)
        if cached is not None and through is not None and cached.ts.size and int(cached.ts[-1]) >= through.value:
            return cached
        marker = self.store.ingest_marker()
        if known and self._markers.get(symbol) == marker:
            return cached
        self._markers[symbol] = marker
        try:
            frame = self.store.read_bars(symbol, fields=list(_FIELDS), adjustment=self._adjustment)
        except SymbolNotFoundError:
            self._bars[symbol] = None
            return None
        ts = pd.DatetimeIndex(frame.index.get_level_values("ts")).as_unit("ns").asi8
        bars = _Bars(
            ts=np.asarray(ts, dtype=np.int64),
            open=frame["open"].to_numpy(dtype=np.float64),
            high=frame["high"].to_numpy(dtype=np.float64),
            low=frame["low"].to_numpy(dtype=np.float64),
            close=frame["close"].to_numpy(dtype=np.float64),
            volume=frame["volume"].to_numpy(dtype=np.float64),
        )
        self._bars[symbol] = bars
        return bars

    def _prepare(self, symbol: str, account: str | None) -> None:
        # the bars a change may fill against, read before its write transaction: the symbol's,
        # and with leverage or shorting those the accounts hold (the cash test marks them)
        self._series(symbol)
        if self.fill_model.leverage == 1.0 and not self.fill_model.allow_short:
            return
        with self._read() as db:
            where, params = (
                ("venue = ?", (self.name,)) if account is None else ("venue = ? AND account = ?", (self.name, account))
            )
            held = [r[0] for r in db.rows(f"SELECT DISTINCT symbol FROM {{t}}paper_positions WHERE {where}", params)]
        for other in held:
            if other not in self._bars:
                self._series(other)

    def _mark(self, symbol: str, before_ns: int) -> float | None:
        # the last close stamped before `before_ns` (the kernel marks positions at the close)
        bars = self._bars.get(symbol)
        if bars is None:
            return None
        i = int(np.searchsorted(bars.ts, before_ns, side="left")) - 1
        return float(bars.close[i]) if i >= 0 else None

    def _quote(self, db: StateDb, symbol: str, now: pd.Timestamp) -> tuple[float, float, pd.Timestamp] | None:
        # the live quote: at or before now, and no bar of the symbol stamped after it yet
        found = db.rows("SELECT bid, ask, ts FROM {t}paper_quotes WHERE venue = ? AND symbol = ?", (self.name, symbol))
        if not found:
            return None
        ts = _ts(found[0][2])
        if ts > now:
            return None
        bars = self._bars.get(symbol)
        if bars is not None:
            i = bars.current(now.value)
            if i is not None and bars.ts[i] > ts.value:
                return None
        return float(found[0][0]), float(found[0][1]), ts

    # -- accounts ---------------------------------------------------------------------------
    def open_account(
        self, account: str, *, cash: Decimal | float | int | str, positions: Mapping[str, object] | None = None
    ) -> None:
        """Open a paper account with ``cash`` and ``positions`` (signed shares by symbol).

        Raises
        ------
        InvalidInputError
            If the name is empty, ``cash`` is negative or not a finite number, or a position
            names a bad symbol or is not a finite number.
        BrokerError
            If the account is open already (an account is seeded once).
        """
        if not isinstance(account, str) or not account.strip():
            raise InvalidInputError(f"account must be a non-empty text, got {account!r}")
        money = as_bounded_decimal(cash, f"account {account!r}: cash")
        if money < 0:
            raise InvalidInputError(f"account {account!r}: cash must not be negative, got {money}")
        seeded: dict[str, Decimal] = {}
        for symbol, quantity in (positions or {}).items():
            check_symbol(symbol, f"account {account!r}: position symbol")
            q = as_bounded_decimal(quantity, f"account {account!r}: position in {symbol}")
            if q != 0:
                seeded[symbol] = q
        with self._write() as db:
            if db.rows("SELECT 1 FROM {t}paper_accounts WHERE venue = ? AND account = ?", (self.name, account)):
                raise BrokerError(f"the paper account {account!r} is open already")
            now = self._now(db)
            db.run(
                "INSERT INTO {t}paper_accounts (venue, account, cash, currency, ts_opened) VALUES (?, ?, ?, ?, ?)",
                (self.name, account, str(money), "USD", now.isoformat()),
            )
            db.many(
                "INSERT INTO {t}paper_positions (venue, account, symbol, quantity) VALUES (?, ?, ?, ?)",
                [(self.name, account, s, str(q)) for s, q in sorted(seeded.items())],
            )

    def has_account(self, account: str) -> bool:
        """Return True if the paper account ``account`` is open."""
        with self._read() as db:
            return bool(
                db.rows("SELECT 1 FROM {t}paper_accounts WHERE venue = ? AND account = ?", (self.name, account))
            )

    def positions(self, account: str) -> dict[str, Decimal]:
        """Return the account's positions in signed shares (flat symbols omitted; none for an unknown account)."""
        with self._read() as db:
            rows = db.rows(
                "SELECT symbol, quantity FROM {t}paper_positions WHERE venue = ? AND account = ? ORDER BY symbol",
                (self.name, account),
            )
        return {s: Decimal(q) for s, q in rows if Decimal(q) != 0}

    def account(self, account: str) -> BrokerAccount:
        """Return the account's cash, buying power and equity (positions at the last close at or before now).

        Raises
        ------
        BrokerError
            If no such account is open.
        """
        with self._read() as db:
            found = db.rows(
                "SELECT cash, currency FROM {t}paper_accounts WHERE venue = ? AND account = ?", (self.name, account)
            )
            if not found:
                raise BrokerError(f"no paper account {account!r} (open it with open_account)")
            rows = db.rows(
                "SELECT symbol, quantity FROM {t}paper_positions WHERE venue = ? AND account = ?", (self.name, account)
            )
            now = self._now(db)
        cash = Decimal(found[0][0])
        equity = cash
        gross = Decimal(0)
        for symbol, quantity in rows:
            bars = self._series(symbol, through=now)
            i = bars.current(now.value) if bars is not None else None
            if bars is None or i is None:
                continue
            value = Decimal(quantity) * _dec(float(bars.close[i]))
            equity += value
            gross += abs(value)
        model = self.fill_model
        if model.leverage == 1.0 and not model.allow_short:
            power = cash
        else:
            power = max(Decimal(repr(model.leverage)) * equity - gross, Decimal(0))
        return BrokerAccount(account=account, cash=cash, buying_power=power, equity=equity, currency=found[0][1])

    # -- orders -----------------------------------------------------------------------------
    def submit(self, order: Order) -> list[OrderEvent]:
        """Accept ``order`` and fill what can fill at once; return its events.

        A ``client_order_id`` the broker holds already returns that order's events (all of
        them, oldest first) and changes nothing. Refusals are `Rejected` events: no such
        account (``BROKER``), no bars nor quote of the symbol (``BROKER``), a quantity that
        is not a multiple of the fill model's lot (``BROKER``).
        """
        self._prepare(order.symbol, order.request.portfolio)
        with self._write() as db:
            return self._submit_in(db, order)

    def submit_many(self, orders: Sequence[Order]) -> list[list[OrderEvent]]:
        """Submit several orders in one transaction of the broker's own; return each one's events.

        As `submit` order by order, in the order given (an order sees the cash and positions
        the earlier ones left), but committed together: all of them are placed, or none.
        """
        for symbol, account in {(o.symbol, o.request.portfolio) for o in orders}:
            self._prepare(symbol, account)
        with self._write() as db:
            return [self._submit_in(db, order) for order in orders]

    def _submit_in(self, db: StateDb, order: Order) -> list[OrderEvent]:
        cid = order.client_order_id
        symbol = order.symbol
        if db.rows("SELECT 1 FROM {t}paper_orders WHERE venue = ? AND client_order_id = ?", (self.name, cid)):
            return self._events_of(db, cid)
        now = self._now(db)
        seq = int(db.rows("SELECT coalesce(max(seq), 0) FROM {t}paper_orders")[0][0]) + 1  # across venues
        w = _Working(
            client_order_id=cid, seq=seq, broker_order_id=f"{self.name}-{seq}", account=order.request.portfolio,
            symbol=symbol, side=order.side, order_type=order.order_type, time_in_force=order.time_in_force,
            quantity=order.quantity, limit_price=order.limit_price, stop_price=order.stop_price,
            status=OrderStatus.ACCEPTED, filled=Decimal(0), fill_value=Decimal(0), n_fills=0, triggered=False,
            session_end=None, ts_placed=now, ts_updated=now,
        )  # fmt: skip
        s = _Session(self, db, deliver=True)
        problem = self._refusal(s, w, now)
        if problem is not None:
            w.status = OrderStatus.REJECTED
        self._insert(db, w)
        if problem is not None:
            s.emit(Rejected(client_order_id=cid, ts=now, reason=RejectReason.BROKER, message=problem))
            return s.events
        s.emit(Accepted(client_order_id=cid, ts=now, broker_order_id=w.broker_order_id))
        self._at_once(s, w, now)
        s.save_order(w)
        s.save_accounts()
        return s.events

    def _refusal(self, s: _Session, w: _Working, now: pd.Timestamp) -> str | None:
        if s.account(w.account) is None:
            return f"no paper account {w.account!r}: the order manager opens it (open_account) before trading"
        if self._bars.get(w.symbol) is None and self._quote(s.db, w.symbol, now) is None:
            return f"the paper broker has no bars nor quote of {w.symbol!r} to fill against"
        lot = self.fill_model.lot_size
        if lot > 0 and self.fill_model.round_lot(float(w.quantity)) != float(w.quantity):
            return f"quantity {w.quantity} is not a multiple of the lot size {lot:g}"
        return None

    def _insert(self, db: StateDb, w: _Working) -> None:
        db.run(
            f"INSERT INTO {{t}}paper_orders (venue, {_ORDER_COLUMNS}) VALUES ({', '.join('?' * 20)})",
            (
                self.name,
                w.client_order_id, w.seq, w.broker_order_id, w.account, w.symbol, w.side.value, w.order_type.value,
                w.time_in_force.value, str(w.quantity), _text(w.limit_price), _text(w.stop_price), w.status.value,
                str(w.filled), str(w.fill_value), w.n_fills, w.triggered, None, w.ts_placed.isoformat(),
                w.ts_updated.isoformat(),
            ),
        )  # fmt: skip

    def _events_of(self, db: StateDb, cid: str) -> list[OrderEvent]:
        rows = db.rows(
            "SELECT event FROM {t}paper_events WHERE venue = ? AND client_order_id = ? ORDER BY seq", (self.name, cid)
        )
        return [event_from_dict(json.loads(r[0])) for r in rows]

    def _load(self, db: StateDb, cid: str) -> _Working | None:
        rows = db.rows(
            f"SELECT {_ORDER_COLUMNS} FROM {{t}}paper_orders WHERE venue = ? AND client_order_id = ?", (self.name, cid)
        )
        return _working_from_row(rows[0]) if rows else None

    def cancel(self, order: Order) -> list[OrderEvent]:
        """Cancel ``order`` at once: `Canceled`, or `CancelRejected` when it is not working here."""
        cid = order.client_order_id
        with self._write() as db:
            s = _Session(self, db, deliver=True)
            now = self._now(db)
            w = self._load(db, cid)
            if w is None or not w.working:
                why = "the paper broker has no such order" if w is None else f"the order is {w.status.value}"
                s.emit(CancelRejected(client_order_id=cid, ts=now, message=why))
                return s.events
            w.status = OrderStatus.CANCELED
            w.ts_updated = now
            w.dirty = True
            s.emit(Canceled(client_order_id=cid, ts=now, reason=CancelReason.REQUESTED))
            s.save_order(w)
            return s.events

    def replace(
        self,
        order: Order,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> list[OrderEvent]:
        """Change a working order's quantity (its new total) or prices; then fill what can fill at once.

        `ReplaceRejected` when the order is not working here, the quantity is not above what
        filled or not a multiple of the lot, or a price is given that its type does not use.
        """
        cid = order.client_order_id
        self._prepare(order.symbol, order.request.portfolio)
        with self._write() as db:
            s = _Session(self, db, deliver=True)
            now = self._now(db)
            w = self._load(db, cid)
            problem = self._replace_problem(w, quantity, limit_price, stop_price)
            if problem is not None or w is None:
                s.emit(ReplaceRejected(client_order_id=cid, ts=now, message=problem or "no such order"))
                return s.events
            w.quantity = quantity if quantity is not None else w.quantity
            w.limit_price = limit_price if limit_price is not None else w.limit_price
            w.stop_price = stop_price if stop_price is not None else w.stop_price
            w.ts_updated = now
            w.dirty = True
            s.emit(
                Replaced(
                    client_order_id=cid, ts=now, quantity=w.quantity, limit_price=w.limit_price,
                    stop_price=w.stop_price, broker_order_id=w.broker_order_id,
                )
            )  # fmt: skip
            self._at_once(s, w, now)
            s.save_order(w)
            s.save_accounts()
            return s.events

    def _replace_problem(
        self, w: _Working | None, quantity: Decimal | None, limit_price: Decimal | None, stop_price: Decimal | None
    ) -> str | None:
        if w is None:
            return "the paper broker has no such order"
        if not w.working:
            return f"the order is {w.status.value}"
        if quantity is not None:
            if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity <= w.filled:
                return f"the new quantity must be a finite Decimal above the {w.filled} filled, got {quantity!r}"
            if self.fill_model.lot_size > 0 and self.fill_model.round_lot(float(quantity)) != float(quantity):
                return f"quantity {quantity} is not a multiple of the lot size {self.fill_model.lot_size:g}"
        uses_limit = w.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        uses_stop = w.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        for name, value, used in (("limit_price", limit_price, uses_limit), ("stop_price", stop_price, uses_stop)):
            if value is None:
                continue
            if not used:
                return f"a {w.order_type.value} order has no {name}"
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                return f"{name} must be a positive finite Decimal, got {value!r}"
        return None

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """Return the broker's view of the order, or None: it never received it."""
        with self._read() as db:
            w = self._load(db, client_order_id)
        return None if w is None else self._view(w)

    def open_orders(self, account: str) -> list[BrokerOrder]:
        """Return the account's working orders, oldest first."""
        with self._read() as db:
            rows = db.rows(
                f"SELECT {_ORDER_COLUMNS} FROM {{t}}paper_orders WHERE venue = ? AND account = ? AND status IN (?, ?) "
                "ORDER BY seq",
                (self.name, account, *(s.value for s in _WORKING)),
            )
        return [self._view(_working_from_row(r)) for r in rows]

    @staticmethod
    def _view(w: _Working) -> BrokerOrder:
        return BrokerOrder(
            client_order_id=w.client_order_id, broker_order_id=w.broker_order_id, symbol=w.symbol, side=w.side,
            quantity=w.quantity, filled_quantity=w.filled, status=w.status,
            avg_fill_price=w.fill_value / w.filled if w.filled else None, ts_updated=w.ts_updated,
        )  # fmt: skip

    def fills(self, account: str, *, since: pd.Timestamp | None = None) -> list[BrokerFill]:
        """Return the account's fills (from ``since`` on, by fill time), oldest first."""
        start = None if since is None else as_utc_timestamp(since, "since")
        with self._read() as db:
            rows = db.rows(
                "SELECT client_order_id, trade_id, ts, symbol, side, quantity, price, commission, basis "
                "FROM {t}paper_fills WHERE venue = ? AND account = ? ORDER BY seq",
                (self.name, account),
            )
        out = [
            BrokerFill(
                client_order_id=r[0], trade_id=r[1], ts=_ts(r[2]), symbol=r[3], side=Side(r[4]),
                quantity=Decimal(r[5]), price=Decimal(r[6]), commission=Decimal(r[7]), basis=r[8],
            )
            for r in rows
        ]  # fmt: skip
        return out if start is None else [f for f in out if f.ts >= start]

    def poll_events(self) -> list[OrderEvent]:
        """Return the events `advance` and `quote` produced since the last poll, oldest first.

        This object returns each event once. Their delivery is made durable with the
        broker's next write, so after a restart of the caller an event may come again
        (the order manager skips a fill it applied already): at least once, never lost.
        """
        with self._read() as db:
            rows = db.rows(
                "SELECT seq, event FROM {t}paper_events WHERE venue = ? AND delivered = ? AND seq > ? ORDER BY seq",
                (self.name, False, self._polled),
            )
        if rows:
            self._polled = int(rows[-1][0])
        return [event_from_dict(json.loads(r[1])) for r in rows]

    # -- the market moves ---------------------------------------------------------------------
    def advance(self, ts: object) -> None:
        """Step the broker's market to ``ts``: fill working orders on the bars up to it, expire DAY orders.

        The events wait for `poll_events`. Without a ``clock``, ``ts`` is the broker's "now"
        from then on.

        Raises
        ------
        InvalidInputError
            If ``ts`` is not a timestamp, or is before the time the broker was advanced to.
        """
        upto = as_utc_timestamp(ts, "ts")
        while True:
            with self._read() as db:
                self._check_forward(db, upto)
                symbols = self._symbols_in_play(db)
            if not symbols:
                self._advanced = upto  # nothing works: only the time moves (durable with the next write)
                return
            for symbol in symbols:
                self._series(symbol, through=upto)
            with self._write() as db:
                processed = self._check_forward(db, upto)
                if not set(self._symbols_in_play(db)) <= set(self._bars):
                    continue  # an order on a new symbol arrived meanwhile: read its bars first
                s = _Session(self, db, deliver=False)
                self._run_bars(s, processed, upto)
                self._advanced = upto
                return

    def _check_forward(self, db: StateDb, upto: pd.Timestamp) -> pd.Timestamp | None:
        processed = self._processed(db)
        if processed is not None and upto < processed:
            raise InvalidInputError(
                f"ts {upto.isoformat()} is before {processed.isoformat()}, the time the paper broker was "
                "advanced to: its market only moves forward"
            )
        return processed

    def _symbols_in_play(self, db: StateDb) -> list[str]:
        # the symbols of working orders; with leverage or shorting, those held too (the cash
        # test marks them); none: nothing to process
        rows = db.rows(
            "SELECT DISTINCT symbol FROM {t}paper_orders WHERE venue = ? AND status IN (?, ?)",
            [self.name, *(s.value for s in _WORKING)],
        )
        symbols = {r[0] for r in rows}
        if symbols and (self.fill_model.leverage != 1.0 or self.fill_model.allow_short):
            symbols.update(
                r[0] for r in db.rows("SELECT DISTINCT symbol FROM {t}paper_positions WHERE venue = ?", (self.name,))
            )
        return sorted(symbols)

    def _working(self, db: StateDb, symbol: str | None = None) -> list[_Working]:
        where = "venue = ? AND status IN (?, ?)" + (" AND symbol = ?" if symbol is not None else "")
        params = (self.name, *(s.value for s in _WORKING), *((symbol,) if symbol is not None else ()))
        rows = db.rows(f"SELECT {_ORDER_COLUMNS} FROM {{t}}paper_orders WHERE {where} ORDER BY seq", params)
        return [_working_from_row(r) for r in rows]

    def _run_bars(self, s: _Session, processed: pd.Timestamp | None, upto: pd.Timestamp) -> None:
        working = self._working(s.db)
        if not working:
            return
        # the bars after the oldest working order was placed and after those processed already
        lo = min(w.ts_placed for w in working).value
        if processed is not None:
            lo = max(lo, processed.value)
        spans: dict[str, tuple[_Bars, int, int]] = {}
        for w in working:
            bars = self._bars.get(w.symbol)
            if bars is not None and w.symbol not in spans:
                i0 = int(np.searchsorted(bars.ts, lo, side="right"))
                i1 = int(np.searchsorted(bars.ts, upto.value, side="right"))
                spans[w.symbol] = (bars, i0, i1)
        times = np.unique(np.concatenate([b.ts[i0:i1] for b, i0, i1 in spans.values()] or [np.empty(0, np.int64)]))
        for t_ns in times:
            tb = pd.Timestamp(int(t_ns), tz="UTC")
            self._expire(s, working, tb)
            live = [w for w in working if w.working and w.ts_placed < tb and w.symbol in spans]
            done: set[str] = set()
            for phase in (0, 1):
                for w in live:
                    if w.client_order_id in done or not w.working:
                        continue
                    bars = spans[w.symbol][0]
                    i = int(np.searchsorted(bars.ts, t_ns))
                    if i >= bars.ts.size or bars.ts[i] != t_ns:
                        continue  # no bar of this symbol at this time: the order waits
                    if phase == 0 and not self._reducing(s, w):
                        continue
                    done.add(w.client_order_id)
                    self._on_bar(s, w, bars, i, tb)
        self._expire(s, working, upto)
        for w in working:
            s.save_order(w)
        s.save_accounts()

    def _reducing(self, s: _Session, w: _Working) -> bool:
        acct = s.account(w.account)
        pos = float(acct.positions.get(w.symbol, Decimal(0))) if acct is not None else 0.0
        q = w.sign * float(w.leaves)
        return pos != 0.0 and q * pos < 0.0 and abs(q) <= abs(pos) + _EPS

    @staticmethod
    def _expire(s: _Session, working: list[_Working], at: pd.Timestamp) -> None:
        for w in working:
            if w.working and w.session_end is not None and w.session_end <= at:
                w.status = OrderStatus.EXPIRED
                w.ts_updated = w.session_end
                w.dirty = True
                s.emit(Expired(client_order_id=w.client_order_id, ts=w.session_end))

    def _on_bar(self, s: _Session, w: _Working, bars: _Bars, i: int, tb: pd.Timestamp) -> None:
        o, h, lo = float(bars.open[i]), float(bars.high[i]), float(bars.low[i])
        if math.isnan(o) or math.isnan(h) or math.isnan(lo):
            return  # no prices on this bar: the order waits
        if w.time_in_force is TimeInForce.DAY and w.session_end is None:
            w.session_end = tb.normalize() + _DAY
            w.dirty = True
        model = self.fill_model
        px, triggered = model.fill_price(w.side, w.order_type, o, h, lo, w.limit(), w.stop(), w.triggered)
        if triggered != w.triggered:
            w.triggered = triggered
            w.dirty = True
        if math.isnan(px):
            return
        px = self._clamped(w, model.slipped(px, w.side, h, lo))
        basis: FillBasis = "next_open" if w.order_type is OrderType.MARKET else "bar_range"
        self._execute(s, w, px, tb, float(bars.volume[i]), basis, (w.symbol, int(bars.ts[i])))

    @staticmethod
    def _clamped(w: _Working, px: float) -> float:
        # a slipped price never passes a limit (the kernel's rule)
        if w.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            return min(px, w.limit()) if w.side is Side.BUY else max(px, w.limit())
        return px

    def _at_once(self, s: _Session, w: _Working, now: pd.Timestamp) -> None:
        # what fills when the order arrives or changes: IOC/FOK, a market order with no later
        # bar (or fill_at close), anything marketable at the live quote
        bars = self._bars.get(w.symbol)
        quote = self._quote(s.db, w.symbol, now)
        i = bars.current(now.value) if bars is not None else None
        model = self.fill_model
        immediate = w.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        if quote is not None:
            ref = quote[1] if w.side is Side.BUY else quote[0]
            px, triggered = model.fill_price(w.side, w.order_type, ref, ref, ref, w.limit(), w.stop(), w.triggered)
            w.triggered = triggered
            w.dirty = True
            if not math.isnan(px):  # a quote has no size: it fills in full (FOK too)
                self._execute(s, w, px, max(now, quote[2]), None, "quote", None)
        elif bars is not None and i is not None and (immediate or self._close_fill(w, bars, now)):
            c, h, lo = float(bars.close[i]), float(bars.high[i]), float(bars.low[i])
            px, triggered = model.fill_price(w.side, w.order_type, c, c, c, w.limit(), w.stop(), w.triggered)
            if not math.isnan(px):
                key = (w.symbol, int(bars.ts[i]))
                volume = float(bars.volume[i])
                if w.time_in_force is TimeInForce.FOK and self._cap(s, key, volume) < float(w.leaves):
                    px = math.nan  # the bar's volume cannot take it all
                else:
                    if w.time_in_force is TimeInForce.DAY and w.session_end is None:
                        w.session_end = pd.Timestamp(int(bars.ts[i]), tz="UTC").normalize() + _DAY
                    self._execute(s, w, self._clamped(w, model.slipped(px, w.side, h, lo)), now, volume,
                                  "last_close", key)  # fmt: skip
        if immediate and w.working:
            w.status = OrderStatus.CANCELED
            w.ts_updated = now
            w.dirty = True
            s.emit(Canceled(client_order_id=w.client_order_id, ts=now, reason=CancelReason.UNFILLED,
                            message=f"{w.time_in_force.value}: {w.leaves} could not fill at once"))  # fmt: skip

    def _close_fill(self, w: _Working, bars: _Bars, now: pd.Timestamp) -> bool:
        # a market order fills at the last close at once when no bar at or after now exists
        if w.order_type is not OrderType.MARKET:
            return False
        return self.fill_model.fill_at == "close" or int(bars.ts[-1]) < now.value

    def _cap(self, s: _Session, key: tuple[str, int], volume: float) -> float:
        # shares the bar's volume cap leaves (inf: no cap), the kernel's rounding
        vcap = self.fill_model.volume_cap
        if vcap is None:
            return math.inf
        cap = self.fill_model.round_lot(vcap * volume) if volume > 0.0 else 0.0
        return cap - s.cap_used.get(key, 0.0)

    def _execute(
        self,
        s: _Session,
        w: _Working,
        px: float,
        ts: pd.Timestamp,
        volume: float | None,
        basis: FillBasis,
        key: tuple[str, int] | None,
    ) -> None:
        # fill (part of) `w` at `px`, or refuse it for cash or shorting: the kernel's _execute
        model = self.fill_model
        q = model.round_lot(float(w.leaves))
        if q <= 0.0:
            return
        if key is not None and volume is not None:
            cap = self._cap(s, key, volume)
            if cap <= 0.0:
                return  # nothing may trade on this bar: the order waits
            q = min(q, cap)
        acct = s.account(w.account)
        if acct is None:
            return
        signed = w.sign * q
        prev = float(acct.positions.get(w.symbol, Decimal(0)))
        new = prev + signed
        if new < -_EPS and not model.allow_short:
            why = f"selling {q:g} {w.symbol} from {prev:g} would open a short; the fill model allows none"
            self._refuse(s, w, ts, RejectReason.SHORT_NOT_ALLOWED, why)
            return
        comm = model.commission_of(signed, px)
        cash = float(acct.cash)
        new_cash = cash - signed * px - comm
        if abs(new) > abs(prev) + _EPS or new * prev < 0.0:
            if model.leverage == 1.0 and not model.allow_short:
                ok = new_cash >= 0.0
            else:
                gross, equity = abs(new * px), new_cash + new * px
                for symbol, held in acct.positions.items():
                    mark = self._mark(symbol, ts.value) if symbol != w.symbol and held != 0 else None
                    if mark is not None:
                        gross += abs(float(held) * mark)
                        equity += float(held) * mark
                ok = gross <= model.leverage * equity
            if not ok:
                self._refuse(s, w, ts, RejectReason.INSUFFICIENT_CASH,
                             f"{q:g} {w.symbol} at {px!r} with {comm!r} commission costs more than the cash "
                             f"{acct.cash}")  # fmt: skip
                return
        quantity = w.leaves if q == float(w.leaves) else _dec(q)
        price = _dec(px)
        commission = _dec(comm)
        acct.cash -= (quantity if w.side is Side.BUY else -quantity) * price + commission
        acct.cash_dirty = True
        acct.positions[w.symbol] = acct.positions.get(w.symbol, Decimal(0)) + (
            quantity if w.side is Side.BUY else -quantity
        )
        acct.dirty.add(w.symbol)
        if key is not None and volume is not None and model.volume_cap is not None:
            s.cap_used[key] = s.cap_used.get(key, 0.0) + q
        w.n_fills += 1
        trade_id = f"{w.broker_order_id}-{w.n_fills}-{basis}"
        w.filled += quantity
        w.fill_value += quantity * price
        w.status = OrderStatus.FILLED if w.filled >= w.quantity else OrderStatus.PARTIALLY_FILLED
        w.ts_updated = ts
        w.dirty = True
        s.db.run(
            "INSERT INTO {t}paper_fills (venue, account, client_order_id, trade_id, ts, symbol, side, quantity, price, "
            "commission, basis) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.name, w.account, w.client_order_id, trade_id, ts.isoformat(), w.symbol, w.side.value,
             str(quantity), str(price), str(commission), basis),
        )  # fmt: skip
        s.emit(Filled(client_order_id=w.client_order_id, ts=ts, trade_id=trade_id, quantity=quantity, price=price,
                      commission=commission))  # fmt: skip

    @staticmethod
    def _refuse(s: _Session, w: _Working, ts: pd.Timestamp, reason: RejectReason, message: str) -> None:
        # the kernel rejects the order; one partly filled already can only end canceled
        w.ts_updated = ts
        w.dirty = True
        if w.filled == 0:
            w.status = OrderStatus.REJECTED
            s.emit(Rejected(client_order_id=w.client_order_id, ts=ts, reason=reason, message=message))
        else:
            w.status = OrderStatus.CANCELED
            s.emit(Canceled(client_order_id=w.client_order_id, ts=ts, reason=CancelReason.BROKER,
                            message=f"{reason.value}: {message}"))  # fmt: skip

    def quote(self, symbol: str, bid: object, ask: object, ts: object | None = None) -> None:
        """Record a live quote of ``symbol``; working orders marketable at it fill there (basis ``quote``).

        ``ts`` defaults to the broker's now. The events wait for `poll_events`.

        Raises
        ------
        InvalidInputError
            If the symbol is malformed, a price is not a plausible positive price, or ``bid > ask``.
        """
        check_symbol(symbol)
        b = as_price(bid, "bid")
        a = as_price(ask, "ask")
        if b > a:
            raise InvalidInputError(f"quote of {symbol}: bid {b!r} is above ask {a!r}")
        at = None if ts is None else as_utc_timestamp(ts, "ts")
        self._prepare(symbol, None)
        with self._write() as db:
            when = at if at is not None else self._now(db)
            db.run("DELETE FROM {t}paper_quotes WHERE venue = ? AND symbol = ?", (self.name, symbol))
            db.run(
                "INSERT INTO {t}paper_quotes (venue, symbol, bid, ask, ts) VALUES (?, ?, ?, ?, ?)",
                (self.name, symbol, repr(b), repr(a), when.isoformat()),
            )
            s = _Session(self, db, deliver=False)
            for w in self._working(db, symbol):
                if w.ts_placed <= when:
                    self._at_once(s, w, max(when, w.ts_placed))
                    s.save_order(w)
            s.save_accounts()
