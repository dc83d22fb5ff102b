"""A portfolio's tearsheet measures its benchmark as it measures the portfolio, and says how."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from bifrost.analytics import portfolio_tearsheet
from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, record_transactions
from tests.conftest import SPY


def test_portfolio_tearsheet_benchmark_holds_its_dividends_as_cash_like_the_portfolio(tmp_path: Path) -> None:
    day = pd.Timestamp("2015-01-02", tz="UTC")
    with EmbeddedStore(tmp_path / "home") as store:
        ingest(store, CsvSource(SPY, symbol="SPY"), start="2014-12-01", end="2020-01-01")
        record_transactions(
            store,
            "spy",
            [
                CashFlow(txn_id="d", ts=day, kind=CashKind.DEPOSIT, amount=Decimal("20543")),  # 100 × 205.43
                Fill(txn_id="b", ts=day, symbol="SPY", side=Side.BUY, quantity=Decimal(100), price=Decimal("205.43")),
            ],
            create=True,
        )
        sheet = portfolio_tearsheet(store, "spy", benchmark="SPY")
    # all in SPY at the close it is valued at: the portfolio and its benchmark are the same holding,
    # so measured the same way (dividends as cash on their ex-dates) they have the same returns
    stats = sheet.stats
    portfolio, benchmark = stats.columns[0], stats.columns[1]
    # SPY 2015-2019 with its dividends
    assert stats.to_numpy(dtype=float)[stats.index.get_loc("cum_returns_final"), 0] > 0.6
    np.testing.assert_allclose(
        stats.loc[["cum_returns_final", "annual_volatility", "max_drawdown"], portfolio],
        stats.loc[["cum_returns_final", "annual_volatility", "max_drawdown"], benchmark],
        rtol=1e-9,
    )
    assert any("dividends as cash" in n and "Benchmark SPY" in n for n in sheet.notes)
    assert "measured the same way" in sheet.to_html()
