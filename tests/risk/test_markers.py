"""The limits' and alerts' change marker: moves when limits are set or a recorded check changes an episode."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from bifrost.data import BarStore, CsvSource, ingest
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, record_transactions
from bifrost.risk import Limit, alerts_marker, check_limits, read_alerts, set_limits
from tests.conftest import NVDA, ORCL

T0 = pd.Timestamp("2014-01-02", tz="UTC")


def _book(store: BarStore) -> None:
    for symbol, path in (("ORCL", ORCL), ("NVDA", NVDA)):
        ingest(store, CsvSource(path, symbol=symbol), start="2012-01-01")
    txns = [
        CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(100_000)),
        Fill(txn_id="o", ts=T0, symbol="ORCL", side=Side.BUY, quantity=Decimal(1000), price=Decimal("37.84")),
        Fill(txn_id="n", ts=T0, symbol="NVDA", side=Side.BUY, quantity=Decimal(1000), price=Decimal("16.0")),
    ]
    record_transactions(store, "book", txns, create=True)


def test_alerts_marker_set_limits_and_recorded_checks_change_it(store: BarStore) -> None:
    _book(store)
    start = alerts_marker(store)
    # a 1% single-name limit: ORCL and NVDA are each far above it (a breach each)
    tight = (Limit(name="name", metric="single_name", threshold=0.01),)
    set_limits(store, "book", tight)
    limited = alerts_marker(store)
    check_limits(store, "book", record=False)
    assert limited != start
    assert alerts_marker(store) == limited  # a check that records nothing moves nothing
    check_limits(store, "book")
    breached = alerts_marker(store)
    assert breached != limited
    assert set(read_alerts(store, "book", status="open")["subject"]) == {"ORCL", "NVDA"}
    # loosened: the next recorded check closes both episodes
    set_limits(store, "book", (Limit(name="name", metric="single_name", threshold=0.99),))
    loosened = alerts_marker(store)
    check_limits(store, "book")
    assert len({start, limited, breached, loosened, alerts_marker(store)}) == 5
    assert read_alerts(store, "book", status="open").empty
