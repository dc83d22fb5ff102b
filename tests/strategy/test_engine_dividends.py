"""Dividends in a backtest on raw prices: SPY's real dividends (85 in the file), as cash,
reinvested or ignored, against a hand calculation from the file, the total-return-adjusted
read and backtrader's own broker."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, Panel, ingest
from bifrost.errors import InvalidInputError
from bifrost.portfolio import Dividend, value_ledger
from bifrost.strategy import DividendMode, FillModel, Orders, backtest, run_backtrader, simulate, sweep
from tests.conftest import SPY
from tests.strategy.conftest import SmaCross

START, END = "2015-01-01", "2020-01-01"


@pytest.fixture(scope="module")
def spy_store(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path_factory.mktemp("spy-store"))
    ingest(store, CsvSource(SPY, symbol="SPY"))
    return store


@pytest.fixture(scope="module")
def raw(spy_store: EmbeddedStore) -> Panel:
    return spy_store.read_panel(["SPY"], START, END)


@pytest.fixture(scope="module")
def adjusted(spy_store: EmbeddedStore) -> Panel:
    return spy_store.read_panel(["SPY"], START, END, adjustment="adjusted")


def _file_dividends(after: pd.Timestamp) -> pd.Series:
    # the hand calculation's input, read from the file itself (newest first there)
    frame = pd.read_csv(SPY, parse_dates=["timestamp"])
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
    paid = frame[(frame["dividend_amount"] > 0) & (frame["timestamp"] > after) & (frame["timestamp"] < END)]
    return paid.set_index("timestamp")["dividend_amount"].sort_index()


def test_raw_panel_from_the_store_carries_spy_dividends_on_their_ex_dates(raw: Panel) -> None:
    div = raw["dividend"][:, 0]
    expected = _file_dividends(pd.Timestamp(START, tz="UTC"))
    assert len(expected) == 20  # five years of quarterly dividends
    got = pd.Series(div, index=raw.ts)[div != 0]
    pd.testing.assert_series_equal(got, expected, check_names=False, check_freq=False, check_index_type=False)


def test_buy_and_hold_dividends_as_cash_is_the_price_return_plus_shares_times_each_dividend(raw: Panel) -> None:
    price_only = backtest(raw, "buy_and_hold", dividends="ignore")
    ours = backtest(raw, "buy_and_hold")  # dividends="cash", the default
    shares = float(price_only.positions["SPY"].iloc[-1])
    bought = price_only.fills["ts"].iloc[0]
    paid = _file_dividends(bought)  # a dividend goes to the shares held at the close before its ex-date
    expected = shares * float(paid.sum())
    assert ours.dividends == "cash" and price_only.dividends == "ignore"
    assert ours.dividend_cash == pytest.approx(expected, abs=1e-6)
    assert ours.final_value == pytest.approx(price_only.final_value + expected, abs=0.005)  # to the cent
    # day by day: the equity gap is the dividends received so far, credited on each ex-date
    cumulative = (shares * paid).reindex(raw.ts, fill_value=0.0).cumsum().to_numpy()
    np.testing.assert_allclose(ours.equity - price_only.equity, cumulative, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.dividend_income.cumsum(), cumulative, rtol=0, atol=1e-6)
    assert price_only.dividend_cash == 0.0
    assert (ours.fills["order_id"] >= 0).all()  # cash: no purchase


def test_buy_and_hold_dividends_ignored_equals_a_panel_without_dividends(raw: Panel) -> None:
    bare = Panel(
        ts=raw.ts, symbols=raw.symbols, fields=MappingProxyType({f: raw[f] for f in raw.fields if f != "dividend"})
    )
    ignored = backtest(raw, "buy_and_hold", dividends="ignore")
    np.testing.assert_array_equal(ignored.equity, backtest(bare, "buy_and_hold").equity)
    # the price return of SPY over the span, from the first fill at the open to the last close
    shares = float(ignored.positions["SPY"].iloc[-1])
    first_open = float(ignored.fills["price"].iloc[0])
    assert ignored.final_value == pytest.approx(
        100_000.0 - shares * first_open + shares * float(raw["close"][-1, 0]), abs=1e-6
    )


def test_buy_and_hold_reinvested_equals_buy_and_hold_on_total_return_adjusted_prices(
    raw: Panel, adjusted: Panel
) -> None:
    fractional = FillModel(lot_size=0.0)  # the adjusted series holds fractional shares: so do both here
    on_adjusted = backtest(adjusted, "buy_and_hold", fill=fractional)
    reinvested = backtest(raw, "buy_and_hold", dividends="reinvest", fill=fractional)
    assert reinvested.final_value == pytest.approx(on_adjusted.final_value, abs=0.01)  # to the cent
    np.testing.assert_allclose(reinvested.equity, on_adjusted.equity, rtol=0, atol=0.01)
    assert on_adjusted.dividends == "cash" and on_adjusted.dividend_cash == 0.0  # in the prices already
    # each reinvestment is a purchase on the ex-date at the close before it less the dividend
    buys = reinvested.fills[reinvested.fills["order_id"] == -1]
    assert len(buys) == 20
    close = pd.Series(raw["close"][:, 0], index=raw.ts)
    before = close.shift(1).reindex(buys["ts"]).to_numpy()
    per_share = pd.Series(raw["dividend"][:, 0], index=raw.ts).reindex(buys["ts"]).to_numpy()
    np.testing.assert_allclose(buys["price"], before - per_share, rtol=1e-12)
    assert (buys["commission"] == 0).all()
    # whole shares (the default lot): the cash left from each dividend stays cash
    whole = backtest(raw, "buy_and_hold", dividends="reinvest")
    assert (whole.fills["quantity"] == np.round(whole.fills["quantity"])).all()
    assert whole.final_value > backtest(raw, "buy_and_hold").final_value


def test_dividends_as_cash_agree_with_the_adjusted_total_return_within_the_reinvestment_gap(
    raw: Panel, adjusted: Panel
) -> None:
    fractional = FillModel(lot_size=0.0)
    price = backtest(raw, "buy_and_hold", dividends="ignore", fill=fractional).metrics["total_return"]
    cash = backtest(raw, "buy_and_hold", fill=fractional).metrics["total_return"]
    total = backtest(adjusted, "buy_and_hold", fill=fractional).metrics["total_return"]
    # SPY 2015-2019: price return 57.07%, dividends as cash 68.83%, total return (reinvested) 73.22%:
    # cash holds the dividends, not what they would have earned once reinvested
    assert price < cash < total
    assert (price, cash, total) == pytest.approx((0.5707, 0.6883, 0.7322), abs=5e-5)
    assert total - cash < 0.3 * (total - price)


def test_sma_cross_with_dividends_as_cash_matches_backtrader_broker_add_cash(raw: Panel) -> None:
    params = {"fast": 10, "slow": 30, "size": 100}
    ours = backtest(raw, "sma_cross", params)
    theirs = run_backtrader(raw, SmaCross, {"fast": 10, "slow": 30})
    assert theirs.dividends == "cash"
    assert len(ours.fills) == len(theirs.fills) > 20
    assert ours.dividend_cash > 0
    assert ours.dividend_cash == pytest.approx(theirs.dividend_cash, abs=1e-9)
    np.testing.assert_allclose(ours.equity, theirs.equity, rtol=1e-12)
    np.testing.assert_allclose(ours.cash, theirs.cash, rtol=1e-12)
    # held only part of the time: fewer dividends than buy and hold's
    held = ours.positions["SPY"].shift(1).fillna(0.0)
    per_share = pd.Series(raw["dividend"][:, 0], index=raw.ts)
    assert ours.dividend_cash == pytest.approx(float((held * per_share).sum()), abs=1e-9)
    # and backtrader ignoring them is the engine ignoring them
    plain = run_backtrader(raw, SmaCross, {"fast": 10, "slow": 30}, dividends="ignore")
    np.testing.assert_allclose(backtest(raw, "sma_cross", params, dividends="ignore").equity, plain.equity, rtol=1e-12)


def test_backtrader_bridge_refuses_reinvestment(raw: Panel) -> None:
    with pytest.raises(InvalidInputError, match="reinvest"):
        run_backtrader(raw, SmaCross, {}, dividends="reinvest")


@pytest.mark.parametrize("mode", ["cash", "reinvest"])
def test_a_short_position_pays_the_dividend_in_cash(raw: Panel, mode: DividendMode) -> None:
    size = np.full(raw.shape, np.nan)
    size[0, 0] = -100.0
    short = Orders(size=size, size_type="target_shares")
    r = simulate(raw, short, fill=FillModel(allow_short=True), dividends=mode)
    paid = _file_dividends(r.fills["ts"].iloc[0])
    assert r.dividend_cash == pytest.approx(-100.0 * float(paid.sum()), abs=1e-9)
    assert len(r.fills) == 1  # nothing bought back with it
    assert float(r.cash.iloc[-1]) == pytest.approx(
        100_000.0 + 100.0 * float(r.fills["price"].iloc[0]) - 100.0 * float(paid.sum()), abs=1e-6
    )


@pytest.mark.parametrize("mode", ["cash", "reinvest"])
def test_backtest_ledger_carries_the_dividends_and_values_to_the_engine_equity(raw: Panel, mode: DividendMode) -> None:
    r = backtest(raw, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, dividends=mode)
    ledger = r.ledger("spy-sma")
    entries = [t for t in ledger.transactions if isinstance(t, Dividend)]
    assert len(entries) == int((r.dividend_income != 0).sum()) > 0
    valuation = value_ledger(ledger, raw)
    np.testing.assert_allclose(valuation.equity, r.equity.to_numpy(), rtol=0, atol=1e-6)


def test_result_says_how_it_was_measured(raw: Panel, adjusted: Panel) -> None:
    assert backtest(raw, "buy_and_hold").measured == "total return, dividends as cash"
    assert backtest(raw, "buy_and_hold", dividends="reinvest").measured == "total return, dividends reinvested"
    assert backtest(raw, "buy_and_hold", dividends="ignore").measured == "price return, dividends ignored"
    assert backtest(adjusted, "buy_and_hold").measured == "total return, dividends in the adjusted prices"
    bare = Panel(ts=raw.ts, symbols=raw.symbols, fields={f: raw[f] for f in ("open", "high", "low", "close")})
    assert backtest(bare, "buy_and_hold").measured == "price return, the panel carries no dividends"
    out = backtest(raw, "buy_and_hold").to_dict(fills=False, trades=False)
    assert out["dividends"] == "cash" and out["dividend_cash"] > 0
    assert out["measured"] == "total return, dividends as cash"
    # found by QA: a raw panel whose store records no dividends (ORCL here) is a price return, and says so
    unpaid = {**{f: raw[f] for f in raw.fields}, "dividend": np.zeros_like(raw["close"])}
    none = Panel(ts=raw.ts, symbols=("ORCL",), fields=unpaid)
    assert backtest(none, "buy_and_hold").measured == "price return: no dividends recorded for ORCL"
    both = Panel(ts=raw.ts, symbols=("SPY", "ORCL"),
                 fields={f: np.hstack([raw[f], unpaid[f]]) for f in raw.fields})  # fmt: skip
    assert backtest(both, "buy_and_hold").measured == "total return, dividends as cash (none recorded for ORCL)"


def test_tearsheet_says_how_the_backtest_and_its_benchmark_are_measured(raw: Panel, adjusted: Panel) -> None:
    bench = pd.Series(adjusted["close"][:, 0], index=adjusted.ts, name="SPY").pct_change()
    sheet = backtest(raw, "sma_cross", {"fast": 10, "slow": 30, "size": 100}).tearsheet(bench)
    assert "total return, dividends as cash" in sheet.to_html()
    assert "total return, dividends as cash" in sheet._repr_html_()


@pytest.mark.parametrize("mode", ["cash ", "CASH", "reinvested", None, 1])
def test_an_unknown_dividend_mode_is_refused_naming_the_choices(raw: Panel, mode: object) -> None:
    with pytest.raises(InvalidInputError, match=r"dividends must be one of .*'cash', 'reinvest', 'ignore'"):
        backtest(raw, "buy_and_hold", dividends=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -0.5])
def test_a_dividend_field_that_no_payer_declares_is_refused_naming_the_bar(raw: Panel, bad: float) -> None:
    div = raw["dividend"].copy()
    div[100, 0] = bad
    panel = replace(raw, fields=MappingProxyType({**raw.fields, "dividend": div}))
    with pytest.raises(InvalidInputError, match=r"dividend .*SPY.*2015-05-28"):
        backtest(panel, "buy_and_hold")
    # ignoring them ignores the field as a whole
    assert backtest(panel, "buy_and_hold", dividends="ignore").dividend_cash == 0.0


def test_a_dividend_field_on_adjusted_prices_is_refused_as_counted_twice(raw: Panel, adjusted: Panel) -> None:
    panel = replace(adjusted, fields=MappingProxyType({**adjusted.fields, "dividend": raw["dividend"]}))
    with pytest.raises(InvalidInputError, match="adjusted prices already hold the dividends"):
        backtest(panel, "buy_and_hold")
    assert backtest(panel, "buy_and_hold", dividends="ignore").final_value == pytest.approx(
        backtest(adjusted, "buy_and_hold").final_value, rel=1e-15
    )


def test_a_sweep_credits_the_dividends_as_its_single_backtests_do(raw: Panel) -> None:
    grid = {"fast": [5, 10], "slow": [30, 60]}
    frame = sweep(raw, "sma_cross", grid).frame
    for row in frame.itertuples(index=False):
        single = backtest(raw, "sma_cross", {"fast": row.fast, "slow": row.slow})
        assert single.dividend_cash > 0
        assert row.final_value == single.metrics["final_value"]  # the fast loop and the recorded one, bit for bit
        assert row.sharpe_ratio == single.metrics["sharpe_ratio"]


@pytest.mark.parametrize("mode", ["cash", "reinvest"])
def test_the_metrics_loop_and_the_recorded_loop_credit_dividends_bit_for_bit(raw: Panel, mode: DividendMode) -> None:
    from bifrost.strategy import _kernel as K
    from bifrost.strategy._engine import prepare, run_kernel
    from bifrost.strategy._strategies import sma_cross

    inputs = prepare(raw, sma_cross(raw, size=200.0), cash=100_000.0, fill=FillModel(), dividends=mode)
    recorded = run_kernel(inputs).metrics
    fast = np.zeros_like(recorded)
    kernel: Any = K.simulate_metrics  # a numba dispatcher: typed by its signature
    kernel(*inputs.args(), fast)
    np.testing.assert_array_equal(fast, recorded)
    ignored = prepare(raw, sma_cross(raw, size=200.0), cash=100_000.0, fill=FillModel(), dividends="ignore")
    assert recorded[0, K.M_FINAL_VALUE] != run_kernel(ignored).metrics[0, K.M_FINAL_VALUE]


def test_tearsheet_titles_the_parameters_and_mentions_a_benchmark_only_when_given(raw: Panel, adjusted: Panel) -> None:
    result = backtest(raw, "sma_cross", {"fast": 10, "slow": 30, "size": 100})
    alone = result.tearsheet().to_html()
    assert "Backtest: sma_cross (fast=10, slow=30, size=100" in alone and "{'fast'" not in alone
    assert "benchmark is compared as given" not in alone
    bench = pd.Series(adjusted["close"][:, 0], index=adjusted.ts, name="SPY").pct_change()
    assert "The benchmark is compared as given" in result.tearsheet(bench).to_html()
