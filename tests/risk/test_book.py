"""Risk of a stored portfolio: positions from its ledger, prices from the store, and the CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidInputError
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, create_portfolio, record_transactions
from bifrost.risk import book_from_store, book_risk, historical_var, var_backtest
from tests.conftest import NVDA, ORCL, YHOO
from tests.test_cli import bifrost

T0 = pd.Timestamp("2014-01-02", tz="UTC")
HOLDINGS = {"ORCL": 1000, "NVDA": 500, "YHOO": -300}


def _file(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    return frame.sort_index()


def _fill(i: int, symbol: str, qty: int) -> Fill:
    side = Side.BUY if qty > 0 else Side.SELL
    return Fill(txn_id=f"f{i}", ts=T0, symbol=symbol, side=side, quantity=Decimal(abs(qty)), price=Decimal("30"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("risk-home")
    store = EmbeddedStore(path)
    for symbol, file in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO)):
        ingest(store, CsvSource(file, symbol=symbol))
    txns = [CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(100_000))]
    txns += [_fill(i, s, q) for i, (s, q) in enumerate(HOLDINGS.items())]
    record_transactions(store, "book", txns, create=True)
    create_portfolio(store, "empty", inception=T0)
    store.close()
    return path


def test_book_values_positions_at_the_latest_close_and_uses_total_returns(home: Path) -> None:
    store = EmbeddedStore(home)
    book = book_from_store(store, "book", lookback_days=500)
    last = {s: _file(f)["Close"].iloc[-1] for s, f in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO))}
    expected_values = pd.Series({s: q * last[s] for s, q in HOLDINGS.items()})
    np.testing.assert_allclose(book.values[expected_values.index], expected_values, rtol=1e-12)
    cash = 100_000 - sum(q * 30 for q in HOLDINGS.values())
    assert book.equity == pytest.approx(cash + expected_values.sum(), rel=1e-12)
    adj = pd.DataFrame({s: _file(f)["Adj Close"] for s, f in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO))})
    reference = adj.pct_change().iloc[1:].dropna().tail(500)
    assert len(book.returns) == 500 and (book.returns.index.tz_convert(None) == reference.index).all()
    np.testing.assert_allclose(book.returns[reference.columns], reference, rtol=1e-9, atol=1e-15)
    risk = book_risk(book, confidence=0.99)
    pnl = reference[list(book.weights.index)].to_numpy() @ book.weights.to_numpy()
    assert risk.var == pytest.approx(historical_var(pnl, 0.99), rel=1e-9)
    store.close()


def test_book_refuses_what_it_cannot_measure(home: Path) -> None:
    store = EmbeddedStore(home)
    with pytest.raises(InvalidInputError, match="holds no position"):
        book_from_store(store, "empty")
    with pytest.raises(InvalidInputError, match="no portfolio 'nope'"):
        book_from_store(store, "nope")
    with pytest.raises(InvalidInputError, match="lookback_days must be an integer >= 20"):
        book_from_store(store, "book", lookback_days=5)
    store.close()


def test_cli_risk_commands(home: Path) -> None:
    run = bifrost(
        home, "risk", "var", "book", "--method", "parametric", "--confidence", "0.975", "--horizon", "5", "--json"
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    store = EmbeddedStore(home)
    book = book_from_store(store, "book")
    store.close()
    expected = book_risk(book, method="parametric", confidence=0.975, horizon_days=5)
    assert out["var"] == pytest.approx(expected.var, rel=1e-12) and out["var_money"] == pytest.approx(
        expected.var * book.equity
    )
    stress = bifrost(home, "risk", "stress", "book", "--window", "1", "--worst", "2", "--json")
    assert stress.returncode == 0, stress.stderr
    assert list(json.loads(stress.stdout)) == ["worst 1d #1", "worst 1d #2"]
    backtest = bifrost(home, "risk", "backtest", "book", "--json")
    assert backtest.returncode == 0, backtest.stderr
    bt = json.loads(backtest.stdout)
    store = EmbeddedStore(home)
    long_book = book_from_store(store, "book", lookback_days=5000)  # the command's default lookback
    store.close()
    pnl = long_book.returns[list(long_book.weights.index)] @ long_book.weights
    assert bt["exceptions"] == var_backtest(pnl).n_exceptions and bt["zone"] in ("green", "yellow", "red")
    empty = bifrost(home, "risk", "var", "empty")
    assert empty.returncode == 2 and "holds no position" in empty.stderr
