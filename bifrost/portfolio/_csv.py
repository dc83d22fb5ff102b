"""Transactions from a CSV file, every row checked, errors naming the line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd

from bifrost._checks import check_symbol, quote
from bifrost._files import file_errors, read_header
from bifrost.errors import InvalidInputError, SchemaError
from bifrost.portfolio._transactions import (
    CashFlow,
    CashKind,
    Dividend,
    Fill,
    Side,
    Split,
    Transaction,
    to_decimal,
    to_utc,
)

__all__ = ["TRANSACTION_COLUMNS", "read_transactions_csv"]

TRANSACTION_COLUMNS = (
    "txn_id",
    "ts",
    "type",
    "symbol",
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
_REQUIRED = {
    "buy": ("symbol", "quantity", "price"),
    "sell": ("symbol", "quantity", "price"),
    "deposit": ("amount",),
    "withdrawal": ("amount",),
    "fee": ("amount",),
    "interest": ("amount",),
    "dividend": ("symbol", "per_share"),
    "split": ("symbol", "ratio"),
}
_MAX_ID_CHARS = 128
_MAX_CURRENCY_CHARS = 8


def read_transactions_csv(path: str | Path) -> list[Transaction]:
    """Read transactions: columns ``txn_id, ts, type`` and, by type, the fields it needs.

    ``type`` is one of buy, sell, deposit, withdrawal, fee, interest, dividend, split.
    Buys and sells need symbol, quantity, price (commission, fees optional); cash flows
    need amount; dividends symbol and per_share (pay_date optional); splits symbol and
    ratio. Numbers are read as exact decimals from the text.

    Raises
    ------
    SchemaError
        On missing or unknown columns, naming the file.
    InvalidInputError
        On a bad row, naming the file and line; nothing is returned.
    """
    p = Path(path)
    read_header(p, what="a transactions file", example="txn_id,ts,type,symbol,quantity,price", max_columns=32)
    with file_errors(p):
        frame = pd.read_csv(p, dtype=str, keep_default_na=False)
    if not isinstance(frame.index, pd.RangeIndex):
        raise SchemaError(
            f"{p}: rows have more fields than the header (a comma used as the decimal separator, as in 10,5?); "
            "transactions are comma-separated with a '.' decimal point"
        )
    columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("txn_id", "ts", "type") if c not in columns]
    unknown = [c for c in columns if c not in TRANSACTION_COLUMNS]
    if missing or unknown:
        shown = ", ".join(quote(c, 40) for c in unknown[:10]) + (
            f", … ({len(unknown):,} in all)" if len(unknown) > 10 else ""
        )
        raise SchemaError(
            f"{p}: missing column(s) {missing}, unknown column(s) [{shown}]; expected {list(TRANSACTION_COLUMNS)}"
        )
    frame.columns = columns
    out: list[Transaction] = []
    for i, row in enumerate(frame.to_dict(orient="records")):
        line = i + 2
        try:
            out.append(_transaction({str(k): str(v).strip() for k, v in row.items()}))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{p}:{line}: {exc}") from exc
    return out


def _transaction(row: dict[str, str]) -> Transaction:
    kind = row["type"].lower()
    if kind not in _REQUIRED:
        raise InvalidInputError(f"type must be one of {sorted(_REQUIRED)}, got {quote(row['type'])}")
    absent = [f for f in _REQUIRED[kind] if not row.get(f)]
    if absent:
        raise InvalidInputError(f"a {kind} needs {list(absent)}")
    txn_id, ts, currency = row["txn_id"], to_utc(row["ts"], "ts"), row.get("currency") or "USD"
    if not txn_id or len(txn_id) > _MAX_ID_CHARS or not txn_id.isprintable():
        raise InvalidInputError(f"txn_id must be 1-{_MAX_ID_CHARS} printable characters, got {quote(txn_id)}")
    if len(currency) > _MAX_CURRENCY_CHARS or not currency.isalnum():
        raise InvalidInputError(f"currency must be a code such as USD, got {quote(currency)}")
    if row.get("symbol"):
        check_symbol(row["symbol"], "symbol")

    def number(name: str, default: str | None = None) -> Decimal:
        text = row.get(name) or default
        return to_decimal(text, name)

    if kind in ("buy", "sell"):
        return Fill(
            txn_id=txn_id,
            ts=ts,
            symbol=row["symbol"],
            side=Side(kind),
            quantity=number("quantity"),
            price=number("price"),
            commission=number("commission", "0"),
            fees=number("fees", "0"),
            currency=currency,
        )
    if kind == "dividend":
        pay = to_utc(row["pay_date"], "pay_date") if row.get("pay_date") else None
        return Dividend(
            txn_id=txn_id,
            ts=ts,
            symbol=row["symbol"],
            per_share=number("per_share"),
            pay_date=pay,
            currency=currency,
        )
    if kind == "split":
        return Split(txn_id=txn_id, ts=ts, symbol=row["symbol"], ratio=number("ratio"))
    amount = number("amount")
    return CashFlow(txn_id=txn_id, ts=ts, kind=CashKind(kind), amount=amount, currency=currency)
