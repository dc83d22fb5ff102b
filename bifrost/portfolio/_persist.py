"""Portfolios in the store's transactional part: the embedded SQLite or PostgreSQL.

A portfolio is stored as its configuration and its transactions (Decimals as text, so
they round-trip exactly); positions and P&L are always rebuilt by replaying them.
Recording checks every new transaction by replaying the whole ledger inside one database
transaction, under a writer lock, and stores all of them or none.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

from bifrost.data import StateDb, Store
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.portfolio._dividends import check_store_dividends, extend_with_store_dividends, merge_store_dividends
from bifrost.portfolio._ledger import CostBasis, Ledger, check_portfolio_name
from bifrost.portfolio._schema import PORTFOLIO_SCHEMA
from bifrost.portfolio._transactions import CashFlow, CashKind, Dividend, Fill, Side, Split, Transaction, to_utc

__all__ = [
    "append_in_transaction",
    "create_portfolio",
    "list_portfolios",
    "load_portfolio",
    "portfolios_marker",
    "record_transactions",
]

_COLUMNS = (
    "portfolio",
    "seq",
    "txn_id",
    "ts",
    "kind",
    "symbol",
    "side",
    "quantity",
    "price",
    "commission",
    "fees",
    "amount",
    "per_share",
    "ratio",
    "pay_date",
    "currency",
)


def _insert_portfolio(db: StateDb, ledger: Ledger) -> None:
    if db.rows("SELECT 1 FROM {t}portfolios WHERE name = ?", (ledger.name,)):
        raise InvalidInputError(f"portfolio {ledger.name!r} already exists")
    db.run(
        "INSERT INTO {t}portfolios (name, inception, cost_basis, long_only, base_currency) VALUES (?, ?, ?, ?, ?)",
        (ledger.name, ledger.inception.isoformat(), ledger.cost_basis, ledger.long_only, ledger.base_currency),
    )


def create_portfolio(
    store: Store,
    name: str,
    *,
    inception: object,
    cost_basis: CostBasis = "fifo",
    long_only: bool = False,
    base_currency: str = "USD",
) -> Ledger:
    """Create an empty named portfolio; raise InvalidInputError if the name is taken."""
    ledger = Ledger(name, inception=inception, cost_basis=cost_basis, long_only=long_only, base_currency=base_currency)
    with store.transaction(schema=PORTFOLIO_SCHEMA, lock=f"portfolio:{name}") as db:
        _insert_portfolio(db, ledger)
    return ledger


def load_portfolio(store: Store, name: str, *, store_dividends: bool = True) -> Ledger:
    """Rebuild a portfolio by replaying its stored transactions.

    Parameters
    ----------
    store
        The store that holds the portfolio and the bars it is valued against.
    name
        The portfolio's name.
    store_dividends
        Credit the store's dividends of the symbols it held (see `with_store_dividends`:
        on the ex-date, per share × the shares held at the close before it, shorts pay,
        a dividend recorded on the same symbol and ex-date replaces the store's). They are
        entries of the returned ledger (``origin="store"``), never of the stored one.
        False: the recorded transactions only.

    Raises
    ------
    NotFoundError
        If the store holds no portfolio ``name`` (the message lists those it holds).
    InvalidInputError
        If ``store_dividends`` is not a bool.
    TransactionRejected
        If the ledger refuses a store dividend (see `with_store_dividends`).
    """
    check_portfolio_name(name)  # before it reaches a query: PostgreSQL refuses a NUL with a DataError
    check_store_dividends(store_dividends)
    with store.transaction(schema=PORTFOLIO_SCHEMA, read_only=True) as db:
        ledger, transactions = _recorded(db, name)
    if not store_dividends:
        ledger.extend(transactions)
        return ledger
    merged = merge_store_dividends(name, transactions, store, inception=ledger.inception, currency=ledger.base_currency)
    extend_with_store_dividends(ledger, merged)
    return ledger


def require_portfolio(db: StateDb, name: str) -> None:
    """Raise `NotFoundError` (listing the stored portfolios) unless ``db`` holds portfolio ``name``.

    For packages that keep tables beside a portfolio's (risk limits, orders): call it inside
    the transaction that reads or writes them.
    """
    if not db.rows("SELECT 1 FROM {t}portfolios WHERE name = ?", (name,)):
        raise _not_found(db, name)


def _not_found(db: StateDb, name: str) -> NotFoundError:
    known = [r[0] for r in db.rows("SELECT name FROM {t}portfolios ORDER BY name")]
    shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
    return NotFoundError(f"no portfolio {name!r} in the store (portfolios: {shown or 'none yet'})")


def _load(db: StateDb, name: str) -> Ledger:
    ledger, transactions = _recorded(db, name)
    ledger.extend(transactions)
    return ledger


def _recorded(db: StateDb, name: str) -> tuple[Ledger, list[Transaction]]:
    # the empty ledger as configured, and its stored transactions in order
    found = db.rows("SELECT inception, cost_basis, long_only, base_currency FROM {t}portfolios WHERE name = ?", (name,))
    if not found:
        raise _not_found(db, name)
    inception, cost_basis, long_only, currency = found[0]
    ledger = Ledger(
        name,
        inception=inception,
        cost_basis=cost_basis,
        long_only=bool(long_only),
        symbols={r[0] for r in db.rows("SELECT symbol FROM {t}symbols")},  # same transaction
        base_currency=currency,
    )
    rows = db.rows(f"SELECT {', '.join(_COLUMNS)} FROM {{t}}transactions WHERE portfolio = ? ORDER BY seq", (name,))
    return ledger, [_from_row(dict(zip(_COLUMNS, row, strict=True))) for row in rows]


def record_transactions(
    store: Store,
    name: str,
    transactions: Sequence[Transaction],
    *,
    create: bool = False,
    cost_basis: CostBasis = "fifo",
    long_only: bool = False,
) -> Ledger:
    """Append ``transactions`` to a stored portfolio, all or none; return the updated ledger.

    With ``create=True`` a missing portfolio is created (inception: the earliest
    transaction's date, with ``cost_basis`` and ``long_only``) in the same database
    transaction, so a rejected import leaves no portfolio behind.

    The returned ledger holds the recorded transactions only (`load_portfolio` credits the
    store's dividends). A `Dividend` is stored as recorded whatever its ``origin``: a store
    dividend recorded this way then replaces the store's on its ex-date, never doubles it.

    Raises
    ------
    TransactionRejected
        If any transaction is invalid given everything before it (nothing is stored).
    NotFoundError
        If there is no portfolio ``name`` and ``create`` is False.
    """
    check_portfolio_name(name)
    with store.transaction(schema=PORTFOLIO_SCHEMA, lock=f"portfolio:{name}") as db:
        if create and transactions and not db.rows("SELECT 1 FROM {t}portfolios WHERE name = ?", (name,)):
            inception = min(t.ts for t in transactions).normalize()
            _insert_portfolio(db, Ledger(name, inception=inception, cost_basis=cost_basis, long_only=long_only))
        ledger = _load(db, name)
        start = len(ledger.transactions)
        ledger.extend(transactions)
        db.many(
            f"INSERT INTO {{t}}transactions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            [_to_row(name, start + i, txn) for i, txn in enumerate(transactions)],
        )
    return ledger


def append_in_transaction(
    db: StateDb, name: str, transactions: Sequence[Transaction], *, ledger: Ledger | None
) -> Ledger:
    """Append ``transactions`` to stored portfolio ``name`` inside the caller's write transaction.

    For a writer that records one fill at a time (the order manager) and must not replay
    the whole ledger per fill: ``ledger`` is the caller's copy of the recorded ledger (as
    `record_transactions` or this function returned it; None: load it). It is used as it
    is when the store's newest entry of the portfolio is the ledger's newest (the same
    count and the same last transaction id: one indexed lookup), and reloaded from ``db``
    otherwise (another process appended, or the caller's last transaction rolled back).
    The entries are checked and applied (all or none) before any row is written; what
    this returns is valid once ``db`` commits (keep the returned ledger only then).

    Returns
    -------
    Ledger
        The recorded ledger with ``transactions`` appended (``ledger`` itself when current).

    Raises
    ------
    TransactionRejected
        If any transaction is invalid given everything before it (nothing is written, and
        ``ledger`` is unchanged).
    NotFoundError
        If there is no portfolio ``name``.
    """
    if db.read_only:
        raise InvalidInputError("append_in_transaction needs a write transaction")
    last = db.rows("SELECT seq, txn_id FROM {t}transactions WHERE portfolio = ? ORDER BY seq DESC LIMIT 1", (name,))
    stored = (int(last[0][0]) + 1, str(last[0][1])) if last else (0, None)
    if ledger is None or ledger.name != name or _newest(ledger) != stored:
        ledger = _load(db, name)
    start = len(ledger.transactions)
    if len(transactions) == 1:
        ledger.append(transactions[0])  # checked, then applied: no copy of the ledger's state
    else:
        ledger.extend(transactions)
    db.many(
        f"INSERT INTO {{t}}transactions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
        [_to_row(name, start + i, txn) for i, txn in enumerate(transactions)],
    )
    return ledger


def _newest(ledger: Ledger) -> tuple[int, str | None]:
    txns = ledger.transactions
    return (len(txns), txns[-1].txn_id if txns else None)


def list_portfolios(store: Store) -> pd.DataFrame:
    """One row per portfolio: name, inception, cost_basis, long_only, transactions."""
    with store.transaction(schema=PORTFOLIO_SCHEMA, read_only=True) as db:
        rows = db.rows(
            "SELECT p.name, p.inception, p.cost_basis, p.long_only, count(t.txn_id) FROM {t}portfolios p "
            "LEFT JOIN {t}transactions t ON t.portfolio = p.name "
            "GROUP BY p.name, p.inception, p.cost_basis, p.long_only ORDER BY p.name"
        )
    frame = pd.DataFrame(rows, columns=["name", "inception", "cost_basis", "long_only", "transactions"])
    frame["inception"] = pd.to_datetime(frame["inception"], utc=True)
    frame["long_only"] = frame["long_only"].astype(bool)
    return frame


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _to_row(name: str, seq: int, txn: Transaction) -> tuple[object, ...]:
    row: dict[str, object] = {"portfolio": name, "seq": seq, "txn_id": txn.txn_id, "ts": txn.ts.isoformat()}
    match txn:
        case Fill():
            row |= {
                "kind": "fill",
                "symbol": txn.symbol,
                "side": txn.side.value,
                "quantity": _text(txn.quantity),
                "price": _text(txn.price),
                "commission": _text(txn.commission),
                "fees": _text(txn.fees),
                "currency": txn.currency,
            }
        case CashFlow():
            row |= {"kind": txn.kind.value, "amount": _text(txn.amount), "currency": txn.currency}
        case Dividend():
            row |= {
                "kind": "dividend",
                "symbol": txn.symbol,
                "per_share": _text(txn.per_share),
                "pay_date": None if txn.pay_date is None else txn.pay_date.isoformat(),
                "currency": txn.currency,
            }
        case Split():
            row |= {"kind": "split", "symbol": txn.symbol, "ratio": _text(txn.ratio)}
    return tuple(row.get(c) for c in _COLUMNS)


def _from_row(row: dict[str, Any]) -> Transaction:
    ts = to_utc(row["ts"], "ts")
    kind = row["kind"]
    if kind == "fill":
        return Fill(
            txn_id=row["txn_id"],
            ts=ts,
            symbol=row["symbol"],
            side=Side(row["side"]),
            quantity=Decimal(row["quantity"]),
            price=Decimal(row["price"]),
            commission=Decimal(row["commission"]),
            fees=Decimal(row["fees"]),
            currency=row["currency"],
        )
    if kind == "dividend":
        pay = None if row["pay_date"] is None else to_utc(row["pay_date"], "pay_date")
        return Dividend(
            txn_id=row["txn_id"],
            ts=ts,
            symbol=row["symbol"],
            per_share=Decimal(row["per_share"]),
            pay_date=pay,
            currency=row["currency"],
        )
    if kind == "split":
        return Split(txn_id=row["txn_id"], ts=ts, symbol=row["symbol"], ratio=Decimal(row["ratio"]))
    return CashFlow(
        txn_id=row["txn_id"], ts=ts, kind=CashKind(kind), amount=Decimal(row["amount"]), currency=row["currency"]
    )


def portfolios_marker(store: Store) -> str:
    """Return a short text that changes whenever a portfolio is created or a transaction recorded.

    One small query (two counts; the ledger is append-only), for a dashboard that polls the
    store and loads a portfolio again only when this changed. The text means nothing but itself.
    """
    with store.transaction(schema=PORTFOLIO_SCHEMA, read_only=True) as db:
        portfolios, transactions = db.rows(
            "SELECT (SELECT count(*) FROM {t}portfolios), (SELECT count(*) FROM {t}transactions)"
        )[0]
    return f"portfolios:{int(portfolios)}:{int(transactions)}"
