"""The paper_rebalance step in process: its config, a strategy's target weights, the orders it trades, on real bars.

One store (ORCL, NVDA, YHOO from backtrader's files, 2013-2014) is built once and copied for
each test that trades: the order manager and the paper broker run for real on it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidInputError
from bifrost.execution._manager import list_orders
from bifrost.execution._paper import fill_basis
from bifrost.jobs._pipelines import PaperRebalanceConfig, rebalance_step, target_weights
from bifrost.portfolio import load_portfolio
from bifrost.strategy import FillModel, backtest
from tests.conftest import NVDA, ORCL, YHOO

SYMBOLS = ("NVDA", "ORCL", "YHOO")
FREE = {"commission": 0.0, "slippage_bps": 0.0}  # fills at the bar's price exactly
# two of three names at 49.5% each: over the default 10% single-name limit; limits are tested below
MOMENTUM: dict[str, Any] = {"strategy": "momentum", "params": {"lookback": 20, "top_n": 2, "rebalance": 1}}
SMA: dict[str, Any] = {"strategy": "sma_cross", "params": {"fast": 5, "slow": 20, "size": 0.03, "size_type": "percent"}}


def _ingest(store: BarStore) -> None:
    for path, symbol in ((ORCL, "ORCL"), (NVDA, "NVDA"), (YHOO, "YHOO")):
        ingest(store, CsvSource(path, symbol=symbol), None, "2013-01-01")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("rebalance") / "home"
    with EmbeddedStore(home) as store:
        _ingest(store)
    return home


@pytest.fixture
def bars(template: Path, tmp_path: Path) -> Iterator[EmbeddedStore]:
    shutil.copytree(template, tmp_path / "home")
    store = EmbeddedStore(tmp_path / "home")
    try:
        yield store
    finally:
        store.close()


def _bar(store: BarStore, symbol: str, day: str, field: str) -> float:
    ts = pd.Timestamp(day, tz="UTC")
    return float(store.read_panel([symbol], ts, ts + pd.Timedelta(days=1), frequency="1d")[field][0, 0])


# -- the config ----------------------------------------------------------------------------------------------


def test_paper_rebalance_config_defaults_and_parsed_params() -> None:
    config = PaperRebalanceConfig.from_parameters(params={"lookback": "60", "top_n": 5}, as_of="2014-06-02")
    assert (config.strategy, config.portfolio, config.cash) == ("momentum", "paper", 1_000_000.0)
    assert dict(config.params) == {"lookback": 60, "top_n": 5}  # typed by the strategy's declaration
    assert config.as_of == pd.Timestamp("2014-06-02", tz="UTC")
    assert config.fill.commission.percent == 0.001 and config.fill.slippage_bps == 2.0
    assert PaperRebalanceConfig.from_parameters(params='{"top_n": 3}').params == {"top_n": 3}  # -p params=JSON


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"strategy": "nope"}, "strategy must be one of"),
        ({"params": {"fats": 3}}, "fats"),
        ({"params": {"top_n": "many"}}, "top_n"),
        ({"params": "{not json"}, "params must be a mapping or its JSON text"),
        ({"params": [1, 2]}, "params must map"),
        ({"symbols": ["A\tB"]}, "symbols"),
        ({"as_of": "someday"}, "as_of"),
        ({"start": "2014-06-02", "as_of": "2014-01-02"}, "as_of 2014-01-02 must be after start"),
        ({"portfolio": ""}, "portfolio must be a portfolio's name"),
        ({"portfolio": "A\x00B"}, "paper_rebalance"),
        ({"cash": float("nan")}, "cash"),
        ({"cash": -5.0}, "cash"),
        ({"commission": 2.0}, "commission"),
        ({"slippage_bps": float("inf")}, "slippage_bps"),
    ],
)
def test_paper_rebalance_config_bad_parameter_is_refused_naming_it(given: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInputError, match="paper_rebalance") as caught:
        PaperRebalanceConfig.from_parameters(**given)
    assert named in str(caught.value)


# -- target weights ------------------------------------------------------------------------------------------


def test_target_weights_of_momentum_are_its_target_percent_for_the_names_it_picks(template: Path) -> None:
    with EmbeddedStore(template) as store:
        panel = store.read_panel(list(SYMBOLS), None, "2014-06-03", adjustment="split_adjusted")
        full = store.read_panel(list(SYMBOLS), None, "2014-06-05", adjustment="split_adjusted")
    weights = target_weights(panel, "momentum", MOMENTUM["params"], fill=FillModel())
    assert weights.name == pd.Timestamp("2014-06-02", tz="UTC") and list(weights.index) == list(SYMBOLS)
    picked = weights[weights > 0]
    assert len(picked) == 2 and (weights >= 0).all()
    # 0.99 / 2 of the equity each, less at most one share (lot 1, about 40 on a million)
    assert np.allclose(picked, 0.495, atol=1e-4), picked
    # the names the backtest itself buys at the next day's open, on the same signals
    positions = backtest(full, "momentum", MOMENTUM["params"]).positions
    held = positions.columns[positions.loc[pd.Timestamp("2014-06-03", tz="UTC")].to_numpy() > 0]
    assert set(picked.index) == set(held)


def test_target_weights_of_sma_cross_percent_sizing_hold_each_entry_at_its_size(template: Path) -> None:
    with EmbeddedStore(template) as store:
        panel = store.read_panel(list(SYMBOLS), None, "2014-06-03", adjustment="split_adjusted")
    weights = target_weights(panel, "sma_cross", SMA["params"], fill=FillModel())
    assert ((weights == 0) | ((weights > 0.02) & (weights < 0.04))).all(), weights  # 3% at entry, drifted since


# -- the step ------------------------------------------------------------------------------------------------


def test_rebalance_step_sends_the_targets_and_they_fill_at_the_next_open(bars: EmbeddedStore) -> None:
    first = rebalance_step(bars, PaperRebalanceConfig.from_parameters(**SMA, **FREE, as_of="2014-06-02"))
    assert first.as_of == pd.Timestamp("2014-06-02", tz="UTC") and not first.repeated
    assert first.equity == 1_000_000.0  # the new portfolio's deposit
    sent = {o.symbol: o for o in first.orders}
    for symbol, row in first.table().iterrows():
        expected = int(row["weight"] * 1_000_000.0 / _bar(bars, str(symbol), "2014-06-02", "close"))
        assert row["target"] == row["order"] == expected > 0  # whole shares, rounded down
        assert sent[str(symbol)].quantity == Decimal(expected) and str(sent[str(symbol)].status) == "accepted"
    assert first.result()["working"] == len(first.orders) == 3

    # the next day: the broker's market steps to it, yesterday's orders fill at its open
    second = rebalance_step(bars, PaperRebalanceConfig.from_parameters(**SMA, **FREE, as_of="2014-06-03"))
    ledger = load_portfolio(bars, "paper", store_dividends=False)
    for symbol, order in sent.items():
        assert ledger.position(symbol).quantity == order.quantity
    blotter = second.blotter.set_index("symbol")
    for symbol in sent:
        assert blotter.at[symbol, "status"] == "filled"
        assert blotter.at[symbol, "avg_fill_price"] == _bar(bars, symbol, "2014-06-03", "open")


def test_rebalance_step_on_the_last_bar_fills_at_its_close_and_a_rerun_sends_nothing(bars: EmbeddedStore) -> None:
    config = PaperRebalanceConfig.from_parameters(**SMA, **FREE)  # as_of: the store's last bar
    step = rebalance_step(bars, config)
    assert step.as_of == pd.Timestamp("2014-12-31", tz="UTC")
    assert step.orders and all(str(o.status) == "filled" for o in step.orders)
    for order in step.orders:
        (trade,) = order.trade_ids
        assert fill_basis(trade) == "last_close"
        assert order.avg_fill_price == Decimal(repr(_bar(bars, order.symbol, "2014-12-31", "close")))
    assert step.result()["filled"] == len(step.orders)
    again = rebalance_step(bars, config)
    assert again.repeated and {o.order_id for o in again.orders} == {o.order_id for o in step.orders}
    assert len(list_orders(bars, portfolio="paper")) == len(step.orders)  # nothing sent twice


def test_rebalance_step_client_order_ids_name_the_day_or_hash_a_name_an_id_cannot_hold(bars: EmbeddedStore) -> None:
    plain = rebalance_step(bars, PaperRebalanceConfig.from_parameters(**SMA))
    assert sorted(o.client_order_id for o in plain.orders) == [f"rebal:20141231:paper:{s}" for s in SYMBOLS]
    config = PaperRebalanceConfig.from_parameters(**SMA, portfolio="paper: the desk's")  # a space, a colon, a quote
    spaced = rebalance_step(bars, config)
    ids = {o.client_order_id for o in spaced.orders}
    assert len(ids) == 3 and all(i.startswith("rebal:20141231:") and len(i) == 47 for i in ids)
    assert rebalance_step(bars, config).repeated  # found again by the same ids


def test_rebalance_step_orders_over_the_risk_limits_are_rejected_with_the_reason(bars: EmbeddedStore) -> None:
    step = rebalance_step(bars, PaperRebalanceConfig.from_parameters(**MOMENTUM, as_of="2014-06-02"))
    assert len(step.orders) == 2 and all(str(o.status) == "rejected" for o in step.orders)
    assert all("single_name" in "; ".join(o.reasons) for o in step.orders)
    assert step.result()["rejected"] == 2 and len(step.result()["rejections"]) == 2
    assert set(step.blotter["status"]) == {"rejected"}  # recorded and visible in the day's blotter


def test_rebalance_step_earlier_day_than_the_broker_has_reached_is_refused(bars: EmbeddedStore) -> None:
    rebalance_step(bars, PaperRebalanceConfig.from_parameters(**SMA, as_of="2014-06-03"))
    with pytest.raises(InvalidInputError, match="only moves forward"):
        rebalance_step(bars, PaperRebalanceConfig.from_parameters(**SMA, as_of="2014-06-02"))


def test_rebalance_step_without_bars_names_the_job(tmp_path: Path) -> None:
    refused = pytest.raises(InvalidInputError, match="paper_rebalance: the store has no daily bars")
    with EmbeddedStore(tmp_path / "home") as empty, refused:
        rebalance_step(empty, PaperRebalanceConfig.from_parameters())


@pytest.mark.postgres
def test_rebalance_step_on_postgresql_fills_at_the_last_close(pg_url: str, pg_schema: str, tmp_path: Path) -> None:
    from bifrost.data._postgres import PostgresStore

    with PostgresStore(pg_url, home=tmp_path / "home", schema=pg_schema, timescale=False) as store:
        _ingest(store)
        step = rebalance_step(store, PaperRebalanceConfig.from_parameters(**SMA, **FREE))
        assert step.orders and all(str(o.status) == "filled" for o in step.orders)
        ledger = load_portfolio(store, "paper", store_dividends=False)
        assert {o.symbol: o.filled_quantity for o in step.orders} == {
            p.symbol: p.quantity for p in ledger.positions() if p.quantity
        }
