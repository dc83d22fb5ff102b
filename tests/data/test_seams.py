"""Two sources for one symbol that disagree about adjustment (issue 12, item 2).

ORCL from backtrader's Yahoo file (1995-01-03 .. 2014-12-31, with Adj Close) and from the
505-stock file (2013-02-08 .. 2018-02-07, without): the merged series has adj_close up to
2014-12-31 and none from 2015-01-02. Read as given, the adjusted close jumped from 42.30
(Yahoo's Adj Close, adjusted for dividends up to its download) to 44.33 (a raw close).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import Adjustment, BarStore, CsvSource, EmbeddedStore, check_quality, ingest
from bifrost.errors import DataQualityWarning
from bifrost.testing import FrameBarSource
from tests.conftest import ORCL, SP500

SEAM = pd.Timestamp("2015-01-02", tz="UTC")


@pytest.fixture(scope="module")
def orcl_5yr() -> FrameBarSource:
    # ORCL's real rows of the 505-stock file to 2015-02-27, parsed once for the module
    return FrameBarSource(CsvSource(SP500, symbol="ORCL").bars(None, None, "2015-03-01"), origin=str(SP500))


def _merged(store: BarStore, orcl_5yr: FrameBarSource) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    ingest(store, orcl_5yr)


def _close(store: BarStore, adjustment: Adjustment, start: str, end: str) -> pd.Series:
    with warnings.catch_warnings():
        # a read over the bars without adj_close warns that they are not dividend-adjusted
        warnings.simplefilter("ignore", DataQualityWarning)
        frame = store.read_bars("ORCL", start, end, fields=["close"], adjustment=adjustment)
    return frame["close"].droplevel("symbol")


def test_adjusted_orcl_across_the_seam_moves_as_the_raw_close(store: BarStore, orcl_5yr: FrameBarSource) -> None:
    _merged(store, orcl_5yr)
    raw = _close(store, "raw", "2014-12-29", "2015-01-06")
    adjusted = _close(store, "adjusted", "2014-12-29", "2015-01-06")
    with pytest.warns(DataQualityWarning, match=r"ORCL \(2 of 5 bars\).* not dividend-adjusted"):
        store.read_bars("ORCL", "2014-12-29", "2015-01-06", adjustment="adjusted")
    # no dividend is known at the seam: the total return across it is the price return
    # (raw 44.97 -> 44.33, -1.42%), not the +4.79% of Yahoo's 42.30 beside a raw 44.33
    np.testing.assert_allclose(adjusted.pct_change()[SEAM:], raw.pct_change()[SEAM:], rtol=1e-12)
    assert adjusted.pct_change()[SEAM] == pytest.approx(44.33 / 44.97 - 1, rel=1e-12)
    assert adjusted[SEAM] == pytest.approx(44.33, abs=1e-9)  # the latest bars are the anchor: unscaled
    # before the seam the source's own total-return factor, rescaled to meet the raw close at the seam:
    # Yahoo's adj close of 2014-12-30 / of 2014-12-31 times the raw close of 2014-12-31
    assert adjusted[pd.Timestamp("2014-12-30", tz="UTC")] == pytest.approx(42.651192 / 42.303135 * 44.97, rel=1e-9)


def test_adjusted_orcl_before_the_seam_keeps_yahoos_daily_returns(tmp_path: Path, orcl_5yr: FrameBarSource) -> None:
    store = EmbeddedStore(tmp_path)
    _merged(store, orcl_5yr)
    adjusted = _close(store, "adjusted", "1995-01-03", "1995-02-01")
    yahoo = pd.read_csv(ORCL, parse_dates=["Date"]).set_index("Date")["Adj Close"]["1995-01-03":"1995-01-31"]
    np.testing.assert_allclose(adjusted.pct_change().iloc[1:], yahoo.pct_change().iloc[1:], rtol=1e-9)


def test_adjusted_orcl_bounded_read_equals_rows_of_an_open_read(tmp_path: Path, orcl_5yr: FrameBarSource) -> None:
    # the factor before a seam depends on the bars after it: a read ending before it sees the same
    store = EmbeddedStore(tmp_path)
    _merged(store, orcl_5yr)
    bounded = _close(store, "adjusted", "2014-12-01", "2014-12-31")
    whole = _close(store, "adjusted", "2014-12-01", "2015-03-01")
    pd.testing.assert_series_equal(bounded, whole[bounded.index])


def test_ingest_report_names_the_seam_of_two_sources(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    report = ingest(store, CsvSource(SP500, symbol="ORCL"), end="2015-03-01")
    assert report.rows_revised > 0
    assert len(report.seams) == 1
    assert report.seams[0].startswith("ORCL 2015-01-02: adj_close ends after 2014-12-31")
    assert "1 seam" in report.summary() and "ORCL 2015-01-02" in report.summary()
    # a source that gives adj_close on every bar of a fresh symbol has none
    assert ingest(EmbeddedStore(tmp_path / "b"), CsvSource(ORCL, symbol="ORCL")).seams == ()


def test_data_check_reports_the_seam_as_its_own_finding(store: BarStore, orcl_5yr: FrameBarSource) -> None:
    _merged(store, orcl_5yr)
    findings = check_quality(store, ["ORCL"]).findings
    seams = findings[findings["check"] == "seam"]
    assert list(seams["ts"]) == [SEAM]
    detail = seams["detail"].iloc[0]
    assert "adj_close ends after 2014-12-31" in detail and "+4.8%" in detail and "-1.4%" in detail
