"""The store's dividends credited to a portfolio: the model, stated once.

A portfolio valued against the store receives the store's dividends (its recorded corporate
actions of kind ``dividend``: from the source's dividend column or `record_actions`):

- **when**: on the ex-date, as a `Dividend` entry stamped at the ex-date 00:00 UTC, placed
  before every transaction of that instant, so
- **how much**: per-share amount × the shares held at the close before the ex-date (every
  fill dated before the ex-date counts, none dated on or after it); a short position pays
  it (a negative amount); a symbol flat then gets no entry;
- **which**: dividends of symbols the ledger has traded, with an ex-date on or after the
  portfolio's inception and not after the symbol's last bar in the store (a dividend
  recorded ahead of the bars waits for them: the marks are still cum-dividend);
- **no double counting**: a dividend the user recorded (``origin="recorded"``) on the same
  symbol with the same ex-date (UTC calendar date) replaces the store's, whatever its
  amount; an entry already credited from the store is not credited again. A recorded
  dividend that matches no stored ex-date but lies within `NEAR_DAYS` of one (typically
  booked on its pay date) is kept, the store's is credited too, and a `DataQualityWarning`
  names both so the user can date it on its ex-date.

The entries are ``origin="store"``, with the id ``store-dividend:SYMBOL:YYYY-MM-DD``; they
live in the loaded ledger only, never in the stored one. The amount per share is the
store's as of the ex-date, so the ledger's share counts must be in the same units (record a
split in the ledger, as before).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from bifrost.data import Store
from bifrost.errors import DataQualityWarning, InvalidInputError, TransactionRejected
from bifrost.portfolio._ledger import Ledger
from bifrost.portfolio._transactions import ZERO, Dividend, Fill, Side, Split, Transaction, to_decimal

__all__ = ["NEAR_DAYS", "with_store_dividends"]  # the helpers below serve load_portfolio

NEAR_DAYS = 45  # a pay date is 2-6 weeks after the ex-date; quarterly dividends are ~91 days apart


@dataclass(frozen=True, slots=True)
class _Stored:
    symbol: str
    ex_date: pd.Timestamp
    per_share: float


def with_store_dividends(ledger: Ledger, store: Store) -> Ledger:
    """Return ``ledger`` credited with the store's dividends, as new `Dividend` entries.

    The model (ex-date, shares held at the close before it, shorts pay, a dividend recorded
    by hand on the same symbol and ex-date replaces the store's) is stated in this module's
    docstring and the README. ``ledger`` is not changed; calling this again adds nothing.
    `load_portfolio` does it for a stored portfolio unless ``store_dividends=False``.

    Parameters
    ----------
    ledger
        A ledger whose share counts are in the units of the store's raw prices.
    store
        The store whose dividends (corporate actions of kind ``dividend``) are credited.

    Returns
    -------
    Ledger
        A new ledger: the same configuration, the recorded transactions and the store's
        dividends (``origin="store"``) in chronological order.

    Raises
    ------
    TransactionRejected
        If the ledger refuses a store dividend (one not below the last trade price); the
        message says how to leave the store's dividends out.

    Warns
    -----
    DataQualityWarning
        For a recorded dividend within `NEAR_DAYS` of a store ex-date it does not match.
    """
    merged = merge_store_dividends(
        ledger.name, ledger.transactions, store, inception=ledger.inception, currency=ledger.base_currency
    )
    out = Ledger(
        ledger.name,
        inception=ledger.inception,
        cost_basis=ledger.cost_basis,
        long_only=ledger.long_only,
        symbols=ledger.symbols,
        base_currency=ledger.base_currency,
    )
    extend_with_store_dividends(out, merged)
    return out


def extend_with_store_dividends(ledger: Ledger, transactions: Iterable[Transaction]) -> None:
    # the recorded transactions were accepted when stored, and a dividend changes no later
    # check: a refusal here is the ledger's rule against a store dividend; say how to go on
    try:
        ledger.extend(transactions)
    except TransactionRejected as exc:
        raise TransactionRejected(
            f"{exc}; the store's dividends can be left out: store_dividends=False (--no-store-dividends)"
        ) from None


def merge_store_dividends(
    name: str, transactions: Sequence[Transaction], store: Store, *, inception: pd.Timestamp, currency: str = "USD"
) -> list[Transaction]:
    # the recorded transactions with the store's dividends put in their place (see the module)
    traded = sorted({t.symbol for t in transactions if isinstance(t, Fill)})
    stored = _stored_dividends(store, traded, inception)
    if not stored:
        return list(transactions)
    recorded = [t for t in transactions if isinstance(t, Dividend)]
    taken = {(t.symbol, t.ts.normalize()) for t in recorded}
    _warn_near_misses(name, recorded, stored, taken)
    out: list[Transaction] = []
    held: dict[str, Decimal] = {}
    i = 0
    for event in stored:
        while i < len(transactions) and transactions[i].ts < event.ex_date:
            _hold(held, transactions[i])
            out.append(transactions[i])
            i += 1
        shares = held.get(event.symbol, ZERO)
        if shares == 0 or (event.symbol, event.ex_date) in taken:
            continue
        out.append(
            Dividend(
                txn_id=f"store-dividend:{event.symbol}:{event.ex_date.date()}",
                ts=event.ex_date,
                symbol=event.symbol,
                per_share=to_decimal(event.per_share, f"the store's dividend of {event.symbol}"),
                currency=currency,
                origin="store",
            )
        )
    out.extend(transactions[i:])
    return out


def check_store_dividends(value: object) -> bool:
    # the one boundary check of the option, for every function and command that takes it
    if not isinstance(value, bool):
        raise InvalidInputError(f"store_dividends must be True or False, got {value!r}")
    return value


def _hold(held: dict[str, Decimal], txn: Transaction) -> None:
    # the ledger's share count, without its lots: fills add, splits scale
    if isinstance(txn, Fill):
        held[txn.symbol] = held.get(txn.symbol, ZERO) + (txn.quantity if txn.side is Side.BUY else -txn.quantity)
    elif isinstance(txn, Split) and txn.symbol in held:
        held[txn.symbol] *= txn.ratio


def _stored_dividends(store: Store, symbols: Sequence[str], inception: pd.Timestamp) -> list[_Stored]:
    if not symbols:
        return []
    listed = store.list_symbols()
    last_bar = {str(s): pd.Timestamp(t) for s, t in zip(listed["symbol"], listed["last"], strict=True)}
    known = [s for s in symbols if s in last_bar]
    if not known:
        return []
    actions = store.read_actions(known)
    actions = actions[actions["kind"] == "dividend"]
    out = []
    for symbol, ts, value in actions[["symbol", "ts", "value"]].itertuples(index=False):
        ex_date = pd.Timestamp(ts).normalize()
        if inception.normalize() <= ex_date <= last_bar[str(symbol)]:
            out.append(_Stored(str(symbol), ex_date, float(value)))
    return sorted(out, key=lambda e: (e.ex_date, e.symbol))


def _warn_near_misses(
    name: str, recorded: Iterable[Dividend], stored: Sequence[_Stored], taken: set[tuple[str, pd.Timestamp]]
) -> None:
    credited = [e for e in stored if (e.symbol, e.ex_date) not in taken]
    stored_keys = {(e.symbol, e.ex_date) for e in stored}
    for t in recorded:
        day = t.ts.normalize()
        if t.origin != "recorded" or (t.symbol, day) in stored_keys:
            continue
        near = [e for e in credited if e.symbol == t.symbol and abs((day - e.ex_date).days) <= NEAR_DAYS]
        if near:
            e = min(near, key=lambda e: abs((day - e.ex_date).days))
            gap = (day - e.ex_date).days
            warnings.warn(
                f"portfolio {name}: the dividend recorded for {t.symbol} on {day.date()} (transaction {t.txn_id!r}) "
                f"is {abs(gap)} days {'after' if gap > 0 else 'before'} the store's dividend of {t.symbol} with "
                f"ex-date {e.ex_date.date()}, which is credited too: if they are the same dividend, date the "
                "recorded one on its ex-date (it then replaces the store's), or load with store_dividends=False",
                DataQualityWarning,
                stacklevel=4,
            )
