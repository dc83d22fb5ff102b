"""A backtest on raw prices across a recorded split warns; split-adjusted prices trade through it."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from bifrost.data import EmbeddedStore, SyntheticMarket, ingest
from bifrost.errors import DataQualityWarning
from bifrost.strategy import backtest, sweep, walk_forward

START, END = "2015-06-01", "2015-12-31"  # CON001 of the demo market splits 3:1 on 2015-10-01


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    store = EmbeddedStore(Path(tmp_path_factory.mktemp("raw-splits")))
    # the demo market `bifrost run` fills (20 symbols, 750 days, seed 7), CON001 alone
    ingest(store, SyntheticMarket(n_symbols=20, n_days=750, seed=7), symbols=["CON001"])
    return store


def test_read_panel_raw_across_split_lists_it(demo_store: EmbeddedStore) -> None:
    raw = demo_store.read_panel(["CON001"], START, END)
    assert [(s, f"{ts:%Y-%m-%d}", r) for s, ts, r in raw.raw_splits] == [("CON001", "2015-10-01", 3.0)]
    assert demo_store.read_panel(["CON001"], START, "2015-09-30").raw_splits == ()
    assert demo_store.read_panel(["CON001"], START, END, adjustment="split_adjusted").raw_splits == ()


def test_backtest_raw_across_split_warns_at_the_callers_line(demo_store: EmbeddedStore) -> None:
    raw = demo_store.read_panel(["CON001"], START, END)
    expected = r"CON001 3:1 split on 2015-10-01.*use adjustment='split_adjusted'"
    with pytest.warns(DataQualityWarning, match=expected) as w:
        result = backtest(raw, "buy_and_hold")
    assert w[0].filename == __file__
    # the false crash QA saw: 100 shares kept through the split, sold at a third of the price
    assert result.metrics["total_return"] < -0.5
    adjusted = demo_store.read_panel(["CON001"], START, END, adjustment="split_adjusted")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fair = backtest(adjusted, "buy_and_hold")
    assert -0.3 < fair.metrics["total_return"] < 0.3


def test_sweep_and_walk_forward_raw_across_split_warn(demo_store: EmbeddedStore) -> None:
    raw = demo_store.read_panel(["CON001"], START, END)
    with pytest.warns(DataQualityWarning, match="use adjustment='split_adjusted'") as w:
        sweep(raw, "sma_cross", {"fast": [5], "slow": [20]})
    assert w[0].filename == __file__
    with pytest.warns(DataQualityWarning, match="CON001 3:1 split on 2015-10-01") as w:
        walk_forward(raw, "sma_cross", {"fast": [5], "slow": [20]}, train_bars=60, test_bars=30)
    assert {x.filename for x in w} == {__file__}
