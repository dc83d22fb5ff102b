"""bifrost.analytics as a drop-in for empyrical: pandas in → pandas out, the functions
empyrical has, its edge cases, and a second series that aligns instead of broadcasting.

Every number is empyrical-reloaded's (installed as ``empyrical``) on real adjusted closes
(ORCL, NVDA, YHOO from the backtrader Yahoo files, SPY's total return), to 1e-10 relative.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import empyrical
import numpy as np
import pandas as pd
import pytest

import bifrost.analytics as bf
from bifrost.data import CsvSource, load_bars
from bifrost.errors import InvalidInputError
from tests.conftest import NVDA, ORCL, SPY, YHOO

RTOL = 1e-10
START, END = "2012-01-01", "2014-12-31"  # three years the four files share


def _adj_close(path: Any, symbol: str) -> pd.Series:
    close = load_bars(CsvSource(path, symbol=symbol)).bars["adj_close"].droplevel("symbol")
    return close.loc[START:END].rename(symbol)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    """Adjusted closes of ORCL, NVDA and YHOO on their common dates."""
    frame = pd.concat([_adj_close(p, s) for p, s in ((ORCL, "ORCL"), (NVDA, "NVDA"), (YHOO, "YHOO"))], axis=1)
    return frame.dropna()


@pytest.fixture(scope="module")
def stocks(prices: pd.DataFrame) -> pd.DataFrame:
    """Daily simple returns of the three stocks (a DataFrame on a UTC DatetimeIndex)."""
    r = prices.pct_change().iloc[1:]
    assert r.shape[1] == 3 and len(r) > 700 and not r.isna().any().any()
    return r


@pytest.fixture(scope="module")
def spy(stocks: pd.DataFrame) -> pd.Series:
    """SPY's total return on the stocks' dates."""
    return _adj_close(SPY, "SPY").pct_change().reindex(stocks.index)


def close(ours: Any, theirs: Any) -> None:
    np.testing.assert_allclose(
        np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=RTOL, equal_nan=True
    )


# -- pandas in → pandas out, arrays in → arrays out ----------------------------------------------
SERIES_VALUED: dict[str, Callable[..., Any]] = {
    "cum_returns": lambda m, r, f: m.cum_returns(r),
    "cum_returns_wealth": lambda m, r, f: m.cum_returns(r, starting_value=100),
    "roll_sharpe_ratio": lambda m, r, f: m.roll_sharpe_ratio(r, window=21),
    "roll_annual_volatility": lambda m, r, f: m.roll_annual_volatility(r, window=21),
    "roll_max_drawdown": lambda m, r, f: m.roll_max_drawdown(r, window=63),
    "roll_beta": lambda m, r, f: m.roll_beta(r, f, window=63),
    "roll_up_capture": lambda m, r, f: m.roll_up_capture(r, f, window=63),
    "roll_down_capture": lambda m, r, f: m.roll_down_capture(r, f, window=63),
    "roll_up_down_capture": lambda m, r, f: m.roll_up_down_capture(r, f, window=63),
}


@pytest.mark.parametrize("name", SERIES_VALUED)
def test_series_valued_metric_of_a_series_is_a_series_on_its_index(
    name: str, stocks: pd.DataFrame, spy: pd.Series
) -> None:
    r = stocks["ORCL"].iloc[:300]
    f = spy.iloc[:300]
    ours = SERIES_VALUED[name](bf, r, f)
    theirs = SERIES_VALUED[name](empyrical, r, f)
    assert isinstance(ours, pd.Series) and isinstance(theirs, pd.Series)
    pd.testing.assert_index_equal(ours.index, theirs.index)
    assert ours.index.equals(r.index[-len(ours) :])
    close(ours, theirs)
    assert np.isfinite(ours.to_numpy()).sum() > 200


@pytest.mark.parametrize("name", SERIES_VALUED)
def test_series_valued_metric_of_an_array_is_an_array(name: str, stocks: pd.DataFrame, spy: pd.Series) -> None:
    r = stocks["NVDA"].to_numpy()[:300]
    f = spy.to_numpy()[:300]
    ours = SERIES_VALUED[name](bf, r, f)
    assert type(ours) is np.ndarray
    close(ours, SERIES_VALUED[name](empyrical, r, f))


def test_cum_returns_of_a_dataframe_is_a_dataframe_on_its_index_and_columns(stocks: pd.DataFrame) -> None:
    ours = bf.cum_returns(stocks, starting_value=1)
    assert isinstance(ours, pd.DataFrame)
    pd.testing.assert_frame_equal(ours, empyrical.cum_returns(stocks, starting_value=1), rtol=RTOL)


def test_drawdown_series_of_a_series_is_a_series_on_its_index(stocks: pd.DataFrame) -> None:
    ours = bf.drawdown_series(stocks["YHOO"])
    assert isinstance(ours, pd.Series) and ours.index.equals(stocks.index)
    close(ours, empyrical.stats.drawdown_series(stocks["YHOO"]))


REDUCTIONS: dict[str, Callable[..., Any]] = {
    "sharpe_ratio": lambda m, r: m.sharpe_ratio(r),
    "sortino_ratio": lambda m, r: m.sortino_ratio(r),
    "sortino_ratio_required": lambda m, r: m.sortino_ratio(r, required_return=0.001),
    "downside_risk": lambda m, r: m.downside_risk(r),
    "downside_risk_required": lambda m, r: m.downside_risk(r, required_return=0.001),
    "max_drawdown": lambda m, r: m.max_drawdown(r),
    "annual_volatility": lambda m, r: m.annual_volatility(r),
    "cum_returns_final": lambda m, r: m.cum_returns_final(r),
}


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_of_a_dataframe_is_a_series_on_its_columns_matching_empyrical(
    name: str, stocks: pd.DataFrame
) -> None:
    ours = REDUCTIONS[name](bf, stocks)
    assert isinstance(ours, pd.Series) and list(ours.index) == list(stocks.columns)
    close(ours, REDUCTIONS[name](empyrical, stocks))
    close(ours, [REDUCTIONS[name](empyrical, stocks[c]) for c in stocks])  # column by column too


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_of_a_2d_array_is_an_array_and_of_a_series_a_float(name: str, stocks: pd.DataFrame) -> None:
    ours = REDUCTIONS[name](bf, stocks.to_numpy())
    assert type(ours) is np.ndarray and ours.shape == (3,)
    one = REDUCTIONS[name](bf, stocks["ORCL"])
    assert type(one) is float
    close(one, REDUCTIONS[name](empyrical, stocks["ORCL"]))


def test_alpha_beta_of_a_dataframe_is_a_frame_of_alpha_and_beta(stocks: pd.DataFrame, spy: pd.Series) -> None:
    ours = bf.alpha_beta(stocks, spy)
    assert isinstance(ours, pd.DataFrame) and list(ours.columns) == ["alpha", "beta"]
    close(ours.to_numpy(), [empyrical.alpha_beta(stocks[c], spy) for c in stocks])


# -- a risk-free rate or required return that varies by date aligns, never broadcasts --------------
@pytest.fixture(scope="module")
def rate(stocks: pd.DataFrame) -> pd.Series:
    """A daily risk-free rate that moves (SPY's return scaled down), on every other date."""
    spy = _adj_close(SPY, "SPY").pct_change().reindex(stocks.index)
    return (spy.abs() / 50).iloc[::2]


SERIES_RATE: dict[str, Callable[..., Any]] = {
    "sharpe_ratio": lambda m, r, rf: m.sharpe_ratio(r, risk_free=rf),
    "downside_risk": lambda m, r, rf: m.downside_risk(r, required_return=rf),
    "sortino_ratio": lambda m, r, rf: m.sortino_ratio(r, required_return=rf),
    "excess_sharpe": lambda m, r, rf: m.excess_sharpe(r, rf),
}


@pytest.mark.parametrize("name", SERIES_RATE)
def test_series_rate_aligns_by_date_as_empyrical(name: str, stocks: pd.DataFrame, rate: pd.Series) -> None:
    r = stocks["ORCL"]
    ours = SERIES_RATE[name](bf, r, rate)
    assert type(ours) is float  # one number, not an n × n array
    close(ours, SERIES_RATE[name](empyrical, r, rate))
    # the same rate shuffled: pandas pairs it by date, so nothing changes
    close(SERIES_RATE[name](bf, r, rate.sample(frac=1.0, random_state=7)), ours)


@pytest.mark.parametrize("name", SERIES_RATE)
def test_array_rate_pairs_by_position(name: str, stocks: pd.DataFrame, rate: pd.Series) -> None:
    r = stocks["NVDA"].to_numpy()
    rf = rate.reindex(stocks.index).fillna(0.0).to_numpy()
    ours = SERIES_RATE[name](bf, r, rf)
    assert type(ours) is float
    close(ours, SERIES_RATE[name](empyrical, r, rf))


def test_series_rate_on_a_dataframe_applies_to_every_column(stocks: pd.DataFrame, rate: pd.Series) -> None:
    ours = bf.sortino_ratio(stocks, required_return=rate)
    assert isinstance(ours, pd.Series) and ours.shape == (3,)
    close(ours, [empyrical.sortino_ratio(stocks[c], required_return=rate) for c in stocks])


# -- the functions empyrical has ---------------------------------------------------------------------
def test_simple_returns_of_prices_match_empyrical_in_kind(prices: pd.DataFrame) -> None:
    ours = bf.simple_returns(prices["ORCL"])
    assert isinstance(ours, pd.Series) and ours.index.equals(prices.index[1:])
    close(ours, empyrical.simple_returns(prices["ORCL"]))
    frame = bf.simple_returns(prices)
    assert isinstance(frame, pd.DataFrame) and frame.shape == (len(prices) - 1, 3)
    close(frame, empyrical.simple_returns(prices))
    array = bf.simple_returns(prices.to_numpy())
    assert type(array) is np.ndarray
    close(array, empyrical.simple_returns(prices.to_numpy()))


def test_simple_returns_of_integer_prices_keep_a_one_tick_move() -> None:
    cents = np.array([2**62, 2**62 + 1, 2**62 - 3], dtype=np.int64)
    np.testing.assert_allclose(bf.simple_returns(cents), [1 / 2**62, -4 / (2**62 + 1)], rtol=1e-15, atol=0)
    assert bf.simple_returns(np.array([7], dtype=np.int64)).shape == (0,)


def test_roll_alpha_beta_matches_empyrical_on_a_series_and_an_array(stocks: pd.DataFrame, spy: pd.Series) -> None:
    r, f = stocks["YHOO"].iloc[:200], spy.iloc[:200]
    ours = bf.roll_alpha_beta(r, f, window=42)
    theirs = empyrical.roll_alpha_beta(r, f, window=42)
    assert isinstance(ours, pd.DataFrame) and ours.shape == (159, 2)
    pd.testing.assert_index_equal(ours.index, theirs.index)
    close(ours, theirs)
    array = bf.roll_alpha_beta(r.to_numpy(), f.to_numpy(), window=42)
    assert type(array) is np.ndarray
    close(array, theirs)


def test_batting_average_matches_empyrical(stocks: pd.DataFrame, spy: pd.Series) -> None:
    ours = bf.batting_average(stocks["ORCL"], spy)
    theirs = empyrical.batting_average(stocks["ORCL"], spy)
    pd.testing.assert_series_equal(ours, theirs.astype(float))
    assert 0.3 < ours["batting average"] < 0.7


@pytest.mark.parametrize("symbol", ["ORCL", "NVDA", "YHOO"])
def test_gpd_risk_estimates_match_empyrical(symbol: str, stocks: pd.DataFrame) -> None:
    ours = bf.gpd_risk_estimates(stocks[symbol])
    theirs = empyrical.gpd_risk_estimates(stocks[symbol])
    assert isinstance(ours, pd.Series) and ours.shape == (5,)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-8)
    array = bf.gpd_risk_estimates(stocks[symbol].to_numpy(), var_p=0.05)
    np.testing.assert_allclose(array, empyrical.gpd_risk_estimates(stocks[symbol].to_numpy(), 0.05), rtol=1e-8)


