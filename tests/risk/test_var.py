"""VaR and ES: hand-sorted examples, closed forms, and Monte Carlo against them."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.covariance import ledoit_wolf

from bifrost.errors import InvalidInputError
from bifrost.risk import (
    covariance,
    ewma_volatility,
    filtered_historical_es,
    filtered_historical_var,
    historical_es,
    historical_var,
    montecarlo_var_es,
    parametric_es,
    parametric_var,
    portfolio_risk,
    var_backtest,
    var_decomposition,
    var_es_many,
)
from tests.conftest import NVDA, ORCL, YHOO

TEN = [0.04, -0.01, 0.02, -0.05, 0.01, 0.0, -0.03, 0.03, 0.01, -0.02]  # unsorted on purpose


@functools.cache
def _real_returns() -> pd.DataFrame:
    """Daily returns of ORCL, NVDA and YHOO on their common days (the real files)."""
    closes = {
        s: pd.read_csv(f, parse_dates=["Date"], index_col="Date")["Close"]
        for s, f in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO))
    }
    return pd.DataFrame(closes).sort_index().dropna().pct_change().iloc[1:]


def sample(n: int = 2000, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_t(4, n) * 0.01 + 0.0003


def test_historical_var_and_es_match_a_hand_sorted_example() -> None:
    # sorted: -0.05, -0.03, -0.02, -0.01, 0, .01, .01, .02, .03, .04; 80%: position 0.2 × 9 = 1.8,
    # the lower order statistic is the second worst, -0.03; the tail at or below it averages -0.04
    assert historical_var(TEN, confidence=0.80) == 0.03
    assert historical_es(TEN, confidence=0.80) == pytest.approx(0.04, abs=1e-15)
    assert historical_var(TEN, confidence=0.95) == 0.05  # position 0.45 → the worst
    assert historical_var(TEN, confidence=0.80, horizon_days=10) == pytest.approx(0.03 * math.sqrt(10))
    assert historical_var([0.01, 0.02, 0.03], confidence=0.99) == 0.0  # no loss: floored at zero


def test_age_weighted_historical_var_by_hand() -> None:
    # decay 0.5 over four returns (oldest first): weights 1/15, 2/15, 4/15, 8/15; sorted by return:
    # -0.04 (w 4/15), -0.03 (1/15), 0.01 (8/15), 0.02 (2/15). At 70%, 0.30 is first reached at
    # -0.03 (cumulative 5/15); the ES averages the tail with weights 4/15 and 1/15. At 75%,
    # 0.25 is already reached at -0.04 (4/15 = 0.267).
    r = [-0.03, 0.02, -0.04, 0.01]
    assert historical_var(r, confidence=0.70, decay=0.5) == 0.03
    assert historical_es(r, confidence=0.70, decay=0.5) == pytest.approx((0.04 * 4 + 0.03 * 1) / 5)
    assert historical_var(r, confidence=0.75, decay=0.5) == 0.04
    assert historical_var(r, confidence=0.70) == 0.04  # equal weights: position 0.9 → the worst


def test_parametric_var_and_es_equal_the_closed_forms() -> None:
    r = sample()
    mu, sd = r.mean(), r.std(ddof=1)
    for c, h in ((0.99, 1), (0.95, 10), (0.975, 5)):
        z = stats.norm.ppf(1 - c)
        assert parametric_var(r, confidence=c, horizon_days=h) == pytest.approx(
            -(mu * h + z * sd * math.sqrt(h)), rel=1e-12
        )
        es = -(mu * h - sd * math.sqrt(h) * stats.norm.pdf(z) / (1 - c))
        assert parametric_es(r, confidence=c, horizon_days=h) == pytest.approx(es, rel=1e-12)


def test_cornish_fisher_adjusts_for_skew_and_fat_tails() -> None:
    r = sample()
    s, k = stats.skew(r), stats.kurtosis(r)  # population moments, excess kurtosis
    z = stats.norm.ppf(0.01)
    zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    expected = -(r.mean() + zcf * r.std(ddof=1))
    assert parametric_var(r, confidence=0.99, distribution="cornish_fisher") == pytest.approx(expected, rel=1e-10)
    assert parametric_var(r, confidence=0.99, distribution="cornish_fisher") > parametric_var(
        r, confidence=0.99
    )  # t(4): fat tails
    symmetric = np.concatenate([r - r.mean(), r.mean() - r])
    # no skew: the ES expansion still exceeds the normal one because of the kurtosis
    assert parametric_es(symmetric, confidence=0.99, distribution="cornish_fisher") > parametric_es(
        symmetric, confidence=0.99
    )


def test_filtered_historical_simulation_rescales_residuals_to_todays_volatility() -> None:
    r = sample(600)
    var = np.empty(r.size + 1)
    var[0] = np.mean(r[:30] ** 2)
    for t in range(r.size):
        var[t + 1] = 0.94 * var[t] + 0.06 * r[t] ** 2
    vol = np.sqrt(var)
    np.testing.assert_allclose(ewma_volatility(r), vol, rtol=1e-14)
    scenarios = r / vol[:-1] * vol[-1]
    assert filtered_historical_var(r, confidence=0.99) == pytest.approx(
        historical_var(scenarios, confidence=0.99), rel=1e-12
    )
    assert filtered_historical_es(r, confidence=0.975, horizon_days=5) == pytest.approx(
        historical_es(scenarios, confidence=0.975, horizon_days=5), rel=1e-12
    )


def _assets(n_days: int = 1000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((20, 20)) * 0.004
    cov = a @ a.T + np.eye(20) * 2e-5
    r = rng.multivariate_normal(np.full(20, 2e-4), cov, size=n_days)
    w = rng.uniform(-0.02, 0.1, 20)
    return r, w


def test_montecarlo_normal_converges_to_parametric_within_its_standard_error() -> None:
    r, w = _assets()
    mu_p = r.mean(axis=0) @ w
    sd_p = math.sqrt(w @ np.cov(r, rowvar=False) @ w)
    n = 200_000
    for c in (0.99, 0.95):
        exact = -(mu_p + stats.norm.ppf(1 - c) * sd_p)
        var, es = montecarlo_var_es(r, w, confidence=c, n_scenarios=n, seed=11, backend="numpy")
        # standard error of an order statistic: sqrt(α(1−α)/n) / density at the quantile
        se = math.sqrt(c * (1 - c) / n) / (stats.norm.pdf(stats.norm.ppf(1 - c)) / sd_p)
        assert abs(var - exact) < 4 * se
        exact_es = -(mu_p - sd_p * stats.norm.pdf(stats.norm.ppf(1 - c)) / (1 - c))
        assert es == pytest.approx(exact_es, rel=0.02)
    ten = montecarlo_var_es(r, w, confidence=0.99, horizon_days=10, n_scenarios=n, seed=1, backend="numpy")[0]
    assert ten == pytest.approx(-(10 * mu_p + stats.norm.ppf(0.01) * sd_p * math.sqrt(10)), rel=0.02)


def test_montecarlo_student_t_matches_the_t_quantile_and_torch_agrees_with_numpy() -> None:
    r, w = _assets()
    mu_p = r.mean(axis=0) @ w
    sd_p = math.sqrt(w @ np.cov(r, rowvar=False) @ w)
    exact = -(mu_p + sd_p * math.sqrt(3 / 5) * stats.t.ppf(0.01, 5))  # scaled to the same covariance
    var_np, es_np = montecarlo_var_es(
        r, w, confidence=0.99, n_scenarios=200_000, distribution="t", dof=5, seed=2, backend="numpy"
    )
    assert var_np == pytest.approx(exact, rel=0.03)
    var_t, es_t = montecarlo_var_es(
        r, w, confidence=0.99, n_scenarios=200_000, distribution="t", dof=5, seed=2, backend="torch"
    )
    assert var_t == pytest.approx(var_np, rel=0.03) and es_t == pytest.approx(es_np, rel=0.03)
    assert montecarlo_var_es(r, w, confidence=0.99, n_scenarios=1000, seed=4) == montecarlo_var_es(
        r, w, confidence=0.99, n_scenarios=1000, seed=4
    )


def test_covariance_estimators() -> None:
    r, _ = _assets(300)
    np.testing.assert_allclose(covariance(r, method="sample"), np.cov(r, rowvar=False), rtol=1e-12)
    lam = 0.94
    ewma = sum((1 - lam) * lam ** (len(r) - 1 - t) * np.outer(r[t], r[t]) for t in range(len(r)))
    np.testing.assert_allclose(covariance(r, method="ewma"), ewma / (1 - lam ** len(r)), rtol=1e-10)
    np.testing.assert_allclose(covariance(r, method="ledoit_wolf"), ledoit_wolf(r)[0], rtol=1e-10)


def test_component_var_sums_to_the_total_and_marginal_is_the_gradient() -> None:
    r, w = _assets()
    names = [f"A{i}" for i in range(20)]
    d = var_decomposition(pd.DataFrame(r, columns=names), w, confidence=0.99)
    assert d.component.sum() == pytest.approx(d.var, rel=1e-12)
    mu, cov = r.mean(axis=0), np.cov(r, rowvar=False)
    total = -(mu @ w) + stats.norm.ppf(0.99) * math.sqrt(w @ cov @ w)
    assert d.var == pytest.approx(total, rel=1e-12)
    eps = 1e-7
    for i in (0, 7, 19):
        up = w.copy()
        up[i] += eps
        bumped = -(mu @ up) + stats.norm.ppf(0.99) * math.sqrt(up @ cov @ up)
        assert d.marginal.iloc[i] == pytest.approx((bumped - total) / eps, rel=1e-5)
        without = w.copy()
        without[i] = 0
        assert d.incremental.iloc[i] == pytest.approx(
            total - (-(mu @ without) + stats.norm.ppf(0.99) * math.sqrt(without @ cov @ without)), rel=1e-10
        )
    assert list(d.frame().index) == names and d.frame()["share"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: historical_var([0.01, float("nan"), 0.02]), "must be finite; observation 1 is nan"),
        (lambda: historical_var([0.01]), "at least 2 observations"),
        (lambda: historical_var([0.01, 0.02], confidence=1.0), r"confidence must be in \(0, 1\)"),
        (
            lambda: historical_var([0.01, 0.02], confidence=0.99, horizon_days=0),
            "horizon_days must be an integer from 1 to 250",
        ),
        (lambda: historical_var([[0.01, 0.02]]), "must be 1-D"),
        (lambda: historical_var([0.01, -1.5]), "simple returns above -1"),
        (lambda: historical_var(["a", "b"]), "must be numeric"),
        (lambda: historical_var([0.01, 0.02], decay=1.0), r"decay must be in \(0, 1\)"),
        (lambda: parametric_var([0.01, 0.02], distribution="laplace"), "distribution must be"),  # type: ignore[arg-type]
        (lambda: montecarlo_var_es(np.zeros((10, 2)), [1.0], confidence=0.99), "weights has 1 entries for 2 assets"),
        (lambda: montecarlo_var_es(np.zeros((10, 2)), [1.0, 1.0], n_scenarios=10), "n_scenarios must be"),
        (lambda: montecarlo_var_es(np.zeros((10, 2)), [1.0, 1.0], distribution="t", dof=2), "dof must be > 2"),
        (lambda: covariance(np.zeros((10, 2)), method="shrunk"), "covariance method must be"),  # type: ignore[arg-type]
        (lambda: var_decomposition(np.zeros((10, 2)), [1.0, 1.0]), "zero variance"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_portfolio_risk_applies_each_method_to_the_weighted_history() -> None:
    r, w = _assets(500)
    names = [f"S{i}" for i in range(20)]
    returns = {n: list(r[:, i]) for i, n in enumerate(names)}
    weights = dict(zip(names, w, strict=True))
    pnl = r @ w  # the library multiplies a column-major copy: BLAS may sum in another order (last-bit differences)
    h = portfolio_risk(returns, weights, confidence=0.975, horizon_days=5)
    assert (h.var, h.es) == pytest.approx(
        (historical_var(pnl, confidence=0.975, horizon_days=5), historical_es(pnl, confidence=0.975, horizon_days=5)),
        rel=1e-12,
    )
    p = portfolio_risk(returns, weights, method="parametric")
    assert (p.var, p.es) == pytest.approx((parametric_var(pnl), parametric_es(pnl)), rel=1e-12)
    f = portfolio_risk(returns, weights, method="filtered_historical")
    assert f.var == pytest.approx(filtered_historical_var(pnl), rel=1e-12)
    m = portfolio_risk(returns, weights, method="montecarlo", seed=3)
    assert (m.var, m.es) == pytest.approx(montecarlo_var_es(r, w, confidence=0.99, seed=3), rel=1e-12)
    assert m.to_dict()["observations"] == 500 and "VaR" in m._repr_html_()


@pytest.mark.parametrize(
    ("returns", "weights", "options", "match"),
    [
        ({"A": [0.01, 0.02]}, {"B": 1.0}, {}, "no return history for B"),
        ({"A": [0.01, 0.02], "B": [0.01]}, {"A": 1.0}, {}, "same number of returns"),
        ({"A": [0.01]}, {"A": 1.0}, {}, "at least 2 days"),
        ({"A": [0.01, float("nan")]}, {"A": 1.0}, {}, "A day 1 is nan"),
        ({"A": [0.01, 0.02]}, {"A": float("inf")}, {}, "weights must be finite"),
        ({"A": [0.01, 0.02]}, {"A": 1.0}, {"confidence": 0.0}, r"confidence must be in \(0, 1\)"),
        ({"A": [0.01, 0.02]}, {"A": 1.0}, {"method": "garch"}, "method must be one of"),
        ({}, {"A": 1.0}, {}, "at least one symbol"),
        ({"A": [0.01, 0.02]}, {}, {}, "weights must map"),
        ({"A": ["x", 0.02]}, {"A": 1.0}, {}, "returns must be numbers"),
    ],
)
def test_portfolio_risk_refuses_bad_input(returns: Any, weights: Any, options: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        portfolio_risk(returns, weights, **options)


def test_var_es_many_equals_the_one_series_functions_on_every_real_stock(sp500_closes: pd.DataFrame) -> None:
    returns = sp500_closes.pct_change(fill_method=None).iloc[1:].dropna(axis=1)
    assert returns.shape[1] > 450  # the stocks with the whole five years
    for method, var_fn, es_fn in (
        ("historical", historical_var, historical_es),
        ("parametric", parametric_var, parametric_es),
    ):
        table = var_es_many(returns, confidence=0.99, horizon_days=10, method=method)  # type: ignore[arg-type]
        assert list(table.index) == list(returns.columns)
        for symbol in returns.columns[::7]:
            assert table.loc[symbol, "var"] == pytest.approx(
                var_fn(returns[symbol], confidence=0.99, horizon_days=10), rel=1e-12
            )
            assert table.loc[symbol, "es"] == pytest.approx(
                es_fn(returns[symbol], confidence=0.99, horizon_days=10), rel=1e-12
            )
    # returns rounded to 0.1% tie at the VaR: the ES still averages every return at or below it
    coarse = returns.iloc[:, :60].round(3)
    table = var_es_many(coarse, confidence=0.95)
    for symbol in coarse.columns:
        assert table.loc[symbol, "es"] == pytest.approx(historical_es(coarse[symbol], confidence=0.95), rel=1e-12)
        assert table.loc[symbol, "var"] == historical_var(coarse[symbol], confidence=0.95)


@pytest.mark.parametrize(
    ("returns", "options", "match"),
    [
        ([0.01, 0.02, 0.03], {}, r"must be 2-D \(days × series\)"),
        ([[0.01, 0.02]], {}, "at least 2 days and 1 series"),
        ([["a"], ["b"]], {}, "returns must be numeric"),
        ([[0.01, 0.02], [float("nan"), 0.0]], {}, "series 0 day 1 is nan"),
        ([[0.01, 0.02], [0.0, -1.0]], {}, "series 1 day 1 is -1.0"),
        ([[0.01], [0.02]], {"confidence": 1.0}, r"confidence must be in \(0, 1\)"),
        ([[0.01], [0.02]], {"horizon_days": 0}, "horizon_days must be an integer from 1 to 250"),
        (
            [[0.01], [0.02]],
            {"method": "montecarlo"},
            "method must be one of 'historical', 'parametric'; got 'montecarlo'",
        ),
    ],
)
def test_var_es_many_refuses_bad_input(returns: Any, options: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        var_es_many(returns, **options)


@pytest.mark.parametrize("method", ["historical", "parametric", "montecarlo", "filtered_historical"])
def test_portfolio_risk_checks_each_input_once_for_every_method(method: str, checked: Counter[str]) -> None:
    returns = _real_returns().iloc[-300:]
    weights = {s: 1 / returns.shape[1] for s in returns.columns}
    risk = portfolio_risk(returns, weights, method=method, confidence=0.99, horizon_days=10, n_scenarios=1_000)  # type: ignore[arg-type]
    assert risk.var > 0
    assert checked["as_fraction:confidence"] == 1
    assert checked["as_positive_int:horizon_days"] == 1
    assert checked["_return_matrix_problem:returns"] == 1  # the history once; the portfolio's series is not rechecked
    assert checked["as_float_array_1d:returns"] == 0


@pytest.mark.parametrize(
    "fn",
    [historical_var, historical_es, parametric_var, parametric_es, filtered_historical_var, filtered_historical_es],
)
def test_one_series_measures_check_confidence_and_returns_once(fn: Any, checked: Counter[str]) -> None:
    fn(_real_returns().iloc[:, 0], confidence=0.99, horizon_days=10)
    assert checked["as_fraction:confidence"] == 1 and checked["as_positive_int:horizon_days"] == 1
    assert checked["as_float_array_1d:returns"] == 1


def test_var_backtest_checks_confidence_and_returns_once_not_per_window(checked: Counter[str]) -> None:
    var_backtest(_real_returns().iloc[:, 0], method="filtered_historical", confidence=0.99, window=250)
    assert checked["as_fraction:confidence"] == 1 and checked["as_float_array_1d:returns"] == 1


@pytest.mark.parametrize(
    ("call", "option"),
    [
        (lambda: historical_var(TEN, 0.8), "confidence=0.8"),
        (lambda: parametric_var(TEN, 0.99, 1, distribution="normal"), "confidence=0.99, horizon_days=1"),
        (lambda: montecarlo_var_es(np.zeros((10, 2)) + 0.01, [0.5, 0.5], 0.99, n_scenarios=100), "confidence=0.99"),
        (lambda: covariance(np.zeros((10, 2)), "sample"), "method='sample'"),
    ],
)
def test_positional_options_still_work_for_one_release_with_a_deprecation_warning(call: Any, option: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"pass .* by keyword \({re.escape(option)}\)"):
        call()


def test_positional_options_keep_their_values() -> None:
    with pytest.warns(DeprecationWarning, match="historical_var"):
        assert historical_var(TEN, 0.80, 4) == historical_var(TEN, confidence=0.80, horizon_days=4)
    with pytest.raises(TypeError, match="got multiple values for argument 'confidence'"):
        historical_var(TEN, 0.8, confidence=0.8)  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes 3 positional arguments but 4 were given"):
        historical_var(TEN, 0.8, 1, None)  # type: ignore[misc]
