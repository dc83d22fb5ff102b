"""VaR backtests: Kupiec and Christoffersen on worked examples, Basel zones, and the real 505 stocks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bifrost.errors import InvalidInputError
from bifrost.risk import christoffersen, kupiec_pof, traffic_light, var_backtest


def test_kupiec_matches_the_hand_computed_likelihood_ratio() -> None:
    # 5 exceptions in 250 days at 99%: p = 0.01 against the observed 0.02
    x, n, p = 5, 250, 0.01
    lr = -2 * ((n - x) * math.log(1 - p) + x * math.log(p)) + 2 * ((n - x) * math.log(1 - x / n) + x * math.log(x / n))
    stat, pval = kupiec_pof(x, n, confidence=0.99)
    assert stat == pytest.approx(lr, rel=1e-12) and stat == pytest.approx(1.9568, abs=1e-4)
    assert pval == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-10)
    # no exceptions at all: only the null's term remains
    assert kupiec_pof(0, 250, confidence=0.99)[0] == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-12)
    assert kupiec_pof(3, 300, confidence=0.99) == (0.0, 1.0)  # exactly the expected rate


def test_christoffersen_matches_the_transition_counts_by_hand() -> None:
    e = [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    # transitions: n00 = 7, n01 = 1, n10 = 1, n11 = 2; π = 3/11, π0 = 1/8, π1 = 2/3
    null = 8 * math.log(8 / 11) + 3 * math.log(3 / 11)
    alt = 7 * math.log(7 / 8) + math.log(1 / 8) + math.log(1 / 3) + 2 * math.log(2 / 3)
    stat, pval = christoffersen(e)
    assert stat == pytest.approx(-2 * (null - alt), rel=1e-12) and stat == pytest.approx(3.0436, abs=1e-4)
    assert pval == pytest.approx(stats.chi2.sf(stat, 1), rel=1e-10)
    assert christoffersen([0, 0, 1, 1, 0, 0, 0, 1, 0, 0]) == (0.0, 1.0)  # π0 = π1 = 1/3: independent


def test_traffic_light_zones_follow_the_binomial_thresholds() -> None:
    assert [traffic_light(x, 250, confidence=0.99) for x in range(12)] == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 2
    for x in (4, 5, 9, 10):
        cum = stats.binom.cdf(x, 250, 0.01)
        expected = "green" if cum < 0.95 else "yellow" if cum < 0.9999 else "red"
        assert traffic_light(x, 250, confidence=0.99) == expected
    assert traffic_light(18, 1000, confidence=0.99) == "yellow" and traffic_light(14, 1000, confidence=0.99) == "green"


@pytest.fixture(scope="module")
def equal_weight(sp500_closes: pd.DataFrame) -> pd.Series:
    """Daily returns of an equal-weight portfolio of the 505 stocks, rebalanced daily."""
    r = sp500_closes.pct_change(fill_method=None).iloc[1:].mean(axis=1)
    assert len(r) == 1258 and not r.isna().any()
    return r


def test_real_portfolio_historical_var_backtest(equal_weight: pd.Series) -> None:
    bt = var_backtest(equal_weight, method="historical", confidence=0.99, window=250)
    # 1008 forecasts from 2014-02; 10.1 exceptions expected. Observed 9: the 2015-06-29 Greek
    # default scare, four days of the August 2015 selloff (20, 21, 24 August, 1 September),
    # the Brexit vote (2016-06-24), 2016-09-09 and the February 2018 volatility shock (2 and 5
    # February). The count is right (Kupiec p = 0.73, green), but they come in clusters, which
    # Christoffersen's test rejects: a 250-day window reacts too slowly to a change of regime.
    assert len(bt.exceptions) == 1008 and bt.n_exceptions == 9
    assert list(bt.report().index.strftime("%Y-%m-%d")) == [
        "2015-06-29", "2015-08-20", "2015-08-21", "2015-08-24", "2015-09-01", "2016-06-24", "2016-09-09",
        "2018-02-02", "2018-02-05",
    ]  # fmt: skip
    assert bt.zone == "green" and bt.zone_last_250 == "green"
    assert bt.kupiec[1] > 0.5 and bt.christoffersen[1] < 0.001
    losses = -bt.report()["return"]
    assert (losses > bt.report()["var"]).all()


def test_real_portfolio_filtered_historical_var_backtest(equal_weight: pd.Series) -> None:
    bt = var_backtest(equal_weight, method="filtered_historical", confidence=0.99, window=250)
    # 12 exceptions (10.1 expected): still green over the period. FHS adapts to volatility, so
    # clustering is weaker than plain historical (Christoffersen statistic 14.1 vs 18.0), but the
    # calm of 2017 shrinks its VaR: 2017-03-21, 05-17 and 08-10 and then February 2018 put the
    # last 250 days in the yellow zone (4 expected as a limit of green: 5 observed).
    assert bt.n_exceptions == 12 and bt.zone == "green" and bt.zone_last_250 == "yellow"
    assert int(bt.exceptions.iloc[-250:].sum()) == 5
    hist = var_backtest(equal_weight, method="historical", confidence=0.99, window=250)
    assert bt.christoffersen[0] < hist.christoffersen[0]
    # the normal model's thin tails fail on the same data: 23 exceptions, yellow
    normal = var_backtest(equal_weight, method="parametric", confidence=0.99, window=250)
    assert normal.n_exceptions == 23 and normal.zone == "yellow" and normal.kupiec[1] < 0.001


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kupiec_pof(5, 0, confidence=0.99), "observations > 0"),
        (lambda: kupiec_pof(6, 5, confidence=0.99), "exceptions <= observations"),
        (lambda: kupiec_pof(-1, 5, confidence=0.99), "exceptions must be an integer >= 0"),
        (lambda: kupiec_pof(1, 5, confidence=1.5), r"confidence must be in \(0, 1\)"),
        (lambda: christoffersen([0, 2, 1]), "must be 0 or 1"),
        (lambda: christoffersen([1]), "at least 2 days"),
        (lambda: var_backtest(np.zeros(100), window=250), "need more than window"),
        (lambda: var_backtest(np.zeros(300), window=5), "window must be an integer >= 20"),
        (lambda: var_backtest(np.zeros(300), method="garch"), "method must be one of"),  # type: ignore[arg-type]
    ],
)
def test_bad_backtest_input_is_refused(call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()


@pytest.mark.parametrize("n_exceptions", [0, 1, 2])
def test_var_backtest_html_says_exception_in_the_singular_for_one(n_exceptions: int) -> None:
    # 50 calm days of ±0.1%, then one to three days far below any VaR the window forecasts
    calm = np.tile([0.001, -0.001], 25)
    returns = np.concatenate([calm, calm[:10], *([[-0.2], calm[:10]] * n_exceptions)])
    bt = var_backtest(returns, method="historical", confidence=0.95, window=50)
    assert bt.n_exceptions == n_exceptions
    word = "exception" if n_exceptions == 1 else "exceptions"
    assert f"{n_exceptions} {word} in {len(bt.exceptions)} days" in bt._repr_html_()
