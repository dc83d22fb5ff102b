"""One contract, every store: the embedded store and PostgreSQL run the same tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, LobsterSource, SyntheticMarket, ingest, load_bars, record_actions
from bifrost.errors import InvalidInputError, SymbolNotFoundError, ValidationError
from bifrost.testing import FrameBarSource
from tests.conftest import DATA, NVDA, ORCL, SP500

UTC = "UTC"


def test_store_orcl_ingest_lists_rows_and_real_prices(store: BarStore) -> None:
    report = ingest(store, CsvSource(ORCL, symbol="ORCL"))
    assert (report.rows_read, report.rows_new, report.rows_quarantined) == (5036, 5036, 0)
    listing = store.list_symbols().set_index("symbol")
    assert listing.loc["ORCL", "rows"] == 5036
    assert listing.loc["ORCL", "first"] == pd.Timestamp("1995-01-03", tz=UTC)
    assert listing.loc["ORCL", "last"] == pd.Timestamp("2014-12-31", tz=UTC)
    bars = store.read_bars("ORCL").loc["ORCL"]
    # values straight from the file's lines for these dates
    assert bars.loc["1995-01-03"].tolist() == [2.179012, 2.191358, 2.117284, 2.117284, 36301200.0]
    assert bars.loc["2014-12-31", "close"] == 44.970001
    assert bars.loc["2008-10-10"].tolist() == [15.7, 17.030001, 15.28, 16.68, 96946200.0]


def test_store_reingest_is_idempotent(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    before = store.read_bars("ORCL")
    report = ingest(store, CsvSource(ORCL, symbol="ORCL"))
    assert (report.rows_new, report.rows_revised, report.rows_unchanged) == (0, 0, 5036)
    pd.testing.assert_frame_equal(store.read_bars("ORCL"), before)
    assert store.revisions().empty


def test_store_overlapping_ranges_merge(store: BarStore) -> None:
    first = ingest(store, CsvSource(ORCL, symbol="ORCL"), end="2005-01-01")
    second = ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2004-01-01")
    assert first.rows_new == 2519  # bars before 2005 in the file
    assert second.rows_unchanged == 252  # trading days of 2004, in both loads
    assert second.rows_new == 5036 - 2519
    assert len(store.read_bars("ORCL")) == 5036


def test_store_revised_rows_replace_old_and_are_recorded(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
    revised = CsvSource(ORCL, symbol="ORCL").bars(end="1995-02-01")
    revised.loc[revised["ts"] == "1995-01-10", "close"] = 2.2
    report = ingest(store, FrameBarSource(revised, origin="vendor-fix"))
    assert (report.rows_new, report.rows_revised, report.rows_unchanged) == (0, 1, 20)
    assert store.read_bars("ORCL").loc[("ORCL", pd.Timestamp("1995-01-10", tz=UTC)), "close"] == 2.2
    rev = store.revisions("ORCL")
    assert rev[["field", "old_value", "new_value"]].values.tolist() == [["close", 2.185185, 2.2]]
    assert rev["ts"].tolist() == [pd.Timestamp("1995-01-10", tz=UTC)]
    assert rev["ingest_id"].tolist() == [report.ingest_id]


def test_store_bounds_are_half_open(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-03-01")
    ts = store.read_bars("ORCL", "1995-01-04", "1995-01-06").index.get_level_values("ts")
    assert list(ts) == [pd.Timestamp("1995-01-04", tz=UTC), pd.Timestamp("1995-01-05", tz=UTC)]


def test_store_panel_aligns_on_union_calendar(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    ingest(store, CsvSource(NVDA, symbol="NVDA"))
    panel = store.read_panel(["ORCL", "NVDA"], fields=["close", "volume"])
    assert panel.symbols == ("NVDA", "ORCL")
    assert panel.shape == (5036, 2)  # NVDA's dates are a subset of ORCL's
    close = panel.frame("close")
    assert close["NVDA"].isna().sum() == 5036 - 4012
    assert close.loc["1999-01-22", "NVDA"] == 1.640625  # NVDA's first line
    assert np.isnan(close.loc["1995-01-03", "NVDA"])
    assert close.loc["2014-12-31", "ORCL"] == 44.970001
    assert panel["close"].dtype == np.float64 and panel["close"].flags.f_contiguous  # symbol-major
    assert not panel["close"].flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        panel["close"][0, 0] = 1.0


def test_store_unknown_symbol_raises_with_hint(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
    with pytest.raises(SymbolNotFoundError, match=r"no bars .* for \['ORC'\]; did you mean \['ORCL'\]"):
        store.read_bars("ORC")


def test_store_bad_read_arguments_are_invalid_input(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
    with pytest.raises(InvalidInputError, match="unknown field"):
        store.read_bars("ORCL", fields=["price"])
    with pytest.raises(InvalidInputError, match="adjustment must be one of"):
        store.read_bars("ORCL", adjustment="total")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="must be after start"):
        store.read_bars("ORCL", "1995-02-01", "1995-01-01")
    with pytest.raises(InvalidInputError, match="start must be a date"):
        store.read_bars("ORCL", "yesterday-ish")


def test_store_split_adjustment_on_real_split_date(store: BarStore) -> None:
    # DISCA (Discovery) split 2-for-1 (a share dividend), ex-date 2014-08-07; the 505-stock
    # file is raw: the close falls from 83.02 to 40.975 that day.
    ingest(store, CsvSource(SP500, symbol="DISCA"))
    raw = store.read_bars("DISCA", "2014-08-05", "2014-08-09").loc["DISCA"]
    assert raw["close"].tolist() == [84.25, 83.02, 40.975, 42.28]
    record_actions(store, pd.DataFrame([{"symbol": "DISCA", "ts": "2014-08-07", "kind": "split", "value": 2.0}]))
    for mode in ("split_adjusted", "adjusted"):  # no dividends recorded: both are split-only
        adj = store.read_bars("DISCA", "2014-08-05", "2014-08-09", adjustment=mode).loc["DISCA"]
        np.testing.assert_allclose(adj["close"], [42.125, 41.51, 40.975, 42.28], rtol=1e-15)
        np.testing.assert_allclose(adj["volume"], [2 * 1618183, 2 * 2550026, 3850670, 2226465], rtol=1e-15)
    assert store.read_bars("DISCA", "2014-08-05", "2014-08-09").equals(
        raw.pipe(lambda f: f.set_axis(pd.MultiIndex.from_product([["DISCA"], raw.index], names=["symbol", "ts"])))
    )  # raw stays raw


def test_store_real_bad_print_is_quarantined_not_stored(store: BarStore) -> None:
    # LNT 2016-05-19: open 35.19, low 35.085, close 17.87 (a bad print; the next close is 35.91)
    with pytest.raises(
        ValidationError, match=r":\d+: LNT 2016-05-19 low: low 35.085 is above min\(open, close\) 17.87"
    ):
        ingest(store, CsvSource(SP500, symbol="LNT"))
    report = ingest(store, CsvSource(SP500, symbol="LNT"), on_error="repair")
    assert report.rows_quarantined == 1 and report.rows_new == 1258
    assert pd.Timestamp("2016-05-19", tz=UTC) not in store.read_bars("LNT").index.get_level_values("ts")


def test_store_record_actions_rejects_bad_input(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
    bad = [
        ({"symbol": "NOSUCH", "ts": "1995-01-05", "kind": "split", "value": 2.0}, "has no bars"),
        ({"symbol": "ORCL", "ts": "1995-01-05", "kind": "merger", "value": 2.0}, "kind must be one of"),
        ({"symbol": "ORCL", "ts": "1995-01-05", "kind": "split", "value": -2.0}, "must be positive"),
        ({"symbol": "ORCL", "ts": "not a date", "kind": "dividend", "value": 0.1}, "bad date"),
    ]
    for row, message in bad:
        with pytest.raises(InvalidInputError, match=message):
            record_actions(store, pd.DataFrame([row]))
    assert store.read_actions().empty


def test_store_synthetic_adjusted_close_reproduces_total_returns(store: BarStore) -> None:
    market = SyntheticMarket(n_symbols=8, n_days=500, seed=4)  # seed 4: one split, 54 dividends
    report = ingest(store, market)
    assert report.synthetic and report.actions > 0
    actions = store.read_actions()
    assert {"dividend", "split"} <= set(actions["kind"])
    adjusted = store.read_panel(adjustment="adjusted", fields=["close"])["close"]  # complete: no gaps
    assert adjusted.flags.f_contiguous and not adjusted.flags.writeable
    total = market.total_log_returns()
    order = [market.symbols.index(s) for s in store.list_symbols()["symbol"]]
    np.testing.assert_allclose(np.diff(np.log(adjusted), axis=0), total[1:, order], rtol=0, atol=1e-12)
    listing = store.list_symbols()
    assert listing["synthetic"].all() and listing["sector"].notna().all()


def test_store_sp500_repair_load_keeps_every_good_row(store: BarStore) -> None:
    report = ingest(store, CsvSource(SP500), on_error="repair")
    # 11 rows lack open (8 of them also high and low); the rest are real inconsistencies
    assert report.rows_read == 619040
    assert report.rows_new == 619040 - report.rows_quarantined
    listing = store.list_symbols().set_index("symbol")
    assert len(listing) == 505
    assert listing["rows"].sum() == 619040 - report.rows_quarantined
    assert listing.loc["AAPL", "rows"] == 1259
    aapl = store.read_bars("AAPL", "2018-02-07").loc["AAPL"].iloc[0]
    assert aapl.tolist() == [163.085, 163.4, 159.0685, 159.54, 51608580.0]
    quarantine = pd.read_csv(report.quarantine_path)
    assert set(quarantine.loc[quarantine["field"] == "open", "symbol"]) >= {"BHF", "DHR", "REGN", "VRTX", "WRK"}


@pytest.mark.parametrize(("frequency", "rule"), [("1w", "W-SUN"), ("1mo", "MS")])
def test_store_weekly_and_monthly_bars_match_pandas_resample(store: BarStore, frequency: str, rule: str) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    ingest(store, CsvSource(NVDA, symbol="NVDA"))
    got = store.read_bars(["NVDA", "ORCL"], "2008-01-01", "2010-01-01", frequency=frequency)  # type: ignore[arg-type]
    daily = store.read_bars(["NVDA", "ORCL"], "2008-01-01", "2010-01-01")
    expected = []
    for sym, g in daily.groupby(level="symbol"):
        r = g.droplevel("symbol").resample(
            rule, label="left" if rule == "MS" else "right", closed="left" if rule == "MS" else "right"
        )
        frame = r.agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}).dropna()
        if rule == "W-SUN":  # pandas labels weeks by their Sunday: stamp them at their Monday
            frame.index = frame.index - pd.Timedelta(days=6)
        expected.append(frame.assign(symbol=sym).set_index("symbol", append=True).swaplevel())
    want = pd.concat(expected).rename_axis(["symbol", "ts"])
    pd.testing.assert_frame_equal(got, want, check_freq=False, check_names=False, check_index_type=False)
    # a hand check: ORCL's December 2009 (monthly) or the week of Monday 2009-12-28
    if frequency == "1mo":
        dec = got.loc[("ORCL", pd.Timestamp("2009-12-01", tz=UTC))]
        assert dec["close"] == 24.530001 and dec["open"] == 22.16  # lines 2009-12-31 and 2009-12-01


def test_store_adjusted_monthly_bars_are_aggregated_after_adjustment(store: BarStore) -> None:
    ingest(store, CsvSource(SP500, symbol="DISCA"))
    record_actions(store, pd.DataFrame([{"symbol": "DISCA", "ts": "2014-08-07", "kind": "split", "value": 2.0}]))
    month = store.read_bars("DISCA", "2014-08-01", "2014-09-01", adjustment="split_adjusted", frequency="1mo")
    aug = month.loc[("DISCA", pd.Timestamp("2014-08-01", tz=UTC))]
    daily = store.read_bars("DISCA", "2014-08-01", "2014-09-01", adjustment="split_adjusted")
    assert aug["open"] == daily["open"].iloc[0] and aug["high"] == daily["high"].max()
    assert aug["volume"] == daily["volume"].sum()


def test_store_unknown_frequency_is_invalid_input(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
    with pytest.raises(InvalidInputError, match="frequency must be one of"):
        store.read_bars("ORCL", frequency="2h")  # type: ignore[arg-type]


def test_store_daily_bars_read_at_a_finer_frequency_are_invalid_input(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
    with pytest.raises(InvalidInputError, match="ORCL is stored at 1d and bars are only ever aggregated"):
        store.read_bars("ORCL", frequency="1h")


def test_store_source_without_adj_close_keeps_stored_adj_close(store: BarStore) -> None:
    # ORCL from Yahoo (with Adj Close), then from the 505-stock file (IEX, no adj_close):
    # overlapping bars take the new prices but keep Yahoo's adj_close
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    report = ingest(store, CsvSource(SP500, symbol="ORCL"))
    assert report.rows_revised > 0
    bar = store.read_bars("ORCL", "2013-07-17", "2013-07-18", fields=["close", "volume", "adj_close"])
    assert bar.iloc[0].tolist() == [32.16, 22357845.0, 29.779552]  # IEX close/volume, Yahoo adj_close
    after = store.read_bars("ORCL", "2015-01-02", "2015-01-03", fields=["adj_close"])
    assert np.isnan(after.iloc[0, 0])  # only the 505-stock file has 2015: no adj_close there


def _abc_bars(close_a: tuple[float, float] | None = None) -> pd.DataFrame:
    rows = []
    for sym, base in (("A", 10.0), ("B", 20.0), ("C", 30.0)):
        for day, bump in (("2020-01-02", 0.5), ("2020-01-03", 0.6)):
            close = base + bump
            if sym == "A" and close_a is not None:
                close = close_a[0] if day == "2020-01-02" else close_a[1]
            rows.append({"symbol": sym, "ts": day, "open": base, "high": base + 1, "low": base - 1, "close": close})
    return pd.DataFrame(rows).assign(volume=100.0)


def test_store_partial_revision_reads_revised_values_without_duplicates(store: BarStore) -> None:
    # issue 10 item 1, the recipe: A, B, C in one load, then A alone revised
    ingest(store, FrameBarSource(_abc_bars()))
    revised = _abc_bars(close_a=(10.9, 10.9))
    ingest(store, FrameBarSource(revised[revised["symbol"] == "A"]))
    panel = store.read_panel(["A", "B", "C"], fields=["close"])
    assert panel["close"][:, 0].tolist() == [10.9, 10.9]
    everything = store.read_bars(None)
    assert len(everything) == 6 and not everything.index.duplicated().any()
    assert everything.loc["A", "close"].tolist() == [10.9, 10.9]
    assert store.read_bars(["A", "B"]).loc["A", "close"].tolist() == [10.9, 10.9]
    # the merge reads through the same path: a re-ingest of all three merges, not crashes
    report = ingest(store, FrameBarSource(_abc_bars()))
    assert (report.rows_new, report.rows_revised, report.rows_unchanged) == (0, 2, 4)
    assert store.read_bars(None).loc["A", "close"].tolist() == [10.5, 10.6]


def test_store_real_partial_revision_of_orcl_reads_the_revised_bars(store: BarStore) -> None:
    # issue 10 item 1 on the real files: three stocks from the 505-stock file, then the
    # backtrader ORCL file revises ORCL (its closes carry 6 decimals: 34.9 -> 34.900002)
    ingest(store, CsvSource(SP500), symbols=["AAPL", "MSFT", "ORCL"])
    report = ingest(store, CsvSource(ORCL, symbol="ORCL"))
    assert (report.rows_new, report.rows_revised) == (4560, 476)
    everything = store.read_bars(None)
    assert not everything.index.duplicated().any()
    assert len(everything.loc["ORCL"]) == 4560 + 1259 - 2  # the 505-stock file has 1259 ORCL rows, 2 not in Yahoo's
    close = store.read_panel(None, fields=["close"]).frame("close")
    assert close.loc["2013-02-08", "ORCL"] == 34.900002  # the revision's new value, not 34.9
    rev = store.revisions("ORCL").set_index(["ts", "field"])
    assert rev.loc[(pd.Timestamp("2013-02-08", tz=UTC), "close"), "old_value"] == 34.9
    again = ingest(store, CsvSource(SP500), symbols=["AAPL", "MSFT", "ORCL"])  # the merge path, all three
    assert again.rows_revised > 0 and not store.read_bars(None).index.duplicated().any()


def test_store_adjusted_bounded_read_equals_the_same_rows_of_an_open_read(store: BarStore) -> None:
    # a dividend after `end` adjusts earlier prices by the close before its ex-date, not by
    # the last close inside the window
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1996-01-01")
    record_actions(store, pd.DataFrame([{"symbol": "ORCL", "ts": "1995-06-01", "kind": "dividend", "value": 0.05}]))
    window = store.read_bars("ORCL", "1995-01-01", "1995-03-01", adjustment="adjusted")
    whole = store.read_bars("ORCL", "1995-01-01", adjustment="adjusted").loc[window.index]
    pd.testing.assert_frame_equal(window, whole)
    before_ex = store.read_bars("ORCL", "1995-05-31", "1995-06-01")["close"].iloc[0]  # 1995-05-31 close
    raw_first = store.read_bars("ORCL", "1995-01-03", "1995-01-04")["close"].iloc[0]
    assert window["close"].iloc[0] == pytest.approx(raw_first * (1 - 0.05 / before_ex), rel=1e-12)


# -- intraday bars: the frequency is part of what the store keeps for each symbol ------------
LOBSTER = DATA / "microstructure" / "AAPL_2012-06-21_34200000_57600000_message_10_head999.csv"


def test_store_intraday_bars_round_trip_with_their_times(store: BarStore) -> None:
    # one-second bars of the executions in the first 49 s of AAPL on 2012-06-21 (LOBSTER)
    source = LobsterSource(LOBSTER, frequency="1s")
    expected = load_bars(source).bars
    report = ingest(store, source)
    assert report.rows_new == 26
    bars = store.read_bars("AAPL", fields=["open", "high", "low", "close", "volume"])
    pd.testing.assert_frame_equal(bars, expected, check_exact=True, check_index_type=False)
    assert bars.index[0] == ("AAPL", pd.Timestamp("2012-06-21T13:30:00", tz=UTC))  # 09:30 New York, UTC
    assert bars.index[-1] == ("AAPL", pd.Timestamp("2012-06-21T13:30:47", tz=UTC))
    row = store.list_symbols().set_index("symbol").loc["AAPL"]
    assert row["frequency"] == "1s" and row["rows"] == 26
    assert (row["first"], row["last"]) == (bars.index[0][1], bars.index[-1][1])  # the manifest keeps times
    window = store.read_bars("AAPL", "2012-06-21T13:30:10Z", "2012-06-21T13:30:20Z")  # bounds with times
    ts = expected.index.get_level_values("ts")
    inside = (ts >= pd.Timestamp("2012-06-21T13:30:10", tz=UTC)) & (ts < pd.Timestamp("2012-06-21T13:30:20", tz=UTC))
    assert len(window) == int(inside.sum()) > 0


def test_store_intraday_bars_read_daily_are_one_bar_at_midnight_utc(store: BarStore) -> None:
    ingest(store, LobsterSource(LOBSTER, frequency="1s"))
    day = store.read_bars("AAPL", frequency="1d")
    assert list(day.index) == [("AAPL", pd.Timestamp("2012-06-21", tz=UTC))]
    assert day.iloc[0].tolist() == [585.74, 585.93, 585.3, 585.62, 10592.0]  # first, max, min, last, sum
    panel = store.read_panel("AAPL", frequency="1d")
    assert list(panel.ts) == [pd.Timestamp("2012-06-21", tz=UTC)] and panel["close"][0, 0] == 585.62


def test_store_intraday_bars_resample_to_coarser_intraday_as_pandas_does(store: BarStore) -> None:
    ingest(store, LobsterSource(LOBSTER, frequency="1s"))
    one = store.read_bars("AAPL").droplevel("symbol")
    expected = (
        one.resample("10s", label="left", closed="left")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna()
    )
    ten = store.read_bars("AAPL", frequency="10s").droplevel("symbol")
    pd.testing.assert_frame_equal(ten, expected, check_freq=False, check_names=False)


def test_store_intraday_symbol_refuses_another_frequency_and_finer_reads(store: BarStore) -> None:
    ingest(store, LobsterSource(LOBSTER, frequency="10s"))
    before = store.read_bars("AAPL")
    with pytest.raises(InvalidInputError, match=r"AAPL is stored at 10s bars .* this ingest's bars are 1s"):
        ingest(store, LobsterSource(LOBSTER, frequency="1s"))
    pd.testing.assert_frame_equal(store.read_bars("AAPL"), before)
    with pytest.raises(InvalidInputError, match="AAPL is stored at 10s and bars are only ever aggregated"):
        store.read_bars("AAPL", frequency="1s")


def test_store_daily_and_intraday_symbols_read_together_at_each_ones_frequency(store: BarStore) -> None:
    ingest(store, LobsterSource(LOBSTER, frequency="1s"))
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2012-06-20", end="2012-06-23")
    both = store.read_bars(["AAPL", "ORCL"])
    assert len(both.loc["AAPL"]) == 26 and list(both.loc["ORCL"].index.strftime("%F %T")) == [
        "2012-06-20 00:00:00",
        "2012-06-21 00:00:00",
        "2012-06-22 00:00:00",
    ]
    daily = store.read_panel(["AAPL", "ORCL"], frequency="1d")
    assert daily["close"].shape == (3, 2) and daily.symbols == ("AAPL", "ORCL")
    assert list(daily.ts).index(pd.Timestamp("2012-06-21", tz=UTC)) == 1 and daily["close"][1, 0] == 585.62


def test_store_environment_opens_the_same_store_in_another_process(store: BarStore, tmp_path: Path) -> None:
    # what a job's or a dashboard's kernel gets: its settings from these variables alone
    from bifrost.config import load_settings
    from bifrost.data import open_store

    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    env = store.environment()
    assert set(env) >= {"BIFROST_HOME"} and ("BIFROST_DATABASE_SCHEMA" in env) == (store.backend == "postgres")
    if getattr(store, "mode", "") == "timescaledb hypertable":
        return  # the PGlite test server takes one client session: a second store cannot open
    with open_store(load_settings({k: v for k, v in env.items() if v}, cwd=tmp_path), create=False) as other:
        assert other.backend == store.backend
        assert other.ingest_marker() == store.ingest_marker()
        assert other.read_bars("ORCL")["close"].equals(store.read_bars("ORCL")["close"])
