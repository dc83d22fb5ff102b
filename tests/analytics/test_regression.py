"""Factor regression against statsmodels OLS on real returns and the real Fama–French factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from bifrost.analytics import factor_regression
from bifrost.data import CsvSource, load_bars, read_fama_french
from bifrost.errors import InvalidInputError
from tests.conftest import DATA, SP500, SPY


@pytest.fixture(scope="module")
def ff() -> pd.DataFrame:
    return read_fama_french(DATA / "factors" / "F-F_Research_Data_Factors_daily.CSV")


def _spy() -> pd.Series:
    adj = load_bars(CsvSource(SPY, symbol="SPY")).bars["adj_close"].droplevel("symbol")
    return adj.pct_change().loc["2013-02-11":"2018-02-07"]


def _reference(returns: pd.Series, ff: pd.DataFrame) -> sm.regression.linear_model.RegressionResults:
    joined = pd.concat([returns.rename("r"), ff], axis=1, join="inner").dropna()
    x = sm.add_constant(joined[["Mkt-RF", "SMB", "HML"]])
    return sm.OLS(joined["r"] - joined["RF"], x).fit()


def test_spy_on_fama_french_matches_statsmodels(ff: pd.DataFrame) -> None:
    returns = _spy()
    fit = factor_regression(returns, ff)
    ref = _reference(returns, ff)
    assert fit.n_obs == int(ref.nobs) == 1258
    np.testing.assert_allclose(fit.params, ref.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(fit.std_errors, ref.bse.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(fit.t_stats, ref.tvalues.to_numpy(), rtol=1e-10)
    assert fit.r_squared == pytest.approx(ref.rsquared, rel=1e-12)
    assert fit.adj_r_squared == pytest.approx(ref.rsquared_adj, rel=1e-12)
    # what a quant expects of the S&P 500 ETF: market beta ~1, tiny alpha, R² near 1
    assert 0.95 < fit.betas["Mkt-RF"] < 1.05 and fit.r_squared > 0.98 and abs(fit.alpha_annual) < 0.01


def test_single_stock_regression_matches_statsmodels(ff: pd.DataFrame) -> None:
    close = load_bars(CsvSource(SP500, symbol="JPM")).bars["close"].droplevel("symbol")
    returns = close.pct_change().iloc[1:]
    fit = factor_regression(returns, ff)
    ref = _reference(returns, ff)
    np.testing.assert_allclose(fit.params, ref.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(fit.t_stats, ref.tvalues.to_numpy(), rtol=1e-10)
    assert fit.betas["HML"] > 0  # a bank loads on value
    assert list(fit.summary().index) == ["alpha", "Mkt-RF", "SMB", "HML"]
    assert "R²" in fit._repr_html_()


def test_regression_bad_input(ff: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="returns must be a pandas Series on a DatetimeIndex"):
        factor_regression(pd.Series([0.1, 0.2]), ff)
    with pytest.raises(InvalidInputError, match="no risk-free column 'RFR'"):
        factor_regression(_spy(), ff, risk_free="RFR")
    with pytest.raises(InvalidInputError, match="only 0 dates in common"):
        factor_regression(_spy(), ff.loc["1990":"1991"])
