"""Data-quality checks on real files, with the findings a quant would expect."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, check_quality, ingest, record_actions
from tests.conftest import ORCL, SP500

UTC = "UTC"


@pytest.fixture(scope="module")
def sp500(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path_factory.mktemp("q"))
    ingest(store, CsvSource(SP500), symbols=["DISCA", "LNT", "AAPL", "BHF", "WRK"], on_error="repair")
    return store


def _has(findings: pd.DataFrame, symbol: str, date: str, check: str) -> bool:
    hit = findings[(findings["symbol"] == symbol) & (findings["check"] == check)]
    return pd.Timestamp(date, tz=UTC) in set(hit["ts"])


def test_quality_quarantined_bad_print_shows_as_a_calendar_gap(sp500: EmbeddedStore) -> None:
    # LNT 2016-05-19 was dropped into quarantine (low above close): the calendar misses it
    report = check_quality(sp500)
    assert _has(report.findings, "LNT", "2016-05-19", "gap")
    assert not _has(report.findings, "AAPL", "2016-05-19", "gap")


def test_quality_unrecorded_split_is_an_outlier_until_recorded(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(SP500, symbol="DISCA"))
    before = check_quality(store).findings
    assert _has(before, "DISCA", "2014-08-07", "outlier")  # raw close 83.02 → 40.975
    assert "-50.6%" in before.loc[before["check"] == "outlier", "detail"].iloc[0]
    record_actions(store, pd.DataFrame([{"symbol": "DISCA", "ts": "2014-08-07", "kind": "split", "value": 2.0}]))
    assert not _has(check_quality(store).findings, "DISCA", "2014-08-07", "outlier")


def test_quality_missing_adj_close_after_a_source_without_it(tmp_path: Path) -> None:
    # ORCL from Yahoo (with Adj Close, to 2014-12-31), then the 505-stock file (no adj_close,
    # to 2018-02-07): overlapping bars keep Yahoo's adj_close; the 781 bars only the second
    # file has, 2015-01-02 on, lack it: one run, one finding
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    ingest(store, CsvSource(SP500, symbol="ORCL"))
    missing = check_quality(store).findings.query("check == 'missing'")
    assert missing["ts"].tolist() == [pd.Timestamp("2015-01-02", tz=UTC)]
    assert missing["detail"].tolist() == ["adj_close missing on 781 bar(s) from here"]


def test_quality_stale_run_of_unchanged_closes_is_found(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    days = pd.bdate_range("2020-01-01", periods=12)
    close = [10.0, 10.5, 10.2, 10.2, 10.2, 10.2, 10.2, 10.2, 10.4, 10.1, 10.3, 10.6]
    frame = pd.DataFrame(
        {"symbol": "STL", "ts": days, "open": close, "high": close, "low": close, "close": close, "volume": 100.0}
    )
    from bifrost.data import FrameBarSource

    ingest(store, FrameBarSource(frame))
    stale = check_quality(store, stale_days=5).findings.query("check == 'stale'")
    assert stale[["ts", "detail"]].values.tolist() == [
        [pd.Timestamp("2020-01-03", tz=UTC), "close 10.2 unchanged for 6 bars"]
    ]
