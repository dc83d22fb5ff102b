"""Ledger entries: the only way a portfolio changes. Money and quantities are Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum, auto
from typing import Literal

import pandas as pd

from bifrost._checks import as_bounded_decimal, as_utc_timestamp

__all__ = [
    "CashFlow",
    "CashKind",
    "Dividend",
    "DividendOrigin",
    "Fill",
    "Side",
    "Split",
    "Transaction",
    "to_decimal",
    "to_utc",
]

ZERO = Decimal(0)

DividendOrigin = Literal["recorded", "store"]
"""Where a ledger's dividend entry came from: recorded by the user, or credited from the store's dividends."""


class Side(StrEnum):
    BUY = auto()
    SELL = auto()


class CashKind(StrEnum):
    DEPOSIT = auto()
    WITHDRAWAL = auto()
    FEE = auto()
    INTEREST = auto()


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """A trade: ``quantity`` (> 0) shares bought or sold at ``price``."""

    txn_id: str
    ts: pd.Timestamp
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    commission: Decimal = ZERO
    fees: Decimal = ZERO
    currency: str = "USD"


@dataclass(frozen=True, slots=True, kw_only=True)
class CashFlow:
    """Cash in or out: a deposit, a withdrawal, a fee, or interest (``amount`` > 0)."""

    txn_id: str
    ts: pd.Timestamp
    kind: CashKind
    amount: Decimal
    currency: str = "USD"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dividend:
    """A cash dividend of ``per_share`` on the ex-date ``ts``; shorts pay it.

    ``origin`` is ``recorded`` for an entry the user made, ``store`` for one credited from
    the store's dividends when the portfolio was loaded (see `with_store_dividends`); a
    store entry is never written to the stored ledger.
    """

    txn_id: str
    ts: pd.Timestamp
    symbol: str
    per_share: Decimal
    pay_date: pd.Timestamp | None = None
    currency: str = "USD"
    origin: DividendOrigin = "recorded"


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """A split: ``ratio`` new shares per old share (2 for 2-for-1, 0.1 for 1-for-10)."""

    txn_id: str
    ts: pd.Timestamp
    symbol: str
    ratio: Decimal


Transaction = Fill | CashFlow | Dividend | Split


def to_decimal(value: object, name: str) -> Decimal:
    """Convert a number to Decimal (floats by their shortest repr) within the ledger's bounds.

    Finite, at most 1e15 in magnitude, at most 28 significant digits (see
    `bifrost._checks.as_bounded_decimal`): ``1e999999`` is an `InvalidInputError`, never
    a `decimal.Overflow` later in the arithmetic.
    """
    return as_bounded_decimal(value, name)


def to_utc(value: object, name: str) -> pd.Timestamp:
    """Convert a date-like to a UTC Timestamp (naive means UTC), 1678-01-01 … 2261-12-31."""
    return as_utc_timestamp(value, name)