@pytest.mark.parametrize("side", ["up_alpha_beta", "down_alpha_beta"])
def test_up_and_down_alpha_beta_match_empyrical(side: str, stocks: pd.DataFrame, spy: pd.Series) -> None:
    ours = getattr(bf, side)(stocks["NVDA"], spy)
    close(ours, getattr(empyrical, side)(stocks["NVDA"], spy))
    assert np.isfinite(ours).all()


def test_beta_fragility_heuristic_matches_empyrical(stocks: pd.DataFrame, spy: pd.Series) -> None:
    close(bf.beta_fragility_heuristic(stocks["ORCL"], spy), empyrical.beta_fragility_heuristic(stocks["ORCL"], spy))


@pytest.mark.parametrize("convert_to", ["weekly", "monthly", "quarterly", "yearly"])
def test_aggregate_returns_matches_empyrical(convert_to: str, stocks: pd.DataFrame) -> None:
    ours = bf.aggregate_returns(stocks["ORCL"], convert_to)  # type: ignore[arg-type]
    theirs = empyrical.aggregate_returns(stocks["ORCL"], convert_to)
    assert list(ours.index) == list(theirs.index)
    close(ours, theirs)


def test_period_constants_are_empyricals() -> None:
    assert (bf.DAILY, bf.WEEKLY, bf.MONTHLY, bf.QUARTERLY, bf.YEARLY) == (
        empyrical.DAILY,
        empyrical.WEEKLY,
        empyrical.MONTHLY,
        empyrical.QUARTERLY,
        empyrical.YEARLY,
    )


