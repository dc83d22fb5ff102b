"""The look-ahead guard catches strategies that peek, and passes the built-ins."""

from __future__ import annotations

import numpy as np
import pytest

from bifrost.data import EmbeddedStore, Panel
from bifrost.errors import InvalidInputError, LookaheadError
from bifrost.strategy import Signals, assert_no_lookahead, check_lookahead, model_signals


def peeks_at_tomorrow(panel: Panel, *, size: float = 10.0) -> Signals:
    """Buy today if tomorrow closes higher: the classic off-by-one."""
    close = panel["close"]
    tomorrow = np.roll(close, -1, axis=0)
    return Signals(entries=tomorrow > close, exits=tomorrow < close, size=size)


def full_sample_zscore(panel: Panel, *, size: float = 10.0) -> Signals:
    """Normalise with the whole history's mean: subtler, and just as wrong."""
    close = panel["close"]
    z = (close - np.nanmean(close, axis=0)) / np.nanstd(close, axis=0)
    return Signals(entries=z < -1.0, exits=z > 0.0, size=size)


@pytest.fixture(scope="module")
def panel(real_store: EmbeddedStore) -> Panel:
    return real_store.read_panel(["ORCL", "NVDA"], "2005-01-01", "2009-01-01")


def test_guard_catches_a_strategy_reading_tomorrow(panel: Panel) -> None:
    report = check_lookahead(panel, peeks_at_tomorrow)
    assert not report.ok and report.field in ("entries", "exits")
    with pytest.raises(LookaheadError, match=r"peeks_at_tomorrow looks ahead: its (entries|exits) for"):
        assert_no_lookahead(panel, peeks_at_tomorrow)


def test_guard_catches_full_sample_normalisation(panel: Panel) -> None:
    report = check_lookahead(panel, full_sample_zscore, trials=3)
    assert not report.ok
    assert report.full_value != report.truncated_value


@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        ("sma_cross", {"fast": 10, "slow": 30}),
        ("momentum", {"lookback": 60, "top_n": 1, "rebalance": 21}),
        ("mean_reversion", {"method": "rsi"}),
        ("mean_reversion", {"method": "bollinger", "period": 20}),
        ("buy_and_hold", {}),
    ],
)
def test_builtin_strategies_pass_the_guard(panel: Panel, strategy: str, params: dict[str, object]) -> None:
    report = assert_no_lookahead(panel, strategy, params, trials=6, seed=1)
    assert report.ok and len(report.cuts) >= 2


def test_guard_covers_model_driven_signals(panel: Panel) -> None:
    class PastReturn:
        def predict(self, p: Panel) -> np.ndarray:
            close = p["close"]
            out = np.full(close.shape, np.nan)
            out[20:] = close[20:] / close[:-20] - 1.0
            return out

    class Clairvoyant:
        def predict(self, p: Panel) -> np.ndarray:
            close = p["close"]
            out = np.full(close.shape, np.nan)
            out[:-5] = close[5:] / close[:-5] - 1.0
            return out

    def honest(p: Panel) -> Signals:
        return model_signals(p, model=PastReturn(), entry=0.05, exit=0.0)

    def cheating(p: Panel) -> Signals:
        return model_signals(p, model=Clairvoyant(), entry=0.05, exit=0.0)

    assert check_lookahead(panel, honest).ok
    assert not check_lookahead(panel, cheating).ok


def test_guard_refuses_bad_arguments(panel: Panel) -> None:
    with pytest.raises(InvalidInputError, match="trials must be a whole number from 1 to 10,000"):
        check_lookahead(panel, "sma_cross", trials=0)
    with pytest.raises(InvalidInputError, match="takes no parameter 'fats'"):
        check_lookahead(panel, "sma_cross", {"fats": 3})


@pytest.mark.parametrize("trials", [10_001, 99999999999999999999])
def test_check_lookahead_huge_trials_is_refused(panel: Panel, trials: int) -> None:
    with pytest.raises(InvalidInputError, match=r"trials must be a whole number from 1 to 10,000 \(cut points\)"):
        check_lookahead(panel, "sma_cross", trials=trials)


def test_check_lookahead_trials_is_the_number_of_cut_points(panel: Panel) -> None:
    report = check_lookahead(panel, "sma_cross", trials=8)
    assert report.ok and len(report.cuts) == 8
    assert str(report).endswith("at 8 cut points")
    assert report.cuts[-1] == panel.ts[-1]  # the last bar dropped


@pytest.mark.parametrize("params", [{"fast": 99999999999999999999}, {"slow": 100_001}])
def test_check_lookahead_huge_period_is_refused(panel: Panel, params: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError, match="must be a whole number of bars from 1 to 100,000"):
        check_lookahead(panel, "sma_cross", params)
