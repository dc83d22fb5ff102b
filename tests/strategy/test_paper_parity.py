"""Paper parity: ORCL stepped day by day through the order manager and the paper broker equals the backtest.

The series is the backtrader golden test's (tests/strategy/test_parity.py: the whole
orcl-1995-2014.txt, sma_cross fast 10 / slow 30 / 100 shares, whose backtest equals
backtrader's: 102646.0652 with 195 fills). Equality here is exact: the same floats.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, Panel, ingest
from bifrost.data._postgres import PostgresStore
from bifrost.errors import InsufficientDataError, InvalidInputError
from bifrost.execution._fills import Commission, FillModel
from bifrost.execution._manager import list_orders
from bifrost.portfolio import load_portfolio
from bifrost.strategy import Signals, backtest
from bifrost.strategy._paper import PaperRun, paper_trade
from bifrost.strategy.indicators import crossover, sma
from tests.conftest import ORCL

COLUMNS = ["ts", "side", "quantity", "price", "commission"]


@pytest.fixture(scope="module")
def orcl_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path_factory.mktemp("paper-parity") / "home")
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    yield store
    store.close()


def assert_parity(store: BarStore, run: PaperRun, fill: FillModel, *, start: str | None = None, n: int = 195) -> None:
    panel = store.read_panel(["ORCL"], start, adjustment="split_adjusted")
    expected = backtest(panel, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, fill=fill)
    assert len(run.fills) == len(expected.fills) == n
    pd.testing.assert_frame_equal(
        run.fills[COLUMNS].reset_index(drop=True), expected.fills[COLUMNS].reset_index(drop=True), check_exact=True
    )
    assert run.final_value == expected.final_value  # to the bit
    assert set(run.fills["basis"]) == {"next_open"}
    # the order manager's records: every order filled, every fill in the ledger
    orders = list_orders(store, portfolio=run.portfolio)
    assert len(orders) == len(run.order_ids) == n and set(orders["status"]) == {"filled"}
    ledger = load_portfolio(store, run.portfolio)
    assert len(ledger.transactions) == 1 + n  # the deposit and the fills
    assert abs(run.ledger_value - Decimal(repr(expected.final_value))) < Decimal("1e-6")  # Decimal vs float


@pytest.mark.parametrize(
    "fill", [FillModel(), FillModel(commission=Commission(percent=0.001))], ids=["no-commission", "0.1%"]
)
def test_paper_trading_orcl_gives_the_backtests_fills_and_final_value(
    orcl_store: EmbeddedStore, fill: FillModel
) -> None:
    run = paper_trade(orcl_store, "sma_cross", "ORCL", fill_model=fill, portfolio=f"parity-{uuid.uuid4().hex[:8]}")
    assert_parity(orcl_store, run, fill)
    if fill.commission.percent == 0:
        assert run.final_value == pytest.approx(102646.0652, abs=1e-6)  # backtrader's (test_parity.py)


def test_paper_trading_orcl_on_postgresql_gives_the_backtests(pg_url: str, pg_schema: str, tmp_path: Path) -> None:
    # the whole file takes 20-40 s on PostgreSQL here (six commits an order): its last two years only
    store = PostgresStore(pg_url, home=tmp_path / "home", schema=pg_schema, timescale=False)
    try:
        ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2013-01-01")
        fill = FillModel(commission=Commission(percent=0.001))
        run = paper_trade(store, "sma_cross", "ORCL", start="2013-01-01", fill_model=fill, portfolio="parity")
        assert_parity(store, run, fill, start="2013-01-01", n=19)
    finally:
        store.close()


def limit_cross(panel: Panel, *, fast: int = 10, slow: int = 30, size: float = 100.0) -> Signals:
    """sma_cross entering with a limit order 1% under the signal's close (on the cent): GTC until filled or replaced."""
    close = panel["close"]
    cross = crossover(sma(close, fast), sma(close, slow))
    return Signals(entries=cross > 0.0, exits=cross < 0.0, size=size, limit_price=np.round(close * 0.99, 2))


def test_paper_trading_limit_entries_gives_the_backtests(orcl_store: EmbeddedStore) -> None:
    # limit orders that wait for the bar's range, and entries that replace an unfilled one
    run = paper_trade(orcl_store, limit_cross, "ORCL", start="2011-01-01", portfolio=f"lim-{uuid.uuid4().hex[:8]}")
    panel = orcl_store.read_panel(["ORCL"], "2011-01-01", adjustment="split_adjusted")
    expected = backtest(panel, limit_cross)
    pd.testing.assert_frame_equal(
        run.fills[COLUMNS].reset_index(drop=True), expected.fills[COLUMNS].reset_index(drop=True), check_exact=True
    )
    assert run.final_value == expected.final_value
    assert {"bar_range", "next_open"} <= set(run.fills["basis"])
    replaced = expected.orders[expected.orders["reason"] == "replaced"]
    assert len(replaced) > 0  # the kernel replaced unfilled entries: the paper run canceled as many
    orders = list_orders(orcl_store, portfolio=run.portfolio)
    assert (orders["status"] == "canceled").sum() == len(replaced)


def test_paper_trading_runs_on_its_own_venue_beside_another_run(orcl_store: EmbeddedStore) -> None:
    # two replays of the same history on one store: each broker venue has its own clock
    a = paper_trade(orcl_store, "sma_cross", "ORCL", start="2014-01-01", portfolio=f"a-{uuid.uuid4().hex[:8]}")
    b = paper_trade(orcl_store, "sma_cross", "ORCL", start="2014-01-01", portfolio=f"b-{uuid.uuid4().hex[:8]}")
    assert len(a.fills) == len(b.fills) > 0 and a.final_value == b.final_value
    np.testing.assert_array_equal(a.fills["price"], b.fills["price"])


@pytest.mark.parametrize(
    ("strategy", "params", "kw", "match"),
    [
        ("momentum", {}, {}, "returned Orders"),
        ("sma_cross", {"size_type": "value", "size": 1000.0}, {}, "size_type='value'"),
        ("sma_cross", {}, {"cash": float("nan")}, "cash must be"),
        ("sma_cross", {}, {"cash": 0}, "cash must be"),
        ("sma_cross", {}, {"fill_model": "open"}, "fill_model must be"),
        ("sma_cross", {"fast": 30, "slow": 10}, {}, "violate"),
        ("nope", {}, {}, "no strategy 'nope'"),
    ],
)
def test_paper_trade_refuses_what_it_cannot_replay(
    orcl_store: EmbeddedStore, strategy: str, params: dict[str, object], kw: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        paper_trade(orcl_store, strategy, "ORCL", params=params, portfolio=f"bad-{uuid.uuid4().hex[:8]}", **kw)  # type: ignore[arg-type]


def test_paper_trade_refuses_a_taken_portfolio_and_an_empty_range(orcl_store: EmbeddedStore) -> None:
    name = f"taken-{uuid.uuid4().hex[:8]}"
    paper_trade(orcl_store, "sma_cross", "ORCL", start="2014-12-01", portfolio=name)
    with pytest.raises(InvalidInputError, match="already exists"):
        paper_trade(orcl_store, "sma_cross", "ORCL", start="2014-12-01", portfolio=name)
    with pytest.raises(InsufficientDataError):
        paper_trade(orcl_store, "sma_cross", "ORCL", start="2016-01-01", portfolio=f"e-{uuid.uuid4().hex[:8]}")