# -- edge cases answered as empyrical answers them --------------------------------------------------
SHORT: dict[str, Callable[..., Any]] = {
    "cum_returns_final": lambda m, r, f: m.cum_returns_final(r),
    "annual_return": lambda m, r, f: m.annual_return(r),
    "annual_volatility": lambda m, r, f: m.annual_volatility(r),
    "sharpe_ratio": lambda m, r, f: m.sharpe_ratio(r),
    "sortino_ratio": lambda m, r, f: m.sortino_ratio(r),
    "downside_risk": lambda m, r, f: m.downside_risk(r),
    "calmar_ratio": lambda m, r, f: m.calmar_ratio(r),
    "omega_ratio": lambda m, r, f: m.omega_ratio(r),
    "max_drawdown": lambda m, r, f: m.max_drawdown(r),
    "tail_ratio": lambda m, r, f: m.tail_ratio(r),
    "stability_of_timeseries": lambda m, r, f: m.stability_of_timeseries(r),
    "value_at_risk": lambda m, r, f: m.value_at_risk(r),
    "conditional_value_at_risk": lambda m, r, f: m.conditional_value_at_risk(r),
    "excess_sharpe": lambda m, r, f: m.excess_sharpe(r, f),
    "alpha": lambda m, r, f: m.alpha(r, f),
    "beta": lambda m, r, f: m.beta(r, f),
    "capture": lambda m, r, f: m.capture(r, f),
    "up_capture": lambda m, r, f: m.up_capture(r, f),
    "down_capture": lambda m, r, f: m.down_capture(r, f),
    "up_down_capture": lambda m, r, f: m.up_down_capture(r, f),
}


