"""The portfolios' change marker: moves when a portfolio is created or a transaction recorded."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, ingest
from bifrost.errors import TransactionRejected
from bifrost.portfolio import Fill, Side, create_portfolio, load_portfolio, portfolios_marker, record_transactions
from tests.conftest import ORCL

T0 = pd.Timestamp("2014-01-02", tz="UTC")


def _buy(txn_id: str, quantity: int) -> Fill:
    # 2014-01-02 in orcl-1995-2014.txt: close 37.84
    return Fill(txn_id=txn_id, ts=T0, symbol="ORCL", side=Side.BUY, quantity=Decimal(quantity), price=Decimal("37.84"))


def test_portfolios_marker_create_and_record_change_it_a_rejection_does_not(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2014-01-01")
    empty = portfolios_marker(store)
    create_portfolio(store, "desk", inception=T0, long_only=True)
    created = portfolios_marker(store)
    record_transactions(store, "desk", [_buy("b1", 100)])
    bought = portfolios_marker(store)
    load_portfolio(store, "desk")
    assert len({empty, created, bought}) == 3
    assert portfolios_marker(store) == bought  # a read changes nothing
    oversell = Fill(txn_id="s1", ts=T0, symbol="ORCL", side=Side.SELL, quantity=Decimal(500), price=Decimal("37.84"))
    with pytest.raises(TransactionRejected):
        record_transactions(store, "desk", [oversell])
    assert portfolios_marker(store) == bought  # nothing was stored, nothing moved
    record_transactions(store, "desk", [_buy("b2", 50), _buy("b3", 50)])
    assert portfolios_marker(store) == "portfolios:1:3"
