"""What risk reads from a store, cached for a server.

`MarketData` keeps what risk reads from a store — each symbol's latest raw close and its
total-return closes — in memory, so that a server answers repeated questions about the
same names without going back to the store. It looks again when the store has taken an
ingest since (checked at most every ``refresh_seconds``). It is safe to share between the
threads of one server process.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

import pandas as pd

from bifrost._checks import as_positive_int, check_symbols
from bifrost.data import Store
from bifrost.errors import InvalidInputError, SymbolNotFoundError

__all__ = ["DEFAULT_LOOKBACK_DAYS", "MAX_LOOKBACK_DAYS", "MIN_LOOKBACK_DAYS", "MarketData"]

# The one default history every risk entry point measures on (library, CLI, report, service):
# 500 trading days, about two years, the window of the historical VaR most desks report, and
# enough for a 250-day VaR backtest to make 250 forecasts (Basel's traffic light counts 250).
DEFAULT_LOOKBACK_DAYS: Final = 500
MIN_LOOKBACK_DAYS: Final = 20  # fewer days than this are no history to measure a tail on
MAX_LOOKBACK_DAYS: Final = 10_000  # about 40 years of trading days: the most any entry point reads


class MarketData:
    """Latest closes and daily total returns of a store's symbols, cached for a server."""

    def __init__(self, store: Store, *, refresh_seconds: float = 5.0, max_books: int = 256) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.max_books = max_books
        self.lock = threading.RLock()  # hold it to use ``store`` from another thread
        self._checked = -math.inf
        self._ingests = -1
        self._known: frozenset[str] = frozenset()
        self._closes: dict[str, pd.Series] = {}  # adjusted closes, each on its own dates
        self._last: dict[str, float] = {}  # latest raw close
        self._books: OrderedDict[tuple[tuple[str, ...], int], pd.DataFrame] = OrderedDict()

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.refresh_seconds:
            return
        self._checked = now
        ingests = len(self.store.ingest_log())
        if ingests != self._ingests:
            self._ingests = ingests
            self._known = frozenset(self.store.list_symbols()["symbol"].astype(str))
            self._closes.clear()
            self._last.clear()
            self._books.clear()

    def _load(self, symbols: Sequence[str]) -> None:
        if isinstance(symbols, str):
            raise InvalidInputError(f"symbols must be a list of symbols, got the string {symbols[:40]!r}")
        check_symbols(list(symbols), "symbols")
        if not symbols:
            raise InvalidInputError("no symbols given: name at least one")
        self._refresh()
        unknown = sorted(set(symbols) - self._known)
        if unknown:
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise SymbolNotFoundError(
                f"unknown symbol(s) {unknown[:10]}{more}: not in the store (`bifrost data list` shows what is)"
            )
        missing = [s for s in symbols if s not in self._closes]
        if not missing:
            return
        panel = self.store.read_panel(missing, fields=["close"], adjustment="adjusted")
        raw = self.store.read_panel(missing, fields=["close"])
        adjusted, last = panel.frame("close"), raw.frame("close")
        for s in missing:
            self._closes[s] = adjusted[s].dropna()
            self._last[s] = float(last[s].dropna().iloc[-1])

    def latest_closes(self, symbols: Sequence[str]) -> pd.Series:
        """Return each symbol's latest raw close."""
        with self.lock:
            self._load(symbols)
            return pd.Series([self._last[s] for s in symbols], index=list(symbols), name="close")

    def returns(self, symbols: Sequence[str], lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> pd.DataFrame:
        """Return the last ``lookback_days`` daily total returns on which every symbol has a bar."""
        lookback_days = as_positive_int(
            lookback_days, "lookback_days", minimum=MIN_LOOKBACK_DAYS, maximum=MAX_LOOKBACK_DAYS, unit="days"
        )
        key = (tuple(symbols), lookback_days)
        with self.lock:
            self._load(symbols)
            if key in self._books:
                self._books.move_to_end(key)
                return self._books[key]
            closes = pd.concat([self._closes[s] for s in symbols], axis=1, keys=list(symbols), sort=True)
            frame = closes.pct_change(fill_method=None).iloc[1:].dropna().tail(lookback_days)
            if len(frame) < MIN_LOOKBACK_DAYS:
                raise InvalidInputError(f"only {len(frame)} days of history common to {list(symbols)}")
            self._books[key] = frame
            if len(self._books) > self.max_books:
                self._books.popitem(last=False)
            return frame
