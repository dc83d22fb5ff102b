"""How a BacktestResult shows itself: print, repr, the notebook HTML, and its tearsheet's exposure."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bifrost.data import EmbeddedStore
from bifrost.strategy import BacktestResult, backtest


@pytest.fixture(scope="module")
def result(real_store: EmbeddedStore) -> BacktestResult:
    panel = real_store.read_panel(["ORCL"], "2010-01-01")
    return backtest(panel, "sma_cross", {"fast": 10, "slow": 30, "size": 100})


def test_print_is_a_short_summary_not_the_dataclass(result: BacktestResult) -> None:
    text = str(result)
    lines = text.splitlines()
    assert len(lines) == 3 and lines[0].startswith("Backtest sma_cross {'fast': 10, 'slow': 30, 'size': 100} on ORCL")
    assert "2010-01-04 … 2014-12-31, 1,258 bars" in lines[0]
    assert f"final value {result.final_value:,.2f}" in text and f"{result.n_trades:,} trades" in text
    assert "no costs" in text  # commission zero is said where a user sees it
    assert "DataFrame" not in text and "positions=" not in text and "dtype" not in text
    assert len(repr(result)) < 200 and repr(result).startswith("<BacktestResult sma_cross")


def test_html_shows_integers_as_integers_and_an_equity_chart_with_axes(result: BacktestResult) -> None:
    page = result._repr_html_()
    assert f"<th style='text-align:left'>n_trades</th><td>{result.n_trades}</td>" in page
    assert re.search(r"<th style='text-align:left'>n_fills</th><td>\d+</td>", page)
    assert f"<td>{result.metrics['total_return']:.2%}</td>" in page and "0000</td>" not in page
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert svg.count("<line") >= 8  # two axes and their ticks
    assert ">2010-01-04</text>" in svg and ">2014-12-31</text>" in svg  # the date axis
    assert f">{result.equity.max():,.0f}</text>" in svg and f">{result.equity.min():,.0f}</text>" in svg


def test_tearsheet_exposure_is_the_fraction_of_equity_held(result: BacktestResult) -> None:
    sheet = result.tearsheet()
    (fig,) = [f for name, f in sheet.figures if name.startswith("Exposure")]
    net = next(t for t in fig.data if t.name == "net")
    expected = ((result.equity - result.cash) / result.equity).to_numpy()
    np.testing.assert_allclose(np.asarray(net.y, dtype=float), expected, rtol=1e-12)
    assert np.nanmin(expected) >= 0.0 and np.nanmax(expected) < 0.1  # 100 shares of ORCL in 100,000
