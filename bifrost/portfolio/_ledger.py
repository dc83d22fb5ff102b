"""The append-only transaction ledger; positions, cash and P&L are derived from it."""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, assert_never

import pandas as pd

from bifrost._checks import DECIMAL_MAX, PRICE_MAX, PRICE_MIN, quote, symbol_problem
from bifrost.data._validate import SPLIT_MAX, SPLIT_MIN
from bifrost.errors import InvalidInputError, TransactionRejected
from bifrost.portfolio._transactions import ZERO, CashFlow, CashKind, Dividend, Fill, Side, Split, Transaction, to_utc

__all__ = ["CostBasis", "Ledger", "Position"]

CostBasis = Literal["average", "fifo"]

# the market's bounds on an entry (see `bifrost._checks`): a price no market quotes, a
# commission of 1e12 on a $100 trade or a 1,000,000-for-1 split is refused, never booked
_PRICE_LO, _PRICE_HI = Decimal(str(PRICE_MIN)), Decimal(str(PRICE_MAX))
_SPLIT_LO, _SPLIT_HI = Decimal(str(SPLIT_MIN)), Decimal(str(SPLIT_MAX))
CHARGE_ALLOWANCE = Decimal(10_000)  # room above the traded value for a per-fill minimum or fixed charge
FUTURE_GRACE = pd.Timedelta(days=1)  # an entry dated after now + 1 day is refused


@dataclass(slots=True)
class _Lot:
    quantity: Decimal  # signed: negative for a short lot
    price: Decimal
    ts: pd.Timestamp


