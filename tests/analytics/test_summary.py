"""perf_stats agrees with the individual (empyrical-tested) functions, on both of its paths."""

from __future__ import annotations

import numpy as np
import pytest

import bifrost.analytics as bf
from bifrost.data import SyntheticMarket
from bifrost.errors import InvalidInputError
from tests.analytics.test_metrics_empyrical import returns  # noqa: F401  (module fixture)

INDIVIDUAL = {
    "cum_returns_final": lambda r, f: bf.cum_returns_final(r),
    "annual_return": lambda r, f: bf.annual_return(r),
    "annual_volatility": lambda r, f: bf.annual_volatility(r),
    "sharpe_ratio": lambda r, f: bf.sharpe_ratio(r),
    "sortino_ratio": lambda r, f: bf.sortino_ratio(r),
    "downside_risk": lambda r, f: bf.downside_risk(r),
    "calmar_ratio": lambda r, f: bf.calmar_ratio(r),
    "omega_ratio": lambda r, f: bf.omega_ratio(r),
    "max_drawdown": lambda r, f: bf.max_drawdown(r),
    "max_drawdown_duration": lambda r, f: bf.max_drawdown_duration(r),
    "tail_ratio": lambda r, f: bf.tail_ratio(r),
    "stability_of_timeseries": lambda r, f: bf.stability_of_timeseries(r),
    "value_at_risk": lambda r, f: bf.value_at_risk(r),
    "conditional_value_at_risk": lambda r, f: bf.conditional_value_at_risk(r),
    "alpha": lambda r, f: bf.alpha(r, f),
    "beta": lambda r, f: bf.beta(r, f),
    "excess_sharpe": lambda r, f: bf.excess_sharpe(r, f),
    "up_capture": lambda r, f: bf.up_capture(r, f),
    "down_capture": lambda r, f: bf.down_capture(r, f),
}


@pytest.fixture(scope="module")
def clean() -> tuple[np.ndarray, np.ndarray]:
    r = np.expm1(SyntheticMarket(n_symbols=40, n_days=1500, seed=5).total_log_returns()[1:])
    return r, r.mean(axis=1)


@pytest.mark.parametrize("metric", INDIVIDUAL)
def test_perf_stats_fast_path_equals_individual_functions(metric: str, clean: tuple[np.ndarray, np.ndarray]) -> None:
    r, f = clean  # no missing returns: every series takes the shared fast path
    table = bf.perf_stats(r, f)
    np.testing.assert_allclose(table[metric], INDIVIDUAL[metric](r, f), rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("metric", INDIVIDUAL)
def test_perf_stats_on_real_data_with_gaps_equals_individual_functions(
    metric: str,
    returns: tuple[np.ndarray, np.ndarray],  # noqa: F811
) -> None:
    r, f = returns  # late listings and quarantined bars: both paths are used
    table = bf.perf_stats(r, f)
    np.testing.assert_allclose(table[metric], INDIVIDUAL[metric](r, f), rtol=1e-11, atol=1e-15, equal_nan=True)


def test_perf_stats_table_shape_names_and_html(clean: tuple[np.ndarray, np.ndarray]) -> None:
    r, f = clean
    names = [f"S{i}" for i in range(r.shape[1])]
    table = bf.perf_stats(r, f, names=names)
    frame = table.to_frame()
    assert frame.shape == (19, 40) and list(frame.columns) == names
    assert frame.loc["sharpe_ratio", "S3"] == table["sharpe_ratio"][3]
    html = table._repr_html_()
    assert "<table" in html and "sharpe_ratio" in html and "and 28 more series" in html
    assert "alpha" not in bf.perf_stats(r).to_frame().index  # no benchmark, no benchmark metrics


def test_perf_stats_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="names has 1 entries for 2 series"):
        bf.perf_stats(np.zeros((5, 2)), names=["a"])
    with pytest.raises(InvalidInputError, match="no metric 'sharpe'"):
        bf.perf_stats(np.zeros((5, 2)))["sharpe"]


def test_perf_stats_degenerate_series_agree_with_individual_functions() -> None:
    # constant positive, constant zero, one crash day, and all gains: each path's corner
    n = 300
    r = np.column_stack([np.full(n, 0.001), np.zeros(n), np.r_[np.zeros(n - 1), -0.5], np.linspace(0.001, 0.002, n)])
    f = np.linspace(-0.01, 0.01, n)
    table = bf.perf_stats(r, f)
    for metric, fn in INDIVIDUAL.items():
        np.testing.assert_allclose(table[metric], fn(r, f), rtol=1e-11, atol=1e-15, equal_nan=True, err_msg=metric)
    assert table["sharpe_ratio"][0] == np.inf  # no dispersion, positive mean: as empyrical


def test_perf_stats_too_short_series_are_nan_not_errors() -> None:
    table = bf.perf_stats(np.array([[0.01, 0.02]]))
    assert np.isnan(table["sharpe_ratio"]).all() and np.isnan(table["annual_volatility"]).all()
