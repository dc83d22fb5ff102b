"""A book as risk sees it: today's market values and the assets' return history, from a stored
portfolio or from posted positions (priced and given a history by the store or the caller)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bifrost._checks import (
    VOLUME_MAX,
    as_choice,
    as_finite_float,
    as_positive_int,
    as_price,
    as_utc_timestamp,
    check_symbol,
    finite_in_range,
    quote,
)
from bifrost._typing import FloatArray
from bifrost.data import Store
from bifrost.errors import InvalidInputError
from bifrost.portfolio import load_portfolio, mark_to_latest
from bifrost.portfolio._ledger import check_portfolio_name
from bifrost.risk._market import DEFAULT_LOOKBACK_DAYS, MAX_LOOKBACK_DAYS, MIN_LOOKBACK_DAYS, MarketData
from bifrost.risk._montecarlo import _mc_options
from bifrost.risk._portfolio import METHODS, Method, PortfolioRisk, _frame, _portfolio_risk, _weighted_history
from bifrost.risk._var import MONEY_MAX, _check

__all__ = ["Book", "HistoryWindow", "book_from_positions", "book_from_store", "book_risk"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryWindow:
    """The return history a measure used: the lookback asked for and the days it covers.

    ``lookback_days`` is None when the caller posted the history; ``start`` and ``end`` are
    None when that history has no dates. Every risk output (the CLI's text and JSON, the
    report, the service) states it, so that two figures can be seen to share one window.
    """

    lookback_days: int | None
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    observations: int

    @classmethod
    def of(cls, returns: pd.DataFrame, lookback_days: int | None) -> HistoryWindow:
        """Return the window of a days × symbols return frame."""
        dated = isinstance(returns.index, pd.DatetimeIndex) and len(returns) > 0
        start, end = (returns.index[0], returns.index[-1]) if dated else (None, None)
        return cls(lookback_days=lookback_days, start=start, end=end, observations=len(returns))

    def to_dict(self) -> dict[str, Any]:
        """Return ``lookback_days``, ``window_start``, ``window_end`` (ISO dates or None), ``observations``."""
        return {
            "lookback_days": self.lookback_days,
            "window_start": None if self.start is None else self.start.date().isoformat(),
            "window_end": None if self.end is None else self.end.date().isoformat(),
            "observations": self.observations,
        }

    def __str__(self) -> str:
        asked = "posted history" if self.lookback_days is None else f"lookback {self.lookback_days} days"
        if self.start is None or self.end is None:
            return f"{asked}: {self.observations} days (undated)"
        return f"{asked}: {self.observations} days from {self.start.date()} to {self.end.date()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """Open positions at their latest closes, the equity, and daily total returns of each asset."""

    name: str
    values: pd.Series  # market value per symbol (money; negative for shorts)
    equity: float  # cash plus positions
    returns: pd.DataFrame  # dates × symbols, total-return (dividends and splits adjusted)
    lookback_days: int | None = None  # the lookback the store's history was cut to (None: posted)
    # the checked (returns, weights, symbols) of the held assets, once the first measure has checked them
    _history: tuple[FloatArray, FloatArray, tuple[str, ...]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def weights(self) -> pd.Series:
        """Market value as a fraction of equity."""
        return (self.values / self.equity).rename("weight")

    @property
    def window(self) -> HistoryWindow:
        """The history this book is measured on: its lookback and first and last dates."""
        return HistoryWindow.of(self.returns, self.lookback_days)


def _portfolio(name: object) -> str:
    # the portfolio package's one rule for names, checked before the name reaches a query
    return check_portfolio_name(name)


def book_from_store(store: Store, name: str, *, lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> Book:
    """Build the book of portfolio ``name``: positions from its ledger, prices from ``store``.

    Returns are the last ``lookback_days`` days (`DEFAULT_LOOKBACK_DAYS`, the default of
    every risk entry point) on which every held asset has a bar, from total-return
    (``adjusted``) closes. Long and short positions alike (a short has a negative value).

    Raises
    ------
    InvalidInputError
        If the portfolio has no open position, non-positive equity, or fewer than 20 days
        of common history.
    """
    lookback_days = as_positive_int(
        lookback_days, "lookback_days", minimum=MIN_LOOKBACK_DAYS, maximum=MAX_LOOKBACK_DAYS, unit="days"
    )
    marked = mark_to_latest(load_portfolio(store, _portfolio(name)), store)
    positions = marked.positions
    held = positions[positions["quantity"] != 0] if len(positions) else positions
    if held.empty:
        raise InvalidInputError(f"portfolio {name!r} holds no position: nothing to measure")
    equity = float(marked.totals["equity"])
    if equity <= 0:
        raise InvalidInputError(f"portfolio {name!r} has equity {equity:,.2f}: risk as a fraction of it is undefined")
    values = pd.Series(held["market_value"].to_numpy(dtype=np.float64), index=list(held["symbol"]), name="value")
    try:  # the same history a server's cache holds
        returns = MarketData(store).returns(list(values.index), lookback_days)
    except InvalidInputError as exc:
        raise InvalidInputError(f"portfolio {name!r}: {exc}") from None
    return Book(name=name, values=values, equity=equity, returns=returns, lookback_days=lookback_days)


def book_risk(
    book: Book,
    *,
    method: Method = "historical",
    confidence: float = 0.99,
    horizon_days: int = 1,
    n_scenarios: int = 100_000,
    seed: int = 0,
) -> PortfolioRisk:
    """Return the VaR and ES of ``book`` (fractions of its equity; times ``book.equity`` for money).

    The book's history is checked once, by the first measure taken of it (or when
    `book_from_positions` built it from posted returns); later measures reuse it.
    ``n_scenarios`` and ``seed`` apply to the ``montecarlo`` method.
    """
    chosen = as_choice(method, "method", METHODS)
    c, h = _check(confidence, horizon_days)
    n, seed_ = _mc_options(n_scenarios, seed, "normal", None, "auto")[:2]
    r, w, symbols = _book_history(book)
    return _portfolio_risk(r, w, symbols, method=chosen, confidence=c, horizon_days=h, n_scenarios=n, seed=seed_)


def _book_history(book: Book) -> tuple[FloatArray, FloatArray, tuple[str, ...]]:
    # the boundary check of a book's history and weights, once per book (`_portfolio_risk` trusts it)
    history = book._history
    if history is None:
        history = _weighted_history(book.returns, {str(k): float(v) for k, v in book.weights.items()})
        object.__setattr__(book, "_history", history)  # frozen: set once, here
    return history


def book_from_positions(
    positions: Mapping[str, float],
    *,
    market: MarketData | None = None,
    prices: Mapping[str, float] | None = None,
    returns: Mapping[str, Sequence[float]] | pd.DataFrame | None = None,
    dates: Sequence[object] | None = None,
    cash: float = 0.0,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    name: str = "posted",
) -> Book:
    """Build a book from share quantities: priced at ``prices`` or the latest closes, with
    ``returns`` (optionally on ``dates``) or the store's total-return history (through ``market``,
    the last ``lookback_days`` days: `DEFAULT_LOOKBACK_DAYS` unless given).

    A quantity is positive for a long holding and negative for a short one (its value is
    negative, as in a stored portfolio's book); equity is ``cash`` plus the positions' value
    (for a short book, the cash includes the short sale's proceeds).

    Raises
    ------
    InvalidInputError
        On an empty or non-numeric position list, a non-finite quantity or one beyond
        ±1e15 shares, a price that is missing, non-finite or not positive, returns that do
        not cover every symbol, non-positive equity, or when neither the data nor a
        ``market`` is given.
    """
    if not isinstance(positions, Mapping) or not positions:
        raise InvalidInputError("positions must map at least one symbol to its quantity")
    symbols = [check_symbol(s, "positions") for s in positions]
    qty = np.array([as_finite_float(positions[s], f"quantity of {s}") for s in positions], dtype=np.float64)
    for s, q in zip(symbols, qty, strict=True):
        finite_in_range(q, f"quantity of {s}", lo=-VOLUME_MAX, hi=VOLUME_MAX, unit="shares")
    if not (qty != 0).any():
        raise InvalidInputError("every quantity is zero: nothing to measure")
    cash = as_finite_float(cash, "cash", minimum=-MONEY_MAX, maximum=MONEY_MAX)
    if prices is None:
        if market is None:
            raise InvalidInputError("prices are needed: post them, or run with a store")
        marks = market.latest_closes(symbols).to_numpy()
    else:
        if not isinstance(prices, Mapping):
            raise InvalidInputError("prices must map symbols to prices")
        absent = [s for s in symbols if s not in prices]
        if absent:
            raise InvalidInputError(f"no price for {absent[:10]}")
        marks = np.array([as_finite_float(prices[s], f"price of {s}") for s in symbols], dtype=np.float64)
        if (marks <= 0).any():
            bad = {s: m for s, m in zip(symbols, marks.tolist(), strict=True) if m <= 0}
            raise InvalidInputError(f"prices must be positive, got {quote(bad)}")
        for s, m in zip(symbols, marks, strict=True):
            as_price(m, f"price of {s}")
    values = pd.Series(qty * marks, index=symbols, name="value")
    too_large = values[values.abs() > MONEY_MAX]
    if len(too_large):
        s = str(too_large.index[0])
        raise InvalidInputError(
            f"the position in {s} is worth {too_large.iloc[0]:.3g} (quantity × price); "
            f"a position may be worth at most {MONEY_MAX:g}"
        )
    equity = cash + float(values.sum())
    if equity <= 0:
        raise InvalidInputError(f"equity (cash plus positions) is {equity:,.2f}: risk as a fraction of it is undefined")
    if returns is None:
        if market is None:
            raise InvalidInputError("a return history is needed: post returns, or run with a store")
        frame = market.returns(symbols, lookback_days)
    else:
        frame = returns if isinstance(returns, pd.DataFrame) else _posted_returns(returns, dates)
        absent = [s for s in symbols if s not in frame.columns]
        if absent:
            raise InvalidInputError(f"no return history for {absent}")
        frame = frame[symbols]
    book = Book(
        name=name, values=values, equity=equity, returns=frame, lookback_days=lookback_days if returns is None else None
    )
    if returns is not None and not isinstance(returns, pd.DataFrame):
        _book_history(book)  # posted returns are refused here, naming the symbol and the day, and checked once
    return book


def _posted_returns(returns: Mapping[str, Sequence[float]], dates: Sequence[object] | None) -> pd.DataFrame:
    frame = _frame(returns).rename(columns=str)
    if len(frame) < 2:
        raise InvalidInputError("the return history needs at least 2 days")
    if dates is not None:
        if isinstance(dates, str | bytes) or not isinstance(dates, Sequence):
            raise InvalidInputError(f"dates must be a list of ISO dates, got {type(dates).__name__}")
        if len(dates) != len(frame):
            raise InvalidInputError(f"{len(dates)} dates for {len(frame)} days of returns")
        # the one bounded parser: a date pandas cannot hold in nanoseconds is an error, not a crash later
        stamps = [as_utc_timestamp(d, f"dates[{i}]") for i, d in enumerate(dates)]
        index = pd.DatetimeIndex(stamps).as_unit("ns")
        if not index.is_monotonic_increasing or index.has_duplicates:
            raise InvalidInputError("dates must be strictly increasing")
        frame.index = index
    return frame
