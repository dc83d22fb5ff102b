"""Intraday bars on real data: LOBSTER's AAPL executions, a yfinance-shaped intraday file, a 5-minute market."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import (
    BarColumns,
    BarStore,
    CsvSource,
    EmbeddedStore,
    LobsterSource,
    SyntheticMarket,
    YahooSource,
    ingest,
    load_bars,
    validate_bars,
)
from bifrost.errors import DataSourceError, InvalidInputError, SchemaError, ValidationError
from bifrost.testing import FrameBarSource
from tests.conftest import DATA, ORCL

MESSAGES = DATA / "microstructure" / "AAPL_2012-06-21_34200000_57600000_message_10_head999.csv"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
YF_5M = FIXTURES / "yfinance_history_aapl_5m_2024-03.csv"
# 2012-06-21 is in EDT: New York's midnight is 04:00 UTC
NY_MIDNIGHT_UTC = pd.Timestamp("2012-06-21 04:00", tz="UTC")


def _raw_executions() -> pd.DataFrame:
    # read independently of bifrost: the six columns LOBSTER_SampleFiles_ReadMe.txt names
    raw = pd.read_csv(MESSAGES, header=None, names=["time", "type", "order_id", "size", "price", "direction"])
    return raw[raw["type"].isin([4, 5])]


def _expected_first_bar(seconds: int) -> dict[str, float]:
    trades = _raw_executions()
    first = trades[np.floor(trades["time"] / seconds) == np.floor(trades["time"].iloc[0] / seconds)]
    price = first["price"] / 10_000
    return {
        "open": price.iloc[0],
        "high": price.max(),
        "low": price.min(),
        "close": price.iloc[-1],
        "volume": float(first["size"].sum()),
    }


# -- LOBSTER: real executions to 1-second and 10-second bars ------------------------------------------
@pytest.mark.parametrize(("frequency", "seconds"), [("1s", 1), ("10s", 10)])
def test_lobster_first_bar_equals_pandas_aggregate_of_raw_executions(frequency: str, seconds: int) -> None:
    validated = load_bars(LobsterSource(MESSAGES, frequency=frequency))  # type: ignore[arg-type]
    assert validated.frequency == frequency and validated.issues == ()
    first = validated.bars.loc["AAPL"].iloc[0]
    assert first.to_dict() == pytest.approx(_expected_first_bar(seconds), rel=0, abs=1e-9)
    # the first execution, 34200.275 s after midnight New York time, falls in the 09:30:00 bar
    assert validated.bars.index[0] == ("AAPL", NY_MIDNIGHT_UTC + pd.Timedelta(seconds=34200))


def test_lobster_one_second_bars_hand_checked_numbers_and_totals() -> None:
    # golden values read off the file by hand: 5857400 = $585.74, 1,038 shares in the first second
    bars = load_bars(LobsterSource(MESSAGES)).bars.loc["AAPL"]
    assert bars.iloc[0].to_dict() == {"open": 585.74, "high": 585.93, "low": 585.70, "close": 585.86, "volume": 1038.0}
    assert len(bars) == 26  # 26 distinct seconds with a trade among 09:30:00 … 09:30:49
    assert bars["volume"].sum() == _raw_executions()["size"].sum()
    assert bars.index[-1] < NY_MIDNIGHT_UTC + pd.Timedelta(seconds=34250)


def test_lobster_bars_through_a_frame_infer_one_second_frequency() -> None:
    frame = LobsterSource(MESSAGES).bars()
    assert validate_bars(frame, origin="lobster").frequency == "1s"  # modal spacing: 1 s (14 of 25 gaps)


def test_lobster_symbol_and_date_come_from_the_file_name() -> None:
    source = LobsterSource(MESSAGES)
    assert (source.symbol, source.date, source.frequency) == ("AAPL", pd.Timestamp("2012-06-21"), "1s")


def test_lobster_daily_frequency_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="frequency must be one of '1s'"):
        LobsterSource(MESSAGES, frequency="1d")


def test_lobster_file_name_without_date_needs_symbol_and_date(tmp_path: Path) -> None:
    path = tmp_path / "messages.csv"
    path.write_bytes(MESSAGES.read_bytes())
    with pytest.raises(InvalidInputError, match="pass symbol= and date="):
        LobsterSource(path)
    bars = LobsterSource(path, symbol="AAPL", date="2012-06-21").bars()
    assert bars["ts"].iloc[0] == NY_MIDNIGHT_UTC + pd.Timedelta(seconds=34200)


# -- an intraday CSV: times kept, in UTC -----------------------------------------------------------------
def _lobster_as_yfinance_csv(tmp_path: Path) -> Path:
    # the 10-second bars written as yfinance writes intraday data: Datetime with its UTC offset
    bars = LobsterSource(MESSAGES, frequency="10s").bars()
    local = pd.DatetimeIndex(bars["ts"]).tz_convert("America/New_York")
    out = bars.drop(columns=["symbol", "ts"]).rename(columns=str.capitalize)
    out.index = pd.Index(local, name="Datetime")
    path = tmp_path / "aapl_10s.csv"
    out.to_csv(path)
    return path


def test_intraday_csv_with_datetime_column_keeps_its_times_in_utc(tmp_path: Path) -> None:
    path = _lobster_as_yfinance_csv(tmp_path)
    assert path.read_text().splitlines()[1].startswith("2012-06-21 09:30:00-04:00,585.74,")
    validated = load_bars(CsvSource(path, symbol="AAPL"))
    assert validated.frequency == "10s"
    stamps = validated.bars.index.get_level_values("ts")
    assert list(stamps[:2]) == [NY_MIDNIGHT_UTC + pd.Timedelta(seconds=34200 + s) for s in (0, 10)]
    assert validated.bars.iloc[0].to_dict() == pytest.approx(_expected_first_bar(10), rel=0, abs=1e-9)


def test_yfinance_intraday_csv_across_daylight_saving_is_utc_bar_opens() -> None:
    validated = load_bars(CsvSource(YF_5M, symbol="AAPL"))
    stamps = validated.bars.index.get_level_values("ts")
    assert validated.frequency == "5m" and len(stamps) == 2 * 78 and validated.issues == ()
    # 09:30 New York: 14:30 UTC in EST (Friday 2024-03-08), 13:30 UTC in EDT (Monday 2024-03-11)
    assert stamps[0] == pd.Timestamp("2024-03-08 14:30", tz="UTC")
    assert stamps[77] == pd.Timestamp("2024-03-08 20:55", tz="UTC")
    assert stamps[78] == pd.Timestamp("2024-03-11 13:30", tz="UTC")
    assert validated.bars["close"].iloc[0] == 169.9789  # the fixture's first row, unchanged


def test_intraday_csv_given_frequency_checks_the_grid(tmp_path: Path) -> None:
    lines = YF_5M.read_text().splitlines()
    lines[3] = lines[3].replace("09:40:00", "09:41:00")
    path = tmp_path / "off_grid.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValidationError, match=r":4: AAPL 2024-03-08T14:41:00 ts: not on the symbol's 5m bar grid"):
        load_bars(CsvSource(path, symbol="AAPL", frequency="5m"))
    repaired = load_bars(CsvSource(path, symbol="AAPL", frequency="5m"), on_error="repair")
    assert len(repaired.bars) == 155 and repaired.issues[0].action == "dropped"


def test_intraday_csv_read_as_daily_is_normalised_and_duplicates_found(tmp_path: Path) -> None:
    # frequency="1d" says the file is daily: its times name sessions, 78 rows a session collide
    path = tmp_path / "one_session.csv"
    path.write_text("\n".join(YF_5M.read_text().splitlines()[:79]) + "\n")  # 2024-03-08 only
    repaired = load_bars(CsvSource(path, symbol="AAPL", frequency="1d"), on_error="repair")
    assert repaired.frequency == "1d" and repaired.issues[0].reason.startswith("duplicate date")
    assert repaired.bars.index.tolist() == [("AAPL", pd.Timestamp("2024-03-08", tz="UTC"))]
    assert repaired.bars["close"].iloc[0] == 169.3877  # the last row of a duplicate wins: 15:55


def test_intraday_spacing_of_no_frequency_is_refused_naming_it() -> None:
    ts = pd.date_range("2024-03-08 14:30", periods=10, freq="2min", tz="UTC")
    frame = pd.DataFrame({"symbol": "A", "ts": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    with pytest.raises(ValidationError, match=r"most often 2m apart, the length of no bar frequency .* \(frequency="):
        validate_bars(frame, origin="two-minute")
    assert validate_bars(frame, origin="two-minute", frequency="1m").frequency == "1m"  # on the 1m grid


def test_intraday_duplicate_bar_time_is_named() -> None:
    ts = pd.DatetimeIndex(["2024-03-08 14:30", "2024-03-08 14:35", "2024-03-08 14:35"], tz="UTC")
    frame = pd.DataFrame({"symbol": "A", "ts": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    with pytest.raises(ValidationError, match=r"A 2024-03-08T14:35:00 ts: duplicate time"):
        validate_bars(frame, origin="dup", frequency="5m")


def test_intraday_text_without_offset_beside_offsets_is_refused() -> None:
    ts = ["2024-03-08 09:30:00-05:00", "2024-03-08 09:35:00", "2024-03-08 09:40:00-05:00"]
    frame = pd.DataFrame({"symbol": "A", "ts": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    with pytest.raises(ValidationError, match="mixed time zones: 'no time zone' differs from the first row's '-05:00'"):
        validate_bars(frame, origin="mixed", frequency="5m")


# -- Yahoo: interval= for intraday frequencies -----------------------------------------------------------
def _recorded_history(*_: object, interval: str = "1d") -> pd.DataFrame:
    """yfinance.Ticker("AAPL").history(interval="5m", auto_adjust=False, actions=True) output shape."""
    frame = pd.read_csv(YF_5M, index_col=0)
    frame.index = pd.DatetimeIndex(
        pd.to_datetime(frame.index, utc=True).tz_convert("America/New_York"), name="Datetime"
    )
    return frame


def test_yahoo_intraday_passes_interval_and_keeps_bar_opens() -> None:
    calls: list[tuple[object, ...]] = []

    def fetch(symbol: str, start: str | None, end: str | None, *, interval: str = "1d") -> pd.DataFrame:
        calls.append((symbol, start, end, interval))
        return _recorded_history()

    source = YahooSource(frequency="5m", fetch=fetch)
    validated = load_bars(source, ["AAPL"], "2024-03-08", "2024-03-11T15:00")
    assert calls == [("AAPL", "2024-03-08", "2024-03-12", "5m")]
    stamps = validated.bars.index.get_level_values("ts")
    assert validated.frequency == "5m" and stamps[0] == pd.Timestamp("2024-03-08 14:30", tz="UTC")
    assert stamps[-1] == pd.Timestamp("2024-03-11 14:55", tz="UTC")  # [start, end): 15:00 UTC is out
    assert len(stamps) == 78 + 18


def test_yahoo_hourly_is_yfinance_60m_and_seconds_are_refused() -> None:
    seen: list[str] = []

    def fetch(symbol: str, start: str | None, end: str | None, *, interval: str = "1d") -> pd.DataFrame:
        seen.append(interval)
        return _recorded_history()

    YahooSource(frequency="1h", fetch=fetch).bars(["AAPL"])
    assert seen == ["60m"]
    with pytest.raises(InvalidInputError, match="frequency must be one of '1m', '5m'"):
        YahooSource(frequency="1s")


# -- the synthetic market at 5 minutes -------------------------------------------------------------------
def test_synthetic_five_minute_market_has_sessions_of_78_bars_from_1430_utc() -> None:
    market = SyntheticMarket(n_symbols=3, n_days=5, start="2024-03-08", frequency="5m")
    validated = load_bars(market)
    assert validated.frequency == "5m" and validated.issues == () and validated.actions.empty
    stamps = validated.bars.loc[market.symbols[0]].index
    assert len(stamps) == 5 * 78
    assert stamps[0] == pd.Timestamp("2024-03-08 14:30", tz="UTC")
    assert stamps[77] == pd.Timestamp("2024-03-08 20:55", tz="UTC")
    assert stamps[78] == pd.Timestamp("2024-03-11 14:30", tz="UTC")  # Friday, then Monday
    again = SyntheticMarket(n_symbols=3, n_days=5, start="2024-03-08", frequency="5m").bars()
    pd.testing.assert_frame_equal(market.bars(), again)


def test_synthetic_daily_market_is_unchanged_by_the_frequency_option() -> None:
    daily = SyntheticMarket(n_symbols=2, n_days=30).bars()
    pd.testing.assert_frame_equal(daily, SyntheticMarket(n_symbols=2, n_days=30, frequency="1d").bars())
    assert load_bars(SyntheticMarket(n_symbols=2, n_days=30)).frequency == "1d"


def test_synthetic_hourly_frequency_does_not_tile_the_session() -> None:
    with pytest.raises(InvalidInputError, match="frequency must be one of"):
        SyntheticMarket(frequency="1h")


# -- resampling intraday to daily: pandas' resample ------------------------------------------------------
def test_five_minute_bars_resampled_to_days_equal_pandas_resample() -> None:
    validated = load_bars(SyntheticMarket(n_symbols=2, n_days=4, frequency="5m"))
    daily = BarColumns.from_frame(validated.bars, frequency="5m").resampled("1d").to_frame()
    for symbol, bars in validated.bars.groupby(level="symbol"):
        expected = (
            bars.droplevel("symbol")
            .resample("1D")
            .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
            .dropna(subset=["open"])  # pandas makes a row of each weekend day; bifrost has no bar there
        )
        pd.testing.assert_frame_equal(daily.loc[symbol], expected, check_freq=False, check_names=False)


def test_daily_bars_cannot_be_resampled_to_minutes() -> None:
    cols = BarColumns.from_frame(load_bars(SyntheticMarket(n_symbols=1, n_days=5)).bars)
    with pytest.raises(InvalidInputError, match="cannot resample 1d bars to the finer 5m"):
        cols.resampled("5m")


# -- through a store: times and frequency read back, resampled reads, a backtest -----------------------
def test_store_intraday_csv_round_trips_times_and_frequency(store: BarStore) -> None:
    report = ingest(store, CsvSource(YF_5M, symbol="AAPL"))
    assert report.rows_new == 156
    listing = store.list_symbols().set_index("symbol")
    assert listing.loc["AAPL", "frequency"] == "5m"
    assert listing.loc["AAPL", "first"] == pd.Timestamp("2024-03-08 14:30", tz="UTC")
    back = store.read_bars("AAPL")
    expected = load_bars(CsvSource(YF_5M, symbol="AAPL")).bars[["open", "high", "low", "close", "volume"]]
    # the same bars at the same UTC times (the symbol level's string dtype is the store's own)
    pd.testing.assert_frame_equal(back, expected, check_freq=False, check_index_type=False)


def test_store_synthetic_five_minute_read_at_1d_equals_pandas_resample(store: BarStore) -> None:
    market = SyntheticMarket(n_symbols=2, n_days=4, frequency="5m")
    ingest(store, market)
    daily = store.read_bars(None, frequency="1d")
    five = store.read_bars(None)
    assert len(five) == 2 * 4 * 78 and five.index.get_level_values("ts")[1].minute == 35
    for symbol in market.symbols:
        expected = (
            five.loc[symbol]
            .resample("1D")
            .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
            .dropna(subset=["open"])  # pandas makes a row of each weekend day; bifrost has no bar there
        )
        pd.testing.assert_frame_equal(daily.loc[symbol], expected, check_freq=False, check_names=False)
    with pytest.raises(InvalidInputError, match=r"at 1m: .* is stored at 5m and bars are only ever aggregated"):
        store.read_bars(None, frequency="1m")


def test_store_five_minute_panel_backtests(store: BarStore) -> None:
    from bifrost.strategy import backtest

    ingest(store, SyntheticMarket(n_symbols=2, n_days=5, frequency="5m"))
    panel = store.read_panel()
    assert panel.shape == (5 * 78, 2) and panel.frequency == "5m"
    result = backtest(panel, "sma_cross", {"fast": 6, "slow": 24})
    assert np.isfinite(result.final_value) and result.final_value > 0


def test_frame_source_frequency_reaches_validation() -> None:
    frame = LobsterSource(MESSAGES, frequency="10s").bars()
    assert load_bars(FrameBarSource(frame, frequency="10s")).frequency == "10s"
    assert load_bars(FrameBarSource(frame)).frequency == "10s"


def test_lobster_cell_that_is_not_a_number_is_named_with_its_line(tmp_path: Path) -> None:
    lines = MESSAGES.read_text().splitlines()
    lines[2] = lines[2].replace(",5853100,", ",58531OO,")
    path = tmp_path / "AAPL_2012-06-21_34200000_57600000_message_10.csv"
    path.write_text("\n".join(lines))
    with pytest.raises(SchemaError, match=r"_message_10\.csv:3: price '58531OO' is not a number"):
        LobsterSource(path).bars()
    with pytest.raises(DataSourceError, match="no such file"):
        LobsterSource(tmp_path / "AAPL_2012-06-21_x.csv").bars()


def test_panel_of_a_daily_and_a_five_minute_symbol_needs_one_frequency(tmp_path: Path) -> None:
    # found by QA: the two were put on the union of their stamps, and a backtest annualised
    # 29 years of daily bars as 5-minute ones
    with EmbeddedStore(tmp_path / "home") as store:
        ingest(store, CsvSource(ORCL, symbol="ORCL"))
        ingest(store, SyntheticMarket(n_symbols=1, n_days=3, seed=1, frequency="5m"))
        intraday = next(s for s in store.list_symbols()["symbol"] if s != "ORCL")
        with pytest.raises(InvalidInputError, match=rf"different frequencies \({intraday} 5m, ORCL 1d\).*e.g. 1d"):
            store.read_panel(["ORCL", intraday], fields=["close"])
        daily = store.read_panel(["ORCL", intraday], fields=["close"], frequency="1d")
        assert daily.frequency == "1d" and daily.frame("close")[intraday].notna().sum() == 3
        long = store.read_bars(["ORCL", intraday], fields=["close"])  # a long frame keeps each as stored
        assert len(long.loc[intraday]) == 3 * 78
