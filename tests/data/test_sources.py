"""Sources on real data: Yahoo (recorded response shape), SPY dividends, synthetic determinism."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import (
    BarStore,
    CsvSource,
    EmbeddedStore,
    Panel,
    SyntheticMarket,
    YahooSource,
    ingest,
    read_fama_french,
    validate_bars,
)
from bifrost.data._yahoo import RateLimited
from bifrost.errors import DataSourceError, InvalidInputError, SchemaError, ValidationError
from bifrost.testing import FrameBarSource
from tests.conftest import BT_DAY, ORCL, SPY

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def recorded_download(*_: object) -> pd.DataFrame:
    """yfinance.download(["NVDA", "ORCL"], auto_adjust=False, actions=True, ignore_tz=False) output shape."""
    frame = pd.read_csv(FIXTURES / "yfinance_download_nvda_orcl_2014-12.csv", header=[0, 1], index_col=0)
    frame.index = pd.to_datetime(frame.index, utc=True).tz_convert("America/New_York")
    frame.index.name = "Date"
    frame.columns.names = ["Price", "Ticker"]
    return frame


def test_yahoo_recorded_multiindex_response_becomes_raw_bars(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    report = ingest(store, YahooSource(fetch=lambda sym, s, e: recorded_download()), ["ORCL", "NVDA"])
    assert report.rows_new == 2 * 22 and report.source == "yahoo"
    bars = store.read_bars("ORCL").loc["ORCL"]
    # same prices as the Yahoo CSV of the same days, and session dates at 00:00 UTC
    assert bars.loc["2014-12-31", "close"] == 44.970001
    assert bars.index[0] == pd.Timestamp("2014-12-01", tz="UTC")
    actions = store.read_actions()
    assert actions[["symbol", "kind", "value"]].values.tolist() == [["ORCL", "dividend", 0.12]]


def test_yahoo_rate_limit_retries_with_backoff_then_succeeds() -> None:
    calls: list[str] = []
    waits: list[float] = []

    def flaky(sym: str, start: str | None, end: str | None) -> pd.DataFrame:
        calls.append(sym)
        if len(calls) < 3:
            raise RateLimited("Too Many Requests")
        return recorded_download()

    frame = YahooSource(fetch=flaky, backoff_s=1.5, sleep=waits.append).bars(["ORCL"])
    assert len(frame) == 22 and waits == [1.5, 3.0]


def test_yahoo_rate_limit_past_retries_is_data_source_error() -> None:
    def always(*_: object) -> pd.DataFrame:
        raise RateLimited("Too Many Requests")

    with pytest.raises(DataSourceError, match="ORCL: still rate-limited after 2 retries"):
        YahooSource(fetch=always, max_retries=2, sleep=lambda s: None).bars(["ORCL"])


def test_yahoo_offline_is_a_clear_data_source_error() -> None:
    def offline(*_: object) -> pd.DataFrame:
        raise ConnectionError("Could not resolve host: query2.finance.yahoo.com")

    with pytest.raises(DataSourceError, match=r"yahoo: ORCL: download failed \(ConnectionError.*offline"):
        YahooSource(fetch=offline).bars(["ORCL"])


def test_yahoo_unknown_symbol_is_a_clear_data_source_error() -> None:
    with pytest.raises(DataSourceError, match="yahoo: NOPE: not in the response"):
        YahooSource(fetch=lambda *a: recorded_download()).bars(["NOPE"])
    with pytest.raises(DataSourceError, match="yahoo: NOPE: no data returned"):
        YahooSource(fetch=lambda *a: pd.DataFrame()).bars(["NOPE"])


def test_spy_dividend_events_reproduce_the_vendors_adjusted_close(store: BarStore) -> None:
    report = ingest(store, CsvSource(SPY, symbol="SPY"))  # newest-first file, read as oldest-first
    assert report.rows_new == 5303 and report.actions == 85  # the file's dividend_amount > 0 rows
    # Our total-return factor (CRSP: 1 - dividend / previous close) against the vendor's
    # (Alpha Vantage) adjusted close: daily total returns agree to ~1e-12 on every day that
    # is not an ex-date; on the 85 ex-dates the two conventions differ by up to 2.7e-4, and
    # the levels, compounded back to 1999, by at most 0.07%.
    ours = store.read_bars("SPY", adjustment="adjusted", fields=["close"])["close"].to_numpy()
    raw = store.read_bars("SPY", fields=["close", "adj_close"])
    vendor = raw["adj_close"].to_numpy()
    gap = np.abs(np.diff(np.log(ours)) - np.diff(np.log(vendor)))
    ex = np.isin(raw.index.get_level_values("ts")[1:], store.read_actions()["ts"])
    assert ex.sum() == 85
    assert gap[~ex].max() < 1e-9 and gap[ex].max() < 3e-4
    np.testing.assert_allclose(ours, vendor, rtol=7e-4)
    assert raw.loc[("SPY", pd.Timestamp("2020-09-18", tz="UTC")), "close"] == 330.65


def test_backtrader_format_file_is_read_and_openinterest_ignored(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    report = ingest(store, CsvSource(BT_DAY, symbol="BT"))
    assert report.rows_new == 255
    assert store.read_bars("BT").loc["BT"].iloc[0].tolist() == [3578.73, 3605.95, 3578.73, 3604.33, 0.0]


def test_synthetic_market_is_deterministic_and_realistic() -> None:
    a = SyntheticMarket(n_symbols=20, n_days=750, seed=11).bars()
    b = SyntheticMarket(n_symbols=20, n_days=750, seed=11).bars()
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(SyntheticMarket(n_symbols=20, n_days=750, seed=12).bars())
    total = SyntheticMarket(n_symbols=20, n_days=750, seed=11).total_log_returns()[1:]
    excess_kurtosis = ((total - total.mean(0)) ** 4).mean(0) / total.var(0) ** 2 - 3
    assert np.median(excess_kurtosis) > 1.0  # fat tails
    corr = np.corrcoef(total.T)[np.triu_indices(20, 1)]
    assert 0.1 < corr.mean() < 0.7  # a common market factor
    abs_r = np.abs(total - total.mean(0))
    acf1 = [np.corrcoef(abs_r[:-1, j], abs_r[1:, j])[0, 1] for j in range(20)]
    assert np.median(acf1) > 0.05  # volatility clustering
    assert (a["high"] >= a[["open", "close"]].max(axis=1)).all() and (
        a["low"] <= a[["open", "close"]].min(axis=1)
    ).all()


def test_csv_orcl_range_filter_is_half_open() -> None:
    frame = CsvSource(ORCL, symbol="ORCL").bars(start="1995-01-04", end="1995-01-06")
    assert frame["ts"].tolist() == ["1995-01-04", "1995-01-05"]


def test_csv_missing_file_is_data_source_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="no such file"):
        CsvSource(tmp_path / "nope.csv", symbol="X").bars()


def test_frame_source_honours_half_open_bounds_like_every_source() -> None:
    # the BarSource protocol promises [start, end); FrameBarSource used to ignore the bounds
    frame = CsvSource(ORCL, symbol="ORCL").bars(end="1995-02-01")
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize("UTC")
    source = FrameBarSource(frame)
    got = source.bars(start="1995-01-04", end="1995-01-06")["ts"].dt.strftime("%Y-%m-%d").tolist()
    assert got == ["1995-01-04", "1995-01-05"]
    synthetic = SyntheticMarket(n_symbols=2, n_days=10, seed=1).bars(start="2015-01-05", end="2015-01-07")
    assert synthetic["ts"].dt.strftime("%Y-%m-%d").unique().tolist() == ["2015-01-05", "2015-01-06"]


@pytest.mark.parametrize(("field", "value"), [("Close", np.inf), ("Volume", np.inf), ("High", 1e308)])
def test_yahoo_recorded_response_with_non_finite_value_is_refused(field: str, value: float, tmp_path: Path) -> None:
    def tampered(*_: object) -> pd.DataFrame:
        frame = recorded_download()
        column = frame[(field, "ORCL")].astype(np.float64)  # yfinance's volumes are int64
        column.iloc[3] = value
        frame[(field, "ORCL")] = column
        return frame

    store = EmbeddedStore(tmp_path)
    with pytest.raises(ValidationError, match=rf"yahoo: ORCL 2014-12-04 {field.lower()}: (non-finite|implausible)"):
        ingest(store, YahooSource(fetch=tampered), ["ORCL"])
    assert store.list_symbols().empty


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"symbols": ["OR CL"]}, "is not a valid symbol"),
        ({"symbols": ["ORCL"], "start": "1600-01-01"}, "start must be a date from 1678-01-01"),
        ({"symbols": ["ORCL"], "end": "garbage"}, "end must be a date such as"),
        ({"symbols": []}, "at least one symbol"),
    ],
)
def test_yahoo_bad_arguments_are_invalid_input_before_any_download(kwargs: dict[str, object], expected: str) -> None:
    def never(*_: object) -> pd.DataFrame:
        raise AssertionError("no download may start")

    with pytest.raises(InvalidInputError, match=expected):
        YahooSource(fetch=never).bars(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"start": "garbage"}, "start must be a date such as 2014-01-31"),
        ({"start": "1600-01-01"}, "start must be a date from 1678-01-01"),
        ({"start": "2261-06-01"}, "runs past 2261-12-31"),
        ({"n_symbols": 5_000, "n_days": 5_000}, "is 25,000,000 bars; at most 10,000,000 are generated"),
        ({"n_days": 10**9}, "n_days must be an integer from 2 to 10,000,000 trading days"),
        ({"n_symbols": 2.5}, "n_symbols must be an integer"),
        ({"n_symbols": True}, "n_symbols must be an integer"),
        ({"seed": -1}, "seed must be an integer from 0"),
    ],
)
def test_synthetic_bad_arguments_are_invalid_input(kwargs: dict[str, object], expected: str) -> None:
    with pytest.raises(InvalidInputError, match=expected):
        SyntheticMarket(**kwargs)  # type: ignore[arg-type]


def test_synthetic_large_market_volumes_stay_plausible() -> None:
    # Student-t days beyond 10 sigma once drove volumes to 2e18 shares, which ingest refuses
    bars = SyntheticMarket(n_symbols=200, n_days=2500, seed=0).bars()
    assert bars["volume"].max() < 1e10
    validate_bars(bars, origin="synthetic")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("19260701,inf,-0.25,-0.27,0.01", r":3: factor value inf is not a percent return"),
        ("19260701,1e400,-0.25,-0.27,0.01", r":3: factor value inf is not a percent return"),
        ("19260701,150,-0.25,-0.27,0.01", r":3: factor value 150 is not a percent return"),
        ("16000101,0.1,-0.25,-0.27,0.01", r"unparseable date '16000101' \(dates are from 1678 to 2261\)"),
    ],
)
def test_fama_french_non_finite_or_impossible_value_is_schema_error(row: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "ff.csv"
    path.write_text(f"notes\n,Mkt-RF,SMB,HML,RF\n{row}\n")
    with pytest.raises(SchemaError, match=expected):
        read_fama_french(path)


def test_fama_french_binary_file_is_data_source_error(tmp_path: Path) -> None:
    path = tmp_path / "ff.csv.gz"
    path.write_bytes(gzip.compress(b",Mkt-RF,SMB,HML,RF\n19260701,0.1,0.2,0.3,0.01\n"))
    with pytest.raises(DataSourceError, match="not UTF-8 text"):
        read_fama_french(path)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (pd.DataFrame({"symbol": ["AAA"], "sector": ["Tech\x00"]}), "a sector is 1-64 printable characters"),
        (pd.DataFrame({"symbol": ["AAA"], "sector": ["x" * 9000]}), "a sector is 1-64 printable characters"),
        (pd.DataFrame({"symbol": ["A\tA"], "sector": ["Tech"]}), "metadata symbol 'A\\\\tA' is not a valid symbol"),
    ],
)
def test_ingest_bad_symbol_metadata_is_refused_on_every_backend(
    meta: pd.DataFrame, expected: str, store: BarStore
) -> None:
    bars = pd.DataFrame(
        {"symbol": "AAA", "ts": ["2020-01-02"], "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}
    )
    with pytest.raises(InvalidInputError, match=expected):
        ingest(store, FrameBarSource(bars, metadata=meta))
    assert store.list_symbols().empty


def test_ingest_unwritable_quarantine_folder_is_invalid_input_and_nothing_stored(
    store: BarStore, tmp_path: Path
) -> None:
    lines = ORCL.read_text().splitlines()[:6]
    lines[3] = lines[3].replace(lines[3].split(",")[1], "abc", 1)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InvalidInputError, match=r"cannot write the quarantine report .*nothing was stored"):
        ingest(store, CsvSource(path, symbol="ORCL"), on_error="repair", quarantine_dir=blocker / "q")
    assert store.list_symbols().empty


def test_panel_from_bars_date_outside_range_is_invalid_input() -> None:
    frame = pd.DataFrame({"symbol": ["A", "A"], "ts": ["2020-01-02", "1600-01-01"], "close": [1.0, 2.0]})
    with pytest.raises(InvalidInputError, match="from_bars: ts '1600-01-01' is not a date from 1678-01-01"):
        Panel.from_bars(frame)


@pytest.mark.parametrize("sectors", [["=cmd"], ["Énergie"], [""], "Technology"])
def test_synthetic_sector_that_cannot_prefix_a_symbol_is_invalid_input(sectors: object) -> None:
    with pytest.raises(InvalidInputError, match="sector"):
        SyntheticMarket(n_symbols=2, n_days=5, sectors=sectors)  # type: ignore[arg-type]
