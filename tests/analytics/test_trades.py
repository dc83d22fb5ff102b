"""Round-trip statistics on a hand-worked list of trades."""

from __future__ import annotations

import numpy as np
import pytest

from bifrost.analytics import trade_stats
from bifrost.errors import InvalidInputError


def test_trade_stats_hand_worked_example() -> None:
    # W, L, L, W, break-even, L, L, L: gross profit 300, gross loss 140
    pnl = [100.0, -50.0, -50.0, 200.0, 0.0, -25.0, -10.0, -5.0]
    stats = trade_stats(pnl, holding_periods=[5, 3, 2, 10, 1, 4, 2, 1])
    assert (stats.n_trades, stats.n_wins, stats.n_losses) == (8, 2, 5)
    assert stats.win_rate == 0.25
    assert stats.profit_factor == pytest.approx(300 / 140)
    assert stats.expectancy == pytest.approx(160 / 8)
    assert stats.avg_win == 150.0 and stats.avg_loss == pytest.approx(-28.0)
    assert stats.payoff_ratio == pytest.approx(150 / 28)
    assert (stats.largest_win, stats.largest_loss) == (200.0, -50.0)
    assert stats.max_consecutive_losses == 3  # the break-even trade ends the first streak of 2
    assert stats.avg_holding_period == 3.5
    assert stats.to_series()["win_rate"] == 0.25 and "<table" in stats._repr_html_()


def test_trade_stats_without_losses_or_trades() -> None:
    assert trade_stats([10.0, 5.0]).profit_factor == np.inf
    empty = trade_stats([])
    assert empty.n_trades == 0 and np.isnan(empty.win_rate) and np.isnan(empty.expectancy)


@pytest.mark.parametrize(
    ("pnl", "holding", "message"),
    [
        ([1.0, np.nan], None, r"pnl must be finite; trade 1 is nan"),
        ([1.0, 2.0], [1.0], "holding_periods has 1 values for 2 trades"),
        ([1.0], [-1.0], "must not be negative"),
        ([[1.0]], None, "pnl must be 1-D"),
    ],
)
def test_trade_stats_bad_input(pnl: object, holding: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        trade_stats(pnl, holding)