@pytest.mark.parametrize("length", [0, 1])
@pytest.mark.parametrize("name", SHORT)
@pytest.mark.parametrize("kind", ["series", "array"])
def test_empty_or_one_return_is_answered_as_empyrical(
    name: str, length: int, kind: str, stocks: pd.DataFrame, spy: pd.Series
) -> None:
    r, f = stocks["ORCL"].iloc[:length], spy.iloc[:length]
    if kind == "array":
        r, f = r.to_numpy(), f.to_numpy()
    ours = SHORT[name](bf, r, f)
    theirs = SHORT[name](empyrical, r, f)
    assert np.isscalar(ours)
    close(ours, theirs)


def test_empty_returns_against_a_benchmark_are_nan_not_a_length_error(spy: pd.Series) -> None:
    f = spy.to_numpy()[:9]
    for name in ("alpha", "beta", "up_capture", "down_capture", "excess_sharpe"):
        assert np.isnan(getattr(bf, name)(np.array([]), f)), name
    close(bf.alpha_beta(np.array([]), f), [np.nan, np.nan])
    close(bf.roll_alpha_beta(pd.Series([], dtype=float), spy.iloc[:9], window=1), np.full((9, 2), np.nan))


@pytest.mark.parametrize("cutoff", [0.0, 0.2, 1.0])
def test_value_at_risk_cutoff_at_the_ends_is_the_extreme_return(cutoff: float, stocks: pd.DataFrame) -> None:
    r = stocks["NVDA"].to_numpy()
    close(bf.value_at_risk(r, cutoff=cutoff), empyrical.value_at_risk(r, cutoff=cutoff))
    close(bf.conditional_value_at_risk(r, cutoff=cutoff), empyrical.conditional_value_at_risk(r, cutoff=cutoff))
    if cutoff == 0.0:
        assert bf.value_at_risk(r, cutoff=cutoff) == r.min() == bf.conditional_value_at_risk(r, cutoff=cutoff)


