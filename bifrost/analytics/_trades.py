"""Statistics of closed round-trip trades."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from bifrost._checks import as_float_array_1d
from bifrost.errors import InvalidInputError

__all__ = ["TradeStats", "trade_stats"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeStats:
    """What a list of round trips says about a strategy. Money is in the P&L's currency."""

    n_trades: int
    n_wins: int
    n_losses: int
    win_rate: float  # wins / trades (break-even trades count as trades, not wins)
    profit_factor: float  # gross profit / gross loss; inf with no losing trade
    expectancy: float  # mean P&L per trade
    avg_win: float
    avg_loss: float  # negative
    payoff_ratio: float  # avg_win / |avg_loss|
    largest_win: float
    largest_loss: float
    max_consecutive_losses: int
    avg_holding_period: float  # in the unit of holding_periods (NaN when not given)

    def to_series(self) -> pd.Series:
        """Return the statistics as a Series, for display next to other metrics."""
        return pd.Series(asdict(self))

    def _repr_html_(self) -> str:
        return self.to_series().to_frame("value").to_html(float_format=lambda v: f"{v:.4g}")


def trade_stats(pnl: object, holding_periods: object | None = None) -> TradeStats:
    """Summarise closed round trips from their P&L (and, optionally, holding periods).

    Parameters
    ----------
    pnl
        Net P&L of each round trip, in the order the trades closed.
    holding_periods
        Bars (or days) each trade was held; same length as ``pnl``.

    Raises
    ------
    InvalidInputError
        On a NaN or infinite P&L, mismatched lengths, or a negative holding period.
    """
    p = as_float_array_1d(pnl, "pnl", min_obs=0)
    if not np.isfinite(p).all():
        raise InvalidInputError(
            f"pnl must be finite; trade {int(np.flatnonzero(~np.isfinite(p))[0])} is {p[~np.isfinite(p)][0]}"
        )
    holding = np.full(p.size, np.nan)
    if holding_periods is not None:
        holding = as_float_array_1d(holding_periods, "holding_periods", min_obs=0)
        if holding.size != p.size:
            raise InvalidInputError(f"holding_periods has {holding.size} values for {p.size} trades")
        if (holding < 0).any():
            raise InvalidInputError("holding_periods must not be negative")
    wins, losses = p[p > 0], p[p < 0]
    streak = longest = 0
    for value in p:
        streak = streak + 1 if value < 0 else 0
        longest = max(longest, streak)
    gross_loss = -losses.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return TradeStats(
            n_trades=int(p.size),
            n_wins=int(wins.size),
            n_losses=int(losses.size),
            win_rate=wins.size / p.size if p.size else np.nan,
            profit_factor=float(wins.sum() / gross_loss) if gross_loss > 0 else (np.inf if wins.size else np.nan),
            expectancy=float(p.mean()) if p.size else np.nan,
            avg_win=float(wins.mean()) if wins.size else np.nan,
            avg_loss=float(losses.mean()) if losses.size else np.nan,
            payoff_ratio=float(wins.mean() / -losses.mean()) if wins.size and losses.size else np.nan,
            largest_win=float(wins.max()) if wins.size else np.nan,
            largest_loss=float(losses.min()) if losses.size else np.nan,
            max_consecutive_losses=longest,
            avg_holding_period=float(np.mean(holding)) if p.size else np.nan,
        )
