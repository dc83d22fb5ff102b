"""A small real store for the dashboard tests: ORCL, NVDA, YHOO (backtrader's Yahoo files) and SPY
(daily_adjusted_SPY.csv), 2012-2014, and a portfolio 'desk' bought on 2013-01-02 at those closes."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, ingest
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, record_transactions
from tests.conftest import DATA, NVDA, ORCL, YHOO

SPY = DATA / "sp500_5yr" / "daily_adjusted_SPY.csv"
T0 = pd.Timestamp("2013-01-02", tz="UTC")
# closes of 2013-01-02 in the files: orcl-1995-2014.txt 34.689999, nvda-1999-2014.txt 12.72
DESK = (
    CashFlow(txn_id="d1", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(100_000)),
    Fill(txn_id="f1", ts=T0, symbol="ORCL", side=Side.BUY, quantity=Decimal(1000), price=Decimal("34.689999")),
    Fill(txn_id="f2", ts=T0, symbol="NVDA", side=Side.BUY, quantity=Decimal(2000), price=Decimal("12.72")),
)


def fill_store(home: Path) -> EmbeddedStore:
    """Make the test store under ``home``."""
    store = EmbeddedStore(home)
    fill(store)
    return store


def fill(store: BarStore) -> None:
    """Ingest the test data into ``store`` and record the portfolio 'desk'."""
    for symbol, path in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO)):
        ingest(store, CsvSource(path, symbol=symbol), start="2012-01-01")
    ingest(store, CsvSource(SPY, symbol="SPY"), start="2012-01-01", end="2015-01-01")
    record_transactions(store, "desk", list(DESK), create=True)


@pytest.fixture
def ui_store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    """The test store, fresh for each test."""
    store = fill_store(tmp_path / "home")
    try:
        yield store
    finally:
        store.close()