def test_zero_size_reductions_are_nan_per_column() -> None:
    empty = np.empty((0, 3))
    for name in ("tail_ratio", "value_at_risk", "conditional_value_at_risk", "max_drawdown", "annual_return"):
        out = getattr(bf, name)(empty)
        assert out.shape == (3,) and np.isnan(out).all(), name
    frame = bf.cum_returns(pd.DataFrame())
    assert isinstance(frame, pd.DataFrame) and frame.empty


def test_drop_in_aligned_names_are_the_same_functions() -> None:
    assert bf.alpha_aligned is bf.alpha and bf.beta_aligned is bf.beta and bf.alpha_beta_aligned is bf.alpha_beta
    assert bf.gpd_risk_estimates_aligned is bf.gpd_risk_estimates


# -- bad input: a clear InvalidInputError, as before ------------------------------------------------
def test_bad_second_series_and_options_are_invalid_input_errors(stocks: pd.DataFrame, spy: pd.Series) -> None:
    r = stocks["ORCL"]
    with pytest.raises(InvalidInputError, match="risk_free contains ±inf at Timestamp"):
        bf.sharpe_ratio(r, risk_free=r.where(r.index != r.index[5], np.inf))
    with pytest.raises(InvalidInputError, match="risk_free must be a finite number"):
        bf.sharpe_ratio(r, risk_free=np.nan)
    with pytest.raises(InvalidInputError, match="required_return has 3 rows, returns have 5; align them first"):
        bf.downside_risk(np.zeros(5), required_return=np.zeros(3))
    with pytest.raises(InvalidInputError, match=r"cutoff must be in \[0, 1\], got 1.5"):
        bf.value_at_risk(r, cutoff=1.5)
    with pytest.raises(InvalidInputError, match=r"cutoff must be in \[0, 1\], got -0.1"):
        bf.conditional_value_at_risk(r, cutoff=-0.1)
    with pytest.raises(InvalidInputError, match=r"var_p must be in \(0, 1\)"):
        bf.gpd_risk_estimates(r, var_p=0.0)
    with pytest.raises(InvalidInputError, match="batting_average takes one series, got 3 columns"):
        bf.batting_average(stocks, spy)
    with pytest.raises(InvalidInputError, match="roll_alpha_beta takes one series"):
        bf.roll_alpha_beta(stocks, spy)
    with pytest.raises(InvalidInputError, match="prices must be numeric"):
        bf.simple_returns(["a", "b"])
    with pytest.raises(InvalidInputError, match="aggregate_returns needs a pandas Series"):
        bf.aggregate_returns(r.to_numpy(), "monthly")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="convert_to must be one of"):
        bf.aggregate_returns(r, "daily")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="duplicate labels"):
        bf.sharpe_ratio(r, risk_free=pd.concat([rate_of(r), rate_of(r)]))


def rate_of(r: pd.Series) -> pd.Series:
    return (r.abs() / 100).iloc[::3]


def test_options_by_position_work_as_in_empyrical_without_a_warning() -> None:
    # a call written for empyrical runs unchanged (its conditional_value_at_risk_empty test turns warnings
    # into errors); the answers equal the keyword calls'
    r = np.array([0.01, -0.02, 0.015, -0.03, 0.002, 0.004, -0.011])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bf.value_at_risk(r, 0.1) == bf.value_at_risk(r, cutoff=0.1)
        assert bf.sharpe_ratio(r, 0.0001, "weekly") == bf.sharpe_ratio(r, risk_free=0.0001, period="weekly")
        assert bf.cum_returns(r, 100.0)[-1] == bf.cum_returns(r, starting_value=100.0)[-1]
    with pytest.raises(TypeError, match="multiple values for argument 'cutoff'"):
        bf.value_at_risk(r, 0.1, cutoff=0.2)
    with pytest.raises(TypeError, match="positional arguments"):
        bf.value_at_risk(r, 0.1, 0.2)
