"""notebooks/05_risk: VaR three ways, decomposition, VaR backtest, stress and limits of a stored three-stock book."""

from __future__ import annotations

import numpy as np
import pytest

from bifrost.data import EmbeddedStore
from bifrost.risk import book_from_store, book_risk, read_alerts, var_backtest, var_decomposition
from tests.notebooks._execute import Executed, execute

LOOKBACK = 250


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    folder = tmp_path_factory.mktemp("risk")
    return execute("05_risk", folder, home=str(folder / "home"), positions={"ORCL": 1000, "NVDA": 1500, "YHOO": 800},
                   start="2012-06-01", end="2015-01-01", inception="2013-01-02", lookback_days=LOOKBACK,
                   confidence=0.99, backtest_window=125, n_scenarios=5000, var_limit=0.02,
                   single_name_limit=0.35)  # fmt: skip


def test_risk_var_by_each_method_equals_the_library_on_the_stored_book(run: Executed) -> None:
    with EmbeddedStore(run.path.parent / "home") as store:
        book = book_from_store(store, "core", lookback_days=LOOKBACK)
        alerts = read_alerts(store, "core", status="open")
    # the last 250 returns: 2014-01-06 ... 2014-12-31, 250 lines of each file
    assert (run.summary["window_start"], run.summary["window_end"]) == ("2014-01-06", "2014-12-31")
    assert run.summary["observations"] == LOOKBACK
    for method in ("historical", "parametric", "montecarlo"):
        expected = book_risk(book, method=method, confidence=0.99, n_scenarios=5000)
        assert run.summary["var"][method] == expected.var, method
        assert run.summary["es"][method] == expected.es >= expected.var, method
    assert sum(run.summary["weights"].values()) == pytest.approx(1.0)  # fully invested: no cash left
    pnl = book.returns @ book.weights
    assert run.summary["backtest_exceptions"] == var_backtest(pnl, method="historical", window=125).n_exceptions
    assert run.summary["open_alerts"] == len(alerts) == len(run.summary["breaches"]) + len(run.summary["warnings"])


def test_risk_component_var_sums_to_the_parametric_var(run: Executed) -> None:
    assert np.isclose(run.summary["component_var_sum"], run.summary["parametric_var"], rtol=1e-10)
    with EmbeddedStore(run.path.parent / "home") as store:
        book = book_from_store(store, "core", lookback_days=LOOKBACK)
    assert np.isclose(var_decomposition(book.returns, book.weights).frame()["component"].sum(),
                      run.summary["component_var_sum"], rtol=1e-12)  # fmt: skip


def test_risk_limits_flag_the_largest_position_and_the_var(run: Executed) -> None:
    weights = run.summary["weights"]
    largest = max(weights, key=weights.get)
    over = {f"single_name:{s}" for s, w in weights.items() if w > 0.35}
    assert f"single_name:{largest}" in set(run.summary["breaches"]) | set(run.summary["warnings"])
    assert over <= set(run.summary["breaches"])
    assert ("var_99_1d:" in run.summary["breaches"]) == (run.summary["var"]["historical"] > 0.02)
    assert run.summary["worst_stress"] < 0


def test_risk_notebook_shows_the_report_figures(run: Executed) -> None:
    html = "".join(run.outputs("text/html"))
    for title in ("one-day VaR against what happened", "Contribution to VaR", "Stress tests on today's positions"):
        assert title.replace("'", "\\u0027") in html or title in html, title
    assert not run.outputs("application/vnd.plotly.v1+json")
