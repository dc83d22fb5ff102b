"""Portfolios stored in every backend, imported from CSV all-or-nothing, shown from the CLI."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, ingest
from bifrost.errors import InvalidInputError, NotFoundError, SchemaError, TransactionRejected
from bifrost.portfolio import (
    create_portfolio,
    list_portfolios,
    load_portfolio,
    mark_to_latest,
    read_transactions_csv,
    record_transactions,
)
from tests.cli import bifrost
from tests.conftest import ORCL

# fills at ORCL's real closes (2014-01-02: 37.84, 2014-06-02: 41.970001 → 41.97); the
# $0.12 dividend on its ex-date 2014-04-04, where the file's Adj Close factor steps by 0.298%
CSV = """txn_id,ts,type,symbol,quantity,price,commission,amount,per_share
1,2014-01-02,deposit,,,,,10000,
2,2014-01-02,buy,ORCL,100,37.84,1.00,,
3,2014-04-04,dividend,ORCL,,,,,0.12
4,2014-06-02,sell,ORCL,40,41.97,1.00,,
"""


def _write(tmp_path: Path, text: str, name: str = "txns.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def orcl_store(store: BarStore) -> BarStore:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2013-12-01")
    return store


def test_portfolio_round_trips_through_the_store(orcl_store: BarStore, tmp_path: Path) -> None:
    create_portfolio(orcl_store, "core", inception="2014-01-01")
    record_transactions(orcl_store, "core", read_transactions_csv(_write(tmp_path, CSV)))
    book = load_portfolio(orcl_store, "core")
    pos = book.position("ORCL")
    assert pos.quantity == 60 and pos.realized_pnl == D("165.20")  # 40 × (41.97 − 37.84)
    assert pos.dividends == D("12.00")
    assert book.cash == D(10000) - D("3784") - 1 + 12 + D("1678.80") - 1 == D("7904.80")
    assert list_portfolios(orcl_store)[["name", "transactions"]].values.tolist() == [["core", 4]]
    marked = mark_to_latest(book, orcl_store)
    assert marked.totals["equity"] == book.cash + 60 * D("44.970001")  # ORCL's last close, 2014-12-31


def test_portfolio_import_is_all_or_nothing_and_names_the_transaction(orcl_store: BarStore, tmp_path: Path) -> None:
    create_portfolio(orcl_store, "core", inception="2014-01-01", long_only=True)
    record_transactions(orcl_store, "core", read_transactions_csv(_write(tmp_path, CSV)))
    bad = "txn_id,ts,type,symbol,quantity,price\n5,2014-07-01,buy,ORCL,10,41\n6,2014-07-02,sell,ORCL,500,41\n"
    with pytest.raises(TransactionRejected, match=r"'6' .* sells 500 but holds 70 in a long-only portfolio"):
        record_transactions(orcl_store, "core", read_transactions_csv(_write(tmp_path, bad, "bad.csv")))
    assert len(load_portfolio(orcl_store, "core").transactions) == 4  # neither 5 nor 6 stored


def test_portfolio_rejects_unknown_symbol_and_duplicate_ids_across_imports(
    orcl_store: BarStore, tmp_path: Path
) -> None:
    create_portfolio(orcl_store, "core", inception="2014-01-01")
    record_transactions(orcl_store, "core", read_transactions_csv(_write(tmp_path, CSV)))
    with pytest.raises(TransactionRejected, match="unknown symbol 'AAPL'"):
        record_transactions(
            orcl_store,
            "core",
            read_transactions_csv(
                _write(tmp_path, "txn_id,ts,type,symbol,quantity,price\n9,2014-07-01,buy,AAPL,1,90\n", "a.csv")
            ),
        )
    with pytest.raises(TransactionRejected, match="duplicate transaction id"):
        record_transactions(orcl_store, "core", read_transactions_csv(_write(tmp_path, CSV)))
    with pytest.raises(InvalidInputError, match="portfolio 'core' already exists"):
        create_portfolio(orcl_store, "core", inception="2014-01-01")
    with pytest.raises(NotFoundError, match=r"no portfolio 'other' in the store \(portfolios: core\)"):
        load_portfolio(orcl_store, "other")


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("txn_id,type\n1,buy\n", SchemaError, r"missing column\(s\) \['ts'\]"),
        ("txn_id,ts,type,colour\n1,2014-01-02,deposit,red\n", SchemaError, r"unknown column\(s\) \['colour'\]"),
        (
            "txn_id,ts,type,amount\n1,2014-01-02,deposit,100\n2,2014-01-03,transfer,5\n",
            InvalidInputError,
            r":3: type must be one of",
        ),
        (
            "txn_id,ts,type,symbol,quantity\n1,2014-01-02,buy,ORCL,5\n",
            InvalidInputError,
            r":2: a buy needs \['price'\]",
        ),
        (
            "txn_id,ts,type,symbol,quantity,price\n1,2014-01-02,buy,ORCL,ten,5\n",
            InvalidInputError,
            r":2: quantity must be a number",
        ),
        ("txn_id,ts,type,amount\n1,someday,deposit,5\n", InvalidInputError, r":2: ts must be a date"),
    ],
)
def test_transactions_csv_bad_rows_name_file_and_line(tmp_path: Path, text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        read_transactions_csv(_write(tmp_path, text))


def test_cli_portfolio_create_import_list_show(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert bifrost(home, "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0
    assert bifrost(home, "portfolio", "create", "core", "--inception", "2014-01-01").returncode == 0
    done = bifrost(home, "portfolio", "import", "core", str(_write(tmp_path, CSV)))
    assert done.returncode == 0, done.stderr
    assert "4 transaction(s) imported" in done.stdout
    listing = json.loads(bifrost(home, "portfolio", "list", "--format", "json").stdout)
    assert listing[0]["name"] == "core" and listing[0]["transactions"] == 4
    shown = json.loads(bifrost(home, "portfolio", "show", "core", "--format", "json").stdout)
    assert shown["positions"][0]["quantity"] == 60.0 and shown["positions"][0]["realized"] == pytest.approx(165.2)
    assert shown["positions"][0]["mark"] == 44.970001
    assert shown["totals"]["equity"] == pytest.approx(7904.80 + 60 * 44.970001)
    again = bifrost(home, "portfolio", "import", "core", str(_write(tmp_path, CSV)))
    assert again.returncode == 2 and "duplicate transaction id" in again.stderr
    assert "Traceback" not in again.stderr and again.stderr.count("\n") == 1
    assert "core" in bifrost(home, "portfolio", "show", "core").stdout
    fresh = bifrost(
        home, "portfolio", "import", "fresh", str(_write(tmp_path, CSV, "fresh.csv")), "--cost-basis", "average"
    )
    assert fresh.returncode == 0 and "4 transaction(s) imported, 4 in all" in fresh.stdout


def test_mark_to_latest_reports_flat_positions_without_marks(orcl_store: BarStore) -> None:
    from bifrost.portfolio import Fill, Side

    create_portfolio(orcl_store, "flat", inception="2014-01-01")
    t = pd.Timestamp("2014-01-02", tz="UTC")
    record_transactions(orcl_store, "flat", [
        Fill(txn_id="a", ts=t, symbol="ORCL", side=Side.BUY, quantity=D(1), price=D(37)),
        Fill(txn_id="b", ts=t, symbol="ORCL", side=Side.SELL, quantity=D(1), price=D(38)),
    ])  # fmt: skip
    marked = mark_to_latest(load_portfolio(orcl_store, "flat"), orcl_store)
    assert marked.positions["mark"].isna().all() and marked.totals["equity"] == 1


def test_import_into_a_new_portfolio_creates_it_atomically(orcl_store: BarStore, tmp_path: Path) -> None:
    bad = CSV + "5,2014-07-01,sell,ORCL,500,41,,,\n"
    with pytest.raises(TransactionRejected, match=r"'5' .* sells 500 but holds 60"):
        record_transactions(
            orcl_store, "new", read_transactions_csv(_write(tmp_path, bad)), create=True, long_only=True
        )
    assert list_portfolios(orcl_store).empty  # the rejected import left no portfolio behind
    book = record_transactions(orcl_store, "new", read_transactions_csv(_write(tmp_path, CSV)), create=True)
    assert book.inception == pd.Timestamp("2014-01-02", tz="UTC") and len(book.transactions) == 4
    assert list_portfolios(orcl_store)["name"].tolist() == ["new"]


def test_show_json_of_a_portfolio_without_positions_is_valid_json(orcl_store: BarStore, tmp_path: Path) -> None:
    create_portfolio(orcl_store, "empty", inception="2014-01-01")
    create_portfolio(orcl_store, "cash", inception="2014-01-01")
    deposit_only = "\n".join(CSV.splitlines()[:2]) + "\n"
    record_transactions(orcl_store, "cash", read_transactions_csv(_write(tmp_path, deposit_only)))
    for name, equity in [("empty", 0.0), ("cash", 10_000.0)]:
        marked = mark_to_latest(load_portfolio(orcl_store, name), orcl_store)
        assert list(marked.positions.columns)[:5] == ["symbol", "quantity", "avg_price", "mark", "mark_ts"]
        shown = json.loads(marked.to_json())
        assert shown["positions"] == [] and shown["totals"]["equity"] == equity
        assert "(no positions)" in marked.to_text()


def test_cli_portfolio_show_json_of_an_empty_portfolio_prints_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert bifrost(home, "portfolio", "create", "empty", "--inception", "2014-01-01").returncode == 0
    shown = bifrost(home, "portfolio", "show", "empty", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["positions"] == []
