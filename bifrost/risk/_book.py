"""A stored portfolio as risk sees it: today's market values and the assets' return history."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bifrost.data import BarStore
from bifrost.errors import InvalidInputError
from bifrost.portfolio import load_portfolio, mark_to_latest
from bifrost.risk._portfolio import Method, PortfolioRisk, portfolio_risk

__all__ = ["Book", "book_from_store", "book_risk"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """Open positions at their latest closes, the equity, and daily total returns of each asset."""

    name: str
    values: pd.Series  # market value per symbol (money; negative for shorts)
    equity: float  # cash plus positions
    returns: pd.DataFrame  # dates × symbols, total-return (dividends and splits adjusted)

    @property
    def weights(self) -> pd.Series:
        """Market value as a fraction of equity."""
        return (self.values / self.equity).rename("weight")


def book_from_store(store: BarStore, name: str, *, lookback_days: int = 500) -> Book:
    """Build the book of portfolio ``name``: positions from its ledger, prices from ``store``.

    Returns are the last ``lookback_days`` days on which every held asset has a bar, from
    total-return (``adjusted``) closes.

    Raises
    ------
    InvalidInputError
        If the portfolio has no open position, non-positive equity, or fewer than 20 days
        of common history.
    """
    if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 20:
        raise InvalidInputError(f"lookback_days must be an integer >= 20, got {lookback_days!r}")
    marked = mark_to_latest(load_portfolio(store, name), store)
    positions = marked.positions
    held = positions[positions["quantity"] != 0] if len(positions) else positions
    if held.empty:
        raise InvalidInputError(f"portfolio {name!r} holds no position: nothing to measure")
    equity = float(marked.totals["equity"])
    if equity <= 0:
        raise InvalidInputError(f"portfolio {name!r} has equity {equity:,.2f}: risk as a fraction of it is undefined")
    values = pd.Series(held["market_value"].to_numpy(dtype=np.float64), index=list(held["symbol"]), name="value")
    panel = store.read_panel(list(values.index), fields=["close"], adjustment="adjusted")
    closes = panel.frame("close")[list(values.index)]
    returns = closes.pct_change(fill_method=None).iloc[1:].dropna().tail(lookback_days)
    if len(returns) < 20:
        raise InvalidInputError(f"portfolio {name!r}: only {len(returns)} days of history common to its assets")
    return Book(name=name, values=values, equity=equity, returns=returns)


def book_risk(
    book: Book, *, method: Method = "historical", confidence: float = 0.99, horizon_days: int = 1, seed: int = 0
) -> PortfolioRisk:
    """Return the VaR and ES of ``book`` (fractions of its equity; times ``book.equity`` for money)."""
    weights = {str(k): float(v) for k, v in book.weights.items()}
    return portfolio_risk(
        book.returns, weights, confidence=confidence, horizon_days=horizon_days, method=method, seed=seed
    )
