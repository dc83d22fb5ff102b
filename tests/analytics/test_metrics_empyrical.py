"""Every metric empyrical also provides, on the real 505 stocks against SPY, to 1e-10 relative."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import empyrical
import numpy as np
import pandas as pd
import pytest

import bifrost.analytics as bf
from bifrost.data import CsvSource, load_bars
from bifrost.errors import InvalidInputError
from tests.conftest import SPY

RTOL = 1e-10


@pytest.fixture(scope="module")
def returns(sp500_closes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Daily simple returns 2013-02-11 … 2018-02-07: 505 stocks (NaN before listing or around
    a quarantined bar) and SPY's total return (adjusted close) on the same dates."""
    stocks = sp500_closes
    spy = load_bars(CsvSource(SPY, symbol="SPY")).bars["adj_close"].droplevel("symbol")
    r = stocks.pct_change(fill_method=None).iloc[1:]
    f = spy.pct_change().reindex(r.index)
    assert r.shape == (1258, 505) and not f.isna().any()
    return r.to_numpy(), f.to_numpy()


UNARY: dict[str, Callable[..., Any]] = {
    "cum_returns_final": lambda m, r: m.cum_returns_final(r),
    "annual_return": lambda m, r: m.annual_return(r),
    "cagr": lambda m, r: m.cagr(r),
    "annual_volatility": lambda m, r: m.annual_volatility(r),
    "sharpe_ratio": lambda m, r: m.sharpe_ratio(r),
    "sharpe_ratio_rf": lambda m, r: m.sharpe_ratio(r, risk_free=0.0001),
    "sortino_ratio": lambda m, r: m.sortino_ratio(r),
    "sortino_ratio_required": lambda m, r: m.sortino_ratio(r, required_return=0.0005),
    "downside_risk": lambda m, r: m.downside_risk(r),
    "calmar_ratio": lambda m, r: m.calmar_ratio(r),
    "omega_ratio": lambda m, r: m.omega_ratio(r),
    "omega_ratio_required": lambda m, r: m.omega_ratio(r, risk_free=0.0, required_return=0.05),
    "max_drawdown": lambda m, r: m.max_drawdown(r),
    "tail_ratio": lambda m, r: m.tail_ratio(r),
    "stability_of_timeseries": lambda m, r: m.stability_of_timeseries(r),
    "value_at_risk": lambda m, r: m.value_at_risk(r),
    "conditional_value_at_risk": lambda m, r: m.conditional_value_at_risk(r),
    "annual_volatility_weekly": lambda m, r: m.annual_volatility(r, period="weekly"),
}
BINARY: dict[str, Callable[..., Any]] = {
    "alpha": lambda m, r, f: m.alpha(r, f),
    "beta": lambda m, r, f: m.beta(r, f),
    "alpha_beta": lambda m, r, f: m.alpha_beta(r, f),
    "excess_sharpe": lambda m, r, f: m.excess_sharpe(r, f),
    "capture": lambda m, r, f: m.capture(r, f),
    "up_capture": lambda m, r, f: m.up_capture(r, f),
    "down_capture": lambda m, r, f: m.down_capture(r, f),
    "up_down_capture": lambda m, r, f: m.up_down_capture(r, f),
}


@pytest.mark.parametrize("name", UNARY)
def test_metric_matches_empyrical_on_505_real_series(name: str, returns: tuple[np.ndarray, np.ndarray]) -> None:
    r, _ = returns
    ours = np.asarray(UNARY[name](bf, r))  # all 505 columns at once
    theirs = np.array([UNARY[name](empyrical, r[:, j]) for j in range(r.shape[1])])
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0, equal_nan=True)
    assert np.isfinite(ours).sum() >= 400  # a real comparison, not NaN against NaN


@pytest.mark.parametrize("name", BINARY)
def test_benchmark_metric_matches_empyrical_against_spy(name: str, returns: tuple[np.ndarray, np.ndarray]) -> None:
    r, f = returns
    ours = np.asarray(BINARY[name](bf, r, f))
    theirs = np.array([BINARY[name](empyrical, r[:, j], f) for j in range(r.shape[1])])
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0, equal_nan=True)
    assert np.isfinite(ours).sum() >= 400


@pytest.mark.parametrize("name", ["sharpe_ratio", "max_drawdown", "alpha_beta", "tail_ratio"])
def test_one_series_gives_what_empyrical_gives(name: str, returns: tuple[np.ndarray, np.ndarray]) -> None:
    r, f = returns
    column = r[:, 0]
    call = UNARY.get(name)
    ours = call(bf, column) if call else BINARY[name](bf, column, f)
    theirs = call(empyrical, column) if call else BINARY[name](empyrical, column, f)
    assert type(ours) is type(theirs) or isinstance(ours, float)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda r, f: bf.roll_sharpe_ratio(r, window=63), lambda r, f: empyrical.roll_sharpe_ratio(r, 63)),
        (lambda r, f: bf.roll_annual_volatility(r, window=63), lambda r, f: empyrical.roll_annual_volatility(r, 63)),
        (lambda r, f: bf.roll_max_drawdown(r, window=63), lambda r, f: empyrical.roll_max_drawdown(r, 63)),
        (lambda r, f: bf.roll_beta(r, f, window=63), lambda r, f: empyrical.roll_beta(r, f, 63)),
    ],
)
def test_rolling_metric_matches_empyrical(
    ours: Callable[..., Any], theirs: Callable[..., Any], returns: tuple[np.ndarray, np.ndarray]
) -> None:
    r, f = returns
    for j in (0, 42, 404):  # AAL, one listed throughout, and one more
        np.testing.assert_allclose(ours(r[:, j], f), theirs(r[:, j], f), rtol=RTOL, equal_nan=True)


def test_max_drawdown_duration_on_a_hand_made_path() -> None:
    # up, down, down, up (not recovered), up (new peak), down: longest underwater run is 3
    r = np.array([0.10, -0.05, -0.05, 0.05, 0.20, -0.01])
    assert bf.max_drawdown_duration(r) == 3.0


def test_metric_bad_input_is_invalid_input_error() -> None:
    with pytest.raises(InvalidInputError, match=r"returns must be 1-D .* got shape"):
        bf.sharpe_ratio(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidInputError, match="±inf"):
        bf.sharpe_ratio(np.array([0.01, np.inf]))
    with pytest.raises(InvalidInputError, match="returns must be numeric"):
        bf.sharpe_ratio(["a", "b"])
    with pytest.raises(InvalidInputError, match="factor_returns has 2 rows, returns have 3"):
        bf.beta(np.zeros(3), np.zeros(2))
    with pytest.raises(InvalidInputError, match="period must be one of"):
        bf.annual_return(np.zeros(3), period="hourly")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="window must be a whole number of periods >= 1"):
        bf.roll_sharpe_ratio(np.zeros(3), window=0)


def test_analytics_public_api_is_what_all_lists() -> None:
    public = {n for n in dir(bf) if not n.startswith("_") and n not in {"annotations"}}
    assert set(bf.__all__) == public - {"_metrics"}
    assert all(callable(getattr(bf, n)) for n in bf.__all__ if not n.isupper())  # constants: factors, periods


def test_pandas_series_input_works_like_an_array(returns: tuple[np.ndarray, np.ndarray]) -> None:
    r, _ = returns
    series = pd.Series(r[:, 0])
    assert bf.sharpe_ratio(series) == bf.sharpe_ratio(r[:, 0])
