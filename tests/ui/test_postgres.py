"""The dashboards on PostgreSQL: the same pages, the same numbers, the same live update."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data._postgres import PostgresStore
from bifrost.portfolio import Fill, Side, load_portfolio, mark_to_latest, record_transactions
from bifrost.risk import book_from_store, book_risk
from bifrost.ui import portfolio_monitor, risk_monitor
from tests.ui.conftest import fill

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_url: str, pg_schema: str, tmp_path: Path) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_url, home=tmp_path / "home", schema=pg_schema, timescale=False)
    fill(store)
    try:
        yield store
    finally:
        store.close()


def test_portfolio_monitor_on_postgres_redraws_on_another_writers_transaction(
    pg_store: PostgresStore, pg_url: str, pg_schema: str, tmp_path: Path
) -> None:
    page = portfolio_monitor(pg_store, watch=False)
    positions = page.components["positions"]
    marked = mark_to_latest(load_portfolio(pg_store, "desk"), pg_store)
    assert f"data-value='{float(marked.totals['equity'])!r}'" in positions.totals_html.value
    other = PostgresStore(pg_url, home=tmp_path / "home", schema=pg_schema, timescale=False)
    try:
        # yhoo-1996-2014.txt 2014-06-02 close 33.639999
        buy = Fill(txn_id="f3", ts=pd.Timestamp("2014-06-02", tz="UTC"), symbol="YHOO", side=Side.BUY,
                   quantity=Decimal(100), price=Decimal("33.639999"))  # fmt: skip
        record_transactions(other, "desk", [buy])
    finally:
        other.close()
    assert positions in page.watcher.poll()
    assert "data-key='YHOO'" in positions.positions_html.value


def test_risk_monitor_on_postgres_shows_the_library_var(pg_store: PostgresStore) -> None:
    page = risk_monitor(pg_store, watch=False)
    var = page.components["var"]
    expected = book_risk(book_from_store(pg_store, "desk"), method="historical").var
    assert f"data-col='var' data-value='{expected!r}'" in var.html.value
    assert all(c.error.message == "" for c in page.components.values())
