"""Transactions at the boundary: bounded decimals and dates, symbols, and files that end early."""

from __future__ import annotations

import gzip
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest

from bifrost.errors import DataSourceError, InvalidInputError, SchemaError, TransactionRejected
from bifrost.portfolio import Fill, Ledger, Side, read_transactions_csv, to_decimal, to_utc

T0 = pd.Timestamp("2020-01-02", tz="UTC")
HEADER = "txn_id,ts,type,symbol,quantity,price,amount"
GOOD = [HEADER, "1,2020-01-02,deposit,,,,10000", "2,2020-01-03,buy,ORCL,100,37.84,"]


def _csv(tmp_path: Path, lines: list[str], name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("3,2020-01-04,buy,ORCL,1e999999,37.84,", r":4: quantity must be at most 1e15 in magnitude, got '1e999999'"),
        ("3,2020-01-04,buy,ORCL,100,1e999999,", r":4: price must be at most 1e15"),
        ("3,2020-01-04,deposit,,,,1e999999", r":4: amount must be at most 1e15"),
        ("3,2020-01-04,deposit,,,,Infinity", r":4: amount must be a finite number"),
        ("3,2020-01-04,deposit,,,,1e-999999", r":4: amount must be 0 or at least 1e-18"),
        ("3,2020-01-04,deposit,,,," + "9" * 100_000, r":4: amount must be a number of at most 64 characters"),
        ("3,1600-01-04,deposit,,,,10", r":4: ts must be a date from 1678-01-01 to 2261-12-31, got '1600-01-04'"),
        ("3,2300-01-04,deposit,,,,10", r":4: ts must be a date from 1678-01-01 to 2261-12-31"),
        ("3,garbage,deposit,,,,10", r":4: ts must be a date such as 2014-01-31, got 'garbage'"),
        ("3,2020-01-04,buy,OR\tCL,1,1,", r":4: symbol 'OR\\tCL' is not a valid symbol"),
        ("3,2020-01-04,buy," + "X" * 9000 + ",1,1,", r":4: symbol 'XXX.*… \(9,000 characters\) is not a valid symbol"),
    ],
)
def test_transactions_csv_unbounded_value_names_line_and_field(row: str, expected: str, tmp_path: Path) -> None:
    path = _csv(tmp_path, [*GOOD, row])
    with pytest.raises(InvalidInputError, match=expected) as info:
        read_transactions_csv(path)
    assert str(info.value).startswith(f"{path}:4: ") and len(str(info.value)) < 400


def test_transactions_csv_at_the_bounds_is_read_exactly(tmp_path: Path) -> None:
    path = _csv(tmp_path, [*GOOD, "3,2261-12-31,deposit,,,,1e15", "4,2261-12-31,buy,BRK/B,0.000000000000000001,1,"])
    txns = read_transactions_csv(path)
    assert txns[2].amount == D("1e15") and txns[3].quantity == D("1e-18")  # type: ignore[union-attr]


@pytest.mark.parametrize("cut", [0.5, 0.001])
def test_transactions_truncated_gzip_is_data_source_error_naming_file(cut: float, tmp_path: Path) -> None:
    lines = [HEADER, *(f"{i},2020-01-02,deposit,,,,{i}" for i in range(1, 5000))]
    raw = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "t.csv.gz"
    path.write_bytes(raw[: max(12, int(len(raw) * cut))])
    with pytest.raises(DataSourceError, match=rf"{path}: cannot be read: the file is truncated or corrupt"):
        read_transactions_csv(path)


def test_transactions_comma_decimal_file_is_schema_error(tmp_path: Path) -> None:
    path = _csv(tmp_path, [HEADER, "1,2020-01-02,deposit,,,,10000,50", "2,2020-01-03,deposit,,,,1,5"])
    with pytest.raises(SchemaError, match="comma used as the decimal separator"):
        read_transactions_csv(path)


def test_to_decimal_and_to_utc_are_the_bounded_checks() -> None:
    with pytest.raises(InvalidInputError, match="amount must be at most 1e15"):
        to_decimal("1e999999", "amount")
    with pytest.raises(InvalidInputError, match="inception must be a date from 1678-01-01"):
        to_utc("1600-01-01", "inception")
    assert to_decimal(0.1, "price") == D("0.1") and to_utc("2020-01-02", "ts") == T0


@pytest.mark.parametrize(
    ("field", "value"), [("quantity", D("1e999999")), ("price", D("1e999999")), ("fees", D("1e16"))]
)
def test_ledger_unbounded_decimal_fill_is_rejected_not_an_overflow(field: str, value: D) -> None:
    book = Ledger("p", inception=T0)
    fields = {"quantity": D(1), "price": D(1), "fees": D(0)} | {field: value}
    with pytest.raises(TransactionRejected, match=f"{field} must be a .*finite Decimal of at most 1e15"):
        book.append(Fill(txn_id="t1", ts=T0, symbol="ORCL", side=Side.BUY, **fields))
    assert book.transactions == () and book.cash == 0


def test_ledger_invalid_symbol_is_rejected() -> None:
    book = Ledger("p", inception=T0)
    with pytest.raises(TransactionRejected, match="invalid symbol"):
        book.append(Fill(txn_id="t1", ts=T0, symbol="OR\x00CL", side=Side.BUY, quantity=D(1), price=D(1)))


def test_transactions_absurd_header_is_refused_before_parsing(tmp_path: Path) -> None:
    path = _csv(tmp_path, [",".join(f"c{i}" for i in range(300_000)), ",".join("1" for _ in range(300_000))])
    with pytest.raises(SchemaError, match="longer than 65,536 characters, so it is not the header of a transactions"):
        read_transactions_csv(path)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("3,2020-01-04,buy,ORCL,1,5000000000,,,,,", r"'3' \(buy 1 ORCL .*\): price must be within \[1e-08, 1e\+09\]"),
        ("3,2020-01-04,buy,ORCL,1,0.0000000001,,,,,", r"price must be within \[1e-08, 1e\+09\]"),
        ("3,2020-01-04,buy,ORCL,1,100,1e12,,,,", r"commission 1E\+12 exceeds the traded value 100"),
        ("3,2020-01-04,dividend,ORCL,,,,,,1000000,", r"per_share 1000000 is not below the last trade price 37.84"),
        ("3,2020-01-04,split,ORCL,,,,,,,1000000", r"split ratio must be within \[0.001, 1000\]"),
        ("3,2200-01-04,deposit,,,,,,10,,", r"dated in the future"),
    ],
)
def test_transactions_csv_number_no_market_produces_is_rejected_by_the_ledger(
    row: str, expected: str, tmp_path: Path
) -> None:
    header = "txn_id,ts,type,symbol,quantity,price,commission,fees,amount,per_share,ratio"
    good = [header, "1,2020-01-02,deposit,,,,,,10000,,", "2,2020-01-03,buy,ORCL,100,37.84,,,,,"]
    transactions = read_transactions_csv(_csv(tmp_path, [*good, row]))
    book = Ledger("p", inception=T0, long_only=True)
    with pytest.raises(TransactionRejected, match=expected):
        book.extend(transactions)
    assert book.transactions == ()
