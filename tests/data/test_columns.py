"""BarColumns kernels against straightforward references, and the check bars leave a store through."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import (
    FREQUENCIES,
    BarColumns,
    BarStore,
    CsvSource,
    EmbeddedStore,
    ValidatedBars,
    ingest,
    is_intraday,
    periods_per_year,
)
from bifrost.data._columns import bar_ns, infer_frequency
from bifrost.data._validate import empty_actions
from bifrost.errors import DataError, DataQualityWarning, InvalidInputError
from tests.conftest import ORCL, SP500

DAY = 86_400 * 10**9


def _cols(codes: list[int], days: list[int], close: list[float]) -> BarColumns:
    return BarColumns(
        symbols=("AAA", "BBB"),
        codes=np.array(codes, dtype=np.int64),
        ts=np.array(days, dtype=np.int64) * DAY,
        values={"close": np.array(close)},
    )


def test_panel_complete_rows_in_code_order_equal_pivot() -> None:
    panel = _cols([0, 0, 1, 1], [1, 2, 1, 2], [1.0, 2.0, 3.0, 4.0]).to_panel(["close"], "raw")
    np.testing.assert_array_equal(panel["close"], [[1.0, 3.0], [2.0, 4.0]])


def test_panel_complete_rows_out_of_code_order_are_placed_by_code() -> None:
    # a backend that returned BBB's rows first must not swap the symbols' columns
    panel = _cols([1, 1, 0, 0], [1, 2, 1, 2], [3.0, 4.0, 1.0, 2.0]).to_panel(["close"], "raw")
    np.testing.assert_array_equal(panel["close"], [[1.0, 3.0], [2.0, 4.0]])


def test_panel_with_gaps_has_nan_where_no_bar() -> None:
    panel = _cols([0, 0, 1], [1, 2, 2], [1.0, 2.0, 4.0]).to_panel(["close"], "raw")
    np.testing.assert_array_equal(panel["close"], [[1.0, np.nan], [2.0, 4.0]])
    assert list(panel.ts) == [pd.Timestamp(DAY, tz="UTC"), pd.Timestamp(2 * DAY, tz="UTC")]


# -- bars leave a store only as numbers a market prints (issue 10, item 2) ----------------------------
def _damaged(close: float) -> ValidatedBars:
    # bars written around validation: what an older bifrost, or a hand edit, left in a store
    index = pd.MultiIndex.from_arrays(
        [pd.Index(["ORCL", "ORCL"], dtype=object), pd.DatetimeIndex(["2020-01-02", "2020-01-03"], tz="UTC")],
        names=["symbol", "ts"],
    )
    bars = pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": [1.5, close], "volume": 100.0}, index=index)
    return ValidatedBars(origin="hand", bars=bars, actions=empty_actions(), issues=(), rows_read=2)


@pytest.mark.parametrize("close", [np.inf, -np.inf, -1.0])
def test_store_read_of_damaged_bars_is_data_error_naming_symbol_field_and_date(store: BarStore, close: float) -> None:
    store.write(_damaged(close), ingest_id="damaged", source="hand")
    for read in (store.read_bars, store.read_panel):
        with pytest.raises(DataError, match=rf"ORCL has close {close:g} on 2020-01-03 .* `bifrost data check`"):
            read("ORCL")
    with pytest.raises(DataError, match="ORCL has close"):
        store.read_bars(None, frequency="1w")


def test_store_adjusted_read_through_an_impossible_dividend_is_data_error(store: BarStore) -> None:
    store.write(_damaged(1.5), ingest_id="ok", source="hand")
    actions = pd.DataFrame(
        {"symbol": ["ORCL"], "ts": pd.DatetimeIndex(["2020-01-03"], tz="UTC"), "kind": ["dividend"], "value": [1e300]}
    )
    index = pd.MultiIndex.from_arrays(
        [pd.Index([], dtype=object), pd.DatetimeIndex([], tz="UTC")], names=["symbol", "ts"]
    )
    empty = pd.DataFrame(
        {c: pd.Series(dtype="float64") for c in ("open", "high", "low", "close", "volume")}, index=index
    )
    store.write(
        ValidatedBars(origin="hand", bars=empty, actions=actions, issues=(), rows_read=0),
        ingest_id="div",
        source="hand",
    )
    assert store.read_bars("ORCL")["close"].tolist() == [1.5, 1.5]  # raw bars are fine
    with pytest.raises(DataError, match=r"ORCL has open -\d.*on 2020-01-02"):
        store.read_bars("ORCL", adjustment="adjusted")


# -- a half-adjusted series is a DataQualityWarning at the caller; a source's full adj_close a note ------
def test_adjusted_read_with_adj_close_on_some_bars_warns_at_the_caller(tmp_path: Path) -> None:
    # ORCL from Yahoo (Adj Close to 2014-12-31), then the 505-stock file (none, 781 bars to 2018-02-07)
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    ingest(store, CsvSource(SP500, symbol="ORCL"))
    with pytest.warns(DataQualityWarning, match=r"missing on some bars of ORCL \(781 of 5,817 bars\)") as caught:
        panel = store.read_panel("ORCL", adjustment="adjusted")
    assert caught[0].filename == __file__  # stacklevel: the line that asked for the data
    assert panel.notes == ("ORCL: adjusted prices derived from the source's adj_close",)


def test_adjusted_read_with_adj_close_on_every_bar_only_notes_it(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-03-01")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = store.read_bars("ORCL", adjustment="adjusted")
    assert frame.attrs["notes"] == ["ORCL: adjusted prices derived from the source's adj_close"]


# -- frequencies: lengths, inference from spacing, resampling rules ------------------------------------
def test_frequency_helpers_name_intraday_and_bar_lengths() -> None:
    assert [f for f in FREQUENCIES if is_intraday(f)] == ["1s", "10s", "1m", "5m", "15m", "30m", "1h"]
    assert (bar_ns("10s"), bar_ns("5m"), bar_ns("1h"), bar_ns("1d")) == (10**10, 300 * 10**9, 3600 * 10**9, DAY)
    with pytest.raises(InvalidInputError, match="a bar length is known for"):
        bar_ns("1mo")


def test_periods_per_year_counts_bars_of_us_regular_sessions() -> None:
    # 252 sessions of 6.5 hours (23,400 s): 78 five-minute bars, 6.5 hourly bars a session
    expected = {"1s": 23_400 * 252, "10s": 2_340 * 252, "1m": 390 * 252, "5m": 78 * 252, "15m": 26 * 252,
                "30m": 13 * 252, "1h": 1_638, "1d": 252, "1w": 52, "1mo": 12}  # fmt: skip
    assert {f: periods_per_year(f) for f in FREQUENCIES} == expected
    assert all(isinstance(periods_per_year(f), int) for f in FREQUENCIES)
    with pytest.raises(InvalidInputError, match=r"frequency must be one of .*; got '2m'"):
        periods_per_year("2m")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("gaps_s", "expected"),
    [
        ([300, 300, 65_700, 300], "5m"),  # a session, the night, the next session: the bar size wins
        ([86_400, 259_200, 86_400], "1d"),  # Friday to Monday is rarer than a day
        ([], "1d"),  # one bar: nothing says it is intraday
        ([120, 120, 300], 120 * 10**9),  # 2 minutes: no frequency, returned for the caller to name
        ([1, 2, 1, 2], "1s"),  # a tie: the smaller gap
    ],
)
def test_infer_frequency_from_the_modal_gap(gaps_s: list[int], expected: object) -> None:
    ts = np.cumsum([0, *gaps_s]).astype(np.int64) * 10**9
    assert infer_frequency(ts, np.zeros(ts.size, dtype=np.int64)) == expected


def test_infer_frequency_ignores_gaps_between_symbols() -> None:
    # two symbols of 1-minute bars: the jump from one symbol's last bar to the other's first is no gap
    ts = np.array([0, 60, 120, 0, 60, 120], dtype=np.int64) * 10**9
    assert infer_frequency(ts, np.array([0, 0, 0, 1, 1, 1])) == "1m"


def test_resampled_intraday_buckets_floor_to_the_grid_of_the_target() -> None:
    minute = 60 * 10**9
    cols = BarColumns(
        symbols=("AAA",),
        codes=np.zeros(4, dtype=np.int64),
        ts=np.array([14 * 60 + 30, 14 * 60 + 35, 14 * 60 + 55, 15 * 60], dtype=np.int64) * minute,
        values={"open": np.array([1.0, 2, 3, 4]), "close": np.array([1.5, 2.5, 3.5, 4.5]), "volume": np.ones(4)},
        frequency="5m",
    )
    hourly = cols.resampled("1h")
    assert hourly.frequency == "1h" and (hourly.ts // minute).tolist() == [14 * 60, 15 * 60]
    assert hourly.values["open"].tolist() == [1.0, 4.0] and hourly.values["close"].tolist() == [3.5, 4.5]
    assert hourly.values["volume"].tolist() == [3.0, 1.0]
    assert cols.resampled("5m") is cols
    with pytest.raises(InvalidInputError, match="frequency must be one of"):
        cols.resampled("2h")  # type: ignore[arg-type]
