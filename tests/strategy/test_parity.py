"""The fast engine against backtrader itself on three real series, fill by fill."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from bifrost.analytics import sharpe_ratio
from bifrost.data import BarStore, CsvSource, EmbeddedStore, Panel, ingest
from bifrost.portfolio import value_ledger
from bifrost.strategy import Commission, FillModel, backtest
from bifrost.strategy import _kernel as K
from bifrost.strategy._bridge import equity_metrics, run_backtrader
from tests.conftest import ORCL
from tests.strategy.conftest import SERIES, SmaCross, backtrader_on_file


@pytest.mark.parametrize("commission", [0.0, 0.001], ids=["no-commission", "0.1%"])
@pytest.mark.parametrize("symbol", ["ORCL", "NVDA", "YHOO"])
def test_sma_cross_reproduces_backtrader_fills_and_final_value(
    real_store: EmbeddedStore, symbol: str, commission: float
) -> None:
    panel = real_store.read_panel([symbol])
    fill = FillModel(commission=Commission(percent=commission))
    ours = backtest(panel, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, fill=fill)
    theirs = run_backtrader(panel, SmaCross, {"fast": 10, "slow": 30}, fill=fill)
    assert len(ours.fills) == len(theirs.fills) > 100
    assert (ours.fills["ts"] == theirs.fills["ts"]).all()
    assert (ours.fills["side"] == theirs.fills["side"]).all()
    for column in ("quantity", "price", "commission"):
        np.testing.assert_allclose(ours.fills[column], theirs.fills[column], rtol=1e-9, atol=0)
    assert ours.final_value == pytest.approx(theirs.final_value, rel=1e-9)
    np.testing.assert_allclose(ours.equity, theirs.equity, rtol=1e-9)
    np.testing.assert_allclose(ours.trades["pnl_net"], theirs.trades["pnl_net"], rtol=1e-9, atol=1e-9)
    # and the bridge's feed is the file as backtrader's own reader sees it
    assert ours.final_value == pytest.approx(backtrader_on_file(SERIES[symbol], commission=commission), rel=1e-9)


def test_orcl_reference_backtest_golden_values(orcl: Panel) -> None:
    # the reference (backtrader 1.9.78 on the file): 102646.0652 with 195 fills;
    # the first entry is the 2004-06-29 tie resolved as backtrader resolves it
    r = backtest(orcl, "sma_cross", {"fast": 10, "slow": 30, "size": 100})
    assert r.final_value == pytest.approx(102646.0652, abs=1e-6)
    assert len(r.fills) == 195 and r.n_trades == 97
    entries_2004 = r.fills[(r.fills["side"] == "buy") & (r.fills["ts"].dt.year == 2004)]["ts"].dt.date.astype(str)
    assert "2004-06-30" not in set(entries_2004)  # a plain running sum would enter here, a day early


def test_engine_metrics_equal_the_reference_computed_from_the_curve(orcl: Panel) -> None:
    r = backtest(
        orcl, "sma_cross", {"fast": 5, "slow": 60, "size": 300}, fill=FillModel(commission=Commission(percent=0.002))
    )
    reference = equity_metrics(
        r.equity.to_numpy(), r.initial_cash, r.trades["pnl_net"].to_numpy(), len(r.fills),
        int((r.orders["status"] == "rejected").sum()), float(r.fills["commission"].sum()),
        float((r.positions != 0).any(axis=1).mean()),
    )  # fmt: skip
    ours = np.array([r.metrics[m] for m in K.METRICS])
    np.testing.assert_allclose(ours, reference, rtol=1e-9)
    assert r.metrics["sharpe_ratio"] == pytest.approx(sharpe_ratio(r.returns.to_numpy()), rel=1e-9)
    assert r.stats()["max_drawdown"][0] == pytest.approx(r.metrics["max_drawdown"], rel=1e-9)


def test_backtest_ledger_values_to_the_engine_equity_every_day(orcl: Panel) -> None:
    r = backtest(
        orcl, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, fill=FillModel(commission=Commission(percent=0.001))
    )
    ledger = r.ledger("orcl-sma")
    assert len(ledger.transactions) == len(r.fills) + 1
    assert ledger.cash == pytest.approx(Decimal(repr(float(r.cash.iloc[-1]))), abs=Decimal("1e-6"))
    valuation = value_ledger(ledger, orcl)
    np.testing.assert_allclose(valuation.equity, r.equity.to_numpy(), rtol=0, atol=1e-6)


def test_result_json_lists_fills_in_time_order(orcl: Panel) -> None:
    r = backtest(orcl, "sma_cross", {"fast": 10, "slow": 30, "size": 100})
    out = r.to_dict()
    assert out["final_value"] == r.final_value and out["n_trades"] == 97
    ts = [pd.Timestamp(f["ts"]) for f in out["fills"]]
    assert ts == sorted(ts) and set(out["fills"][0]) == {"ts", "symbol", "side", "quantity", "price", "commission"}
    assert "<svg" in r._repr_html_() and "final_value" in r._repr_html_()


def test_every_store_backend_gives_backtraders_orcl_result(store: BarStore) -> None:
    # the parity depends on bit-exact prices (the 2004-06-29 SMA tie): each backend must
    # hand back exactly the floats backtrader parses from the file
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    r = backtest(store.read_panel(["ORCL"]), "sma_cross", {"fast": 10, "slow": 30, "size": 100})
    assert r.final_value == backtrader_on_file(ORCL) and len(r.fills) == 195