@dataclass(slots=True)
class _Book:
    lots: deque[_Lot] = field(default_factory=deque)
    realized: Decimal = ZERO
    dividends: Decimal = ZERO

    @property
    def quantity(self) -> Decimal:
        return sum((lot.quantity for lot in self.lots), ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((lot.quantity * lot.price for lot in self.lots), ZERO)


@dataclass(slots=True)
class _State:
    books: dict[str, _Book] = field(default_factory=dict)
    cash: Decimal = ZERO
    deposits: Decimal = ZERO
    withdrawals: Decimal = ZERO
    commissions: Decimal = ZERO
    fees: Decimal = ZERO
    interest: Decimal = ZERO
    last_ts: pd.Timestamp | None = None
    realized_by_txn: dict[str, Decimal] = field(default_factory=dict)  # closing fills only
    dividend_by_txn: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # shares held, amount
    last_price: dict[str, Decimal] = field(default_factory=dict)  # by symbol, split-adjusted


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """One symbol's holding, derived from the ledger."""

    symbol: str
    quantity: Decimal
    cost_basis: Decimal  # signed: quantity × entry price, summed over open lots
    realized_pnl: Decimal
    dividends: Decimal

    @property
    def avg_price(self) -> Decimal | None:
        """Average entry price of the open quantity; None when flat."""
        return None if self.quantity == 0 else self.cost_basis / self.quantity

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """P&L of the open quantity if marked at ``mark``."""
        return self.quantity * mark - self.cost_basis


def check_portfolio_name(name: object) -> str:
    """Return ``name`` if it can name a portfolio: printable text of 1-256 characters.

    The name is a key in the state tables of both backends (PostgreSQL text holds no NUL).

    Raises
    ------
    InvalidInputError
        Quoting the name (capped).
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 256 or not name.isprintable():
        raise InvalidInputError(f"a portfolio name must be printable text of 1-256 characters, got {quote(name)}")
    return name


class Ledger:
    """A named portfolio: an append-only list of transactions and what follows from them.

    Parameters
    ----------
    name
        The portfolio's name.
    inception
        No transaction may be dated before it.
    cost_basis
        ``fifo`` (closing trades consume the oldest lots first) or ``average``.
    long_only
        Refuse a sell of more than is held.
    symbols
        When given, the tradable universe: a transaction on another symbol is refused.

    Notes
    -----
    Trading P&L is gross (price × quantity); commissions, fees, dividends and interest are
    kept apart, so that at any time::

        equity - deposits + withdrawals
            == realized + unrealized + dividends + interest - commissions - fees
    """

    def __init__(
        self,
        name: str,
        *,
        inception: object,
        cost_basis: CostBasis = "fifo",
        long_only: bool = False,
        symbols: Collection[str] | None = None,
        base_currency: str = "USD",
    ) -> None:
        if cost_basis not in ("fifo", "average"):
            raise InvalidInputError(f"cost_basis must be 'fifo' or 'average', got {cost_basis!r}")
        self.name = check_portfolio_name(name)
        self.inception = to_utc(inception, "inception")
        self.cost_basis: CostBasis = cost_basis
        self.long_only = long_only
        self.symbols = None if symbols is None else frozenset(symbols)
        self.base_currency = base_currency
        self._transactions: list[Transaction] = []
        self._ids: set[str] = set()
        self._state = _State()

    # -- changing it -------------------------------------------------------------------------
    def append(self, txn: Transaction) -> None:
        """Check ``txn`` and apply it; raise `TransactionRejected` (changing nothing) if invalid."""
        self._check(txn, self._state, self._ids)
        self._apply(txn, self._state)
        self._transactions.append(txn)
        self._ids.add(txn.txn_id)

    def extend(self, txns: Iterable[Transaction]) -> None:
        """Append several transactions, all or none."""
        state = copy.deepcopy(self._state)
        ids = set(self._ids)
        added: list[Transaction] = []
        for txn in txns:
            self._check(txn, state, ids)
            self._apply(txn, state)
            ids.add(txn.txn_id)
            added.append(txn)
        self._state, self._ids = state, ids
        self._transactions.extend(added)

    @classmethod
    def replay(cls, name: str, transactions: Iterable[Transaction], **config: object) -> Ledger:
        """Rebuild a ledger from its transactions (the state is a pure function of them)."""
        ledger = cls(name, **config)  # type: ignore[arg-type]
        ledger.extend(transactions)
        return ledger

    # -- reading it ----------------------------------------------------------------------------
    @property
    def transactions(self) -> tuple[Transaction, ...]:
        """Every transaction, in the order applied."""
        return tuple(self._transactions)

    @property
    def cash(self) -> Decimal:
        """Cash balance (negative when borrowing)."""
        return self._state.cash

    def position(self, symbol: str) -> Position:
        """The holding in ``symbol`` (zero if never traded)."""
        book = self._state.books.get(symbol, _Book())
        return Position(
            symbol=symbol,
            quantity=book.quantity,
            cost_basis=book.cost,
            realized_pnl=book.realized,
            dividends=book.dividends,
        )

    def dividends_frame(self) -> pd.DataFrame:
        """Every dividend entry as a table (floats, for display), in ledger order.

        Columns: ``txn_id, ts`` (the ex-date), ``symbol, per_share, shares`` (held at the
        close before the ex-date; negative when short), ``amount`` (``per_share × shares``,
        what the cash received; negative when paid), ``origin`` (``recorded`` or ``store``).
        """
        rows = []
        for t in self._transactions:
            if isinstance(t, Dividend):
                shares, amount = self._state.dividend_by_txn[t.txn_id]
                rows.append(
                    {
                        "txn_id": t.txn_id,
                        "ts": t.ts,
                        "symbol": t.symbol,
                        "per_share": float(t.per_share),
                        "shares": float(shares),
                        "amount": float(amount),
                        "origin": t.origin,
                    }
                )
        columns = ["txn_id", "ts", "symbol", "per_share", "shares", "amount", "origin"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        return frame

    def realized_by_transaction(self) -> dict[str, Decimal]:
        """Realized P&L of each fill that closed (part of) a position, by transaction id."""
        return dict(self._state.realized_by_txn)

    def positions(self) -> list[Position]:
        """Every symbol ever traded, open or closed, by symbol."""
        return [self.position(s) for s in sorted(self._state.books)]

    def totals(self) -> dict[str, Decimal]:
        """Cash, flows and P&L components of the whole portfolio."""
        s = self._state
        return {
            "cash": s.cash,
            "deposits": s.deposits,
            "withdrawals": s.withdrawals,
            "realized_pnl": sum((b.realized for b in s.books.values()), ZERO),
            "dividends": sum((b.dividends for b in s.books.values()), ZERO),
            "interest": s.interest,
            "commissions": s.commissions,
            "fees": s.fees,
        }

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus open positions marked at ``marks`` (a price for every open symbol)."""
        value = self._state.cash
        for symbol, book in self._state.books.items():
            quantity = book.quantity
            if quantity:
                if symbol not in marks:
                    raise InvalidInputError(f"portfolio {self.name}: no mark for open position {symbol}")
                value += quantity * marks[symbol]
        return value

    def unrealized_pnl(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Open positions' P&L at ``marks``."""
        return sum((p.unrealized_pnl(marks[p.symbol]) for p in self.positions() if p.quantity), ZERO)

    def positions_frame(self) -> pd.DataFrame:
        """Positions as a table (floats, for display)."""
        rows = [
            {
                "symbol": p.symbol,
                "quantity": float(p.quantity),
                "avg_price": float(p.avg_price or 0),
                "cost_basis": float(p.cost_basis),
                "realized_pnl": float(p.realized_pnl),
                "dividends": float(p.dividends),
            }
            for p in self.positions()
        ]
        return pd.DataFrame(
            rows, columns=["symbol", "quantity", "avg_price", "cost_basis", "realized_pnl", "dividends"]
        )

    def _repr_html_(self) -> str:
        t = self.totals()
        head = (
            f"<p><b>{self.name}</b>: {len(self._transactions)} transactions, cash {t['cash']:,.2f} "
            f"{self.base_currency}, realized P&amp;L {t['realized_pnl']:,.2f}</p>"
        )
        return head + self.positions_frame().to_html(index=False)

    # -- rules -----------------------------------------------------------------------------------
    def _reject(self, txn: Transaction, why: str) -> TransactionRejected:
        what = type(txn).__name__
        if isinstance(txn, Fill):
            what = f"{txn.side.value} {txn.quantity} {txn.symbol}"
        return TransactionRejected(f"portfolio {self.name}: transaction {txn.txn_id!r} ({what} on {txn.ts}): {why}")

    def _check(self, txn: Transaction, state: _State, ids: set[str]) -> None:
        if not txn.txn_id:
            raise self._reject(txn, "has no transaction id")
        if txn.txn_id in ids:
            raise self._reject(txn, "duplicate transaction id")
        if not isinstance(txn.ts, pd.Timestamp) or txn.ts.tzinfo is None:
            raise self._reject(txn, "ts must be a timezone-aware pandas Timestamp")
        if txn.ts < self.inception:
            raise self._reject(txn, f"dated before the portfolio's inception {self.inception}")
        if txn.ts > pd.Timestamp.now(tz="UTC") + FUTURE_GRACE:
            raise self._reject(txn, "dated in the future (after now + 1 day); record a transaction once it happened")
        if state.last_ts is not None and txn.ts < state.last_ts:
            raise self._reject(
                txn, f"dated before the latest transaction ({state.last_ts}); the ledger is chronological"
            )
        if getattr(txn, "currency", self.base_currency) != self.base_currency:
            raise self._reject(txn, f"currency {txn.currency} is not the base currency {self.base_currency}")  # type: ignore[union-attr]
        if isinstance(txn, Fill | Dividend | Split) and (problem := symbol_problem(txn.symbol)):
            raise self._reject(txn, f"invalid symbol: {problem}")
        if isinstance(txn, Fill | Dividend | Split) and self.symbols is not None and txn.symbol not in self.symbols:
            raise self._reject(txn, f"unknown symbol {txn.symbol!r}")
        match txn:
            case Fill():
                _positive(self, txn, "quantity", txn.quantity)
                _positive(self, txn, "price", txn.price)
                _non_negative(self, txn, "commission", txn.commission)
                _non_negative(self, txn, "fees", txn.fees)
                if not _PRICE_LO <= txn.price <= _PRICE_HI:
                    raise self._reject(
                        txn, f"price must be within [{PRICE_MIN:g}, {PRICE_MAX:g}] per share, got {quote(txn.price)}"
                    )
                value = txn.quantity * txn.price
                for name, charge in (("commission", txn.commission), ("fees", txn.fees)):
                    if charge > value + CHARGE_ALLOWANCE:
                        raise self._reject(
                            txn,
                            f"{name} {charge} exceeds the traded value {value} (quantity × price) plus "
                            f"{CHARGE_ALLOWANCE}; a charge is at most that",
                        )
                if self.long_only and txn.side is Side.SELL:
                    held = state.books[txn.symbol].quantity if txn.symbol in state.books else ZERO
                    if txn.quantity > held:
                        raise self._reject(txn, f"sells {txn.quantity} but holds {held} in a long-only portfolio")
            case CashFlow():
                _positive(self, txn, "amount", txn.amount)
            case Dividend():
                if txn.origin not in ("recorded", "store"):
                    raise self._reject(txn, f"origin must be 'recorded' or 'store', got {quote(txn.origin)}")
                _positive(self, txn, "per_share", txn.per_share)
                if not _PRICE_LO <= txn.per_share <= _PRICE_HI:
                    raise self._reject(
                        txn,
                        f"per_share must be within [{PRICE_MIN:g}, {PRICE_MAX:g}], got {quote(txn.per_share)}",
                    )
                last = state.last_price.get(txn.symbol)
                if last is not None and txn.per_share >= last:
                    raise self._reject(
                        txn,
                        f"per_share {txn.per_share} is not below the last trade price {last} of {txn.symbol}; "
                        "a dividend is a fraction of the share's price",
                    )
            case Split():
                _positive(self, txn, "ratio", txn.ratio)
                if txn.ratio == 1:
                    raise self._reject(txn, "a split ratio of 1 changes nothing")
                if not _SPLIT_LO <= txn.ratio <= _SPLIT_HI:
                    raise self._reject(
                        txn,
                        f"a split ratio must be within [{SPLIT_MIN:g}, {SPLIT_MAX:g}] new shares per old share, "
                        f"got {quote(txn.ratio)}",
                    )
            case _:
                assert_never(txn)

    def _apply(self, txn: Transaction, state: _State) -> None:
        # every check has passed: nothing here can fail
        state.last_ts = txn.ts
        match txn:
            case Fill():
                book = state.books.setdefault(txn.symbol, _Book())
                signed = txn.quantity if txn.side is Side.BUY else -txn.quantity
                closed = _trade(book.lots, signed, txn.price, txn.ts, average=self.cost_basis == "average")
                if closed is not None:
                    book.realized += closed
                    state.realized_by_txn[txn.txn_id] = closed
                state.cash -= signed * txn.price + txn.commission + txn.fees
                state.last_price[txn.symbol] = txn.price
                state.commissions += txn.commission
                state.fees += txn.fees
            case CashFlow():
                sign = 1 if txn.kind in (CashKind.DEPOSIT, CashKind.INTEREST) else -1
                state.cash += sign * txn.amount
                if txn.kind is CashKind.DEPOSIT:
                    state.deposits += txn.amount
                elif txn.kind is CashKind.WITHDRAWAL:
                    state.withdrawals += txn.amount
                elif txn.kind is CashKind.FEE:
                    state.fees += txn.amount
                else:
                    state.interest += txn.amount
            case Dividend():
                book = state.books.setdefault(txn.symbol, _Book())
                held = book.quantity
                amount = held * txn.per_share  # a short position pays it
                book.dividends += amount
                state.cash += amount
                state.dividend_by_txn[txn.txn_id] = (held, amount)
            case Split():
                for lot in state.books.get(txn.symbol, _Book()).lots:
                    lot.quantity *= txn.ratio
                    lot.price /= txn.ratio
                if txn.symbol in state.last_price:
                    state.last_price[txn.symbol] /= txn.ratio
            case _:
                assert_never(txn)


def _trade(lots: deque[_Lot], signed: Decimal, price: Decimal, ts: pd.Timestamp, *, average: bool) -> Decimal | None:
    # close opposite-signed lots first (oldest first), then open the remainder; return the
    # realized P&L (closed quantity × (exit − entry), signed by the lot), None if nothing closed
    realized: Decimal | None = None
    remaining = signed
    while remaining and lots and (lots[0].quantity > 0) != (remaining > 0):
        lot = lots[0]
        closed = min(abs(remaining), abs(lot.quantity)) * (1 if lot.quantity > 0 else -1)
        realized = (realized or ZERO) + closed * (price - lot.price)
        lot.quantity -= closed
        remaining += closed
        if lot.quantity == 0:
            lots.popleft()
    if remaining:
        if average and lots:
            lot = lots[0]
            total = lot.quantity + remaining
            lot.price = (lot.quantity * lot.price + remaining * price) / total
            lot.quantity = total
        else:
            lots.append(_Lot(quantity=remaining, price=price, ts=ts))
    return realized


def _positive(ledger: Ledger, txn: Transaction, name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0 or value > DECIMAL_MAX:
        raise ledger._reject(txn, f"{name} must be a positive finite Decimal of at most 1e15, got {quote(value)}")


def _non_negative(ledger: Ledger, txn: Transaction, name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0 or value > DECIMAL_MAX:
        raise ledger._reject(txn, f"{name} must be a non-negative finite Decimal of at most 1e15, got {quote(value)}")
