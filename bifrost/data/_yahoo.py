"""Yahoo Finance through yfinance: raw prices, dividends and splits, retries on rate limits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import pandas as pd
from tqdm.auto import tqdm

from bifrost._checks import as_utc_timestamp, check_symbols, quote
from bifrost.data._store import TimeLike
from bifrost.errors import DataSourceError, InvalidInputError

__all__ = ["YahooSource", "yfinance_history"]

log = logging.getLogger("bifrost.data.yahoo")

# Called as fetch(symbol, start, end); returns yfinance's frame for that symbol.
Fetcher = Callable[[str, "str | None", "str | None"], pd.DataFrame]

_YF_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
    "Dividends": "dividend",
    "Stock Splits": "split",
}


class RateLimited(Exception):
    """Raised by a fetcher when the vendor says: too many requests."""


def yfinance_history(symbol: str, start: str | None, end: str | None) -> pd.DataFrame:
    """Fetch one symbol's raw daily history with yfinance, letting its errors surface."""
    import yfinance as yf
    from yfinance.exceptions import YFRateLimitError

    debug = yf.config.debug
    hidden = debug.hide_exceptions
    debug.hide_exceptions = False  # yfinance otherwise logs failures and returns nothing
    try:
        history: pd.DataFrame = yf.Ticker(symbol).history(
            start=start, end=end, interval="1d", auto_adjust=False, actions=True
        )
        return history
    except YFRateLimitError as exc:
        raise RateLimited(str(exc)) from exc
    finally:
        debug.hide_exceptions = hidden


class YahooSource:
    """Daily bars from Yahoo Finance with ``auto_adjust=False``, dividends and splits.

    Parameters
    ----------
    fetch
        The network call, ``fetch(symbol, start, end) -> DataFrame``; default
        `yfinance_history`. Tests and offline users inject a recorded response here.
    max_retries, backoff_s
        On a rate limit, wait ``backoff_s * 2**attempt`` seconds and retry, up to
        ``max_retries`` times, then raise `DataSourceError`.
    """

    name = "yahoo"

    def __init__(
        self,
        *,
        fetch: Fetcher | None = None,
        max_retries: int = 4,
        backoff_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        progress: bool = False,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 20:
            raise InvalidInputError(f"max_retries must be an integer from 0 to 20, got {max_retries!r}")
        if not isinstance(backoff_s, int | float) or not 0.0 <= backoff_s <= 600.0:
            raise InvalidInputError(f"backoff_s must be a number of seconds from 0 to 600, got {backoff_s!r}")
        self.progress = progress
        self._fetch = fetch or yfinance_history
        self.max_retries = max_retries
        self.backoff_s = float(backoff_s)
        self._sleep = sleep

    @property
    def origin(self) -> str:
        return "yahoo"

    def metadata(self) -> pd.DataFrame:
        return pd.DataFrame({"symbol": []})

    def bars(self, symbols: Sequence[str] | None = None, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        if symbols is None or (not isinstance(symbols, str) and len(symbols) == 0):
            raise InvalidInputError("yahoo needs at least one symbol")
        names = check_symbols(symbols, "symbols")
        s = None if start is None else as_utc_timestamp(start, "start").strftime("%Y-%m-%d")
        e = None if end is None else as_utc_timestamp(end, "end").strftime("%Y-%m-%d")
        frames = [self._one(sym, s, e) for sym in tqdm(names, desc="yahoo", unit="symbol", disable=not self.progress)]
        return pd.concat(frames, ignore_index=True)

    def _one(self, symbol: str, start: str | None, end: str | None) -> pd.DataFrame:
        for attempt in range(self.max_retries + 1):
            try:
                raw = self._fetch(symbol, start, end)
                break
            except RateLimited as exc:
                if attempt == self.max_retries:
                    raise DataSourceError(
                        f"yahoo: {symbol}: still rate-limited after {self.max_retries} retries; wait and try again"
                    ) from exc
                wait = self.backoff_s * 2**attempt
                log.warning("yahoo rate limit on %s, retrying in %.1fs", symbol, wait)
                self._sleep(wait)
            except DataSourceError:
                raise
            except Exception as exc:  # vendor and network failures of every kind
                raise DataSourceError(
                    f"yahoo: {symbol}: download failed ({type(exc).__name__}: {quote(str(exc), 200)}); "
                    "check the symbol and the network (offline?)"
                ) from exc
        return from_yfinance_frame(raw, symbol)


def from_yfinance_frame(raw: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Turn yfinance output (flat, or ``(Price, Ticker)`` MultiIndex columns) into long rows."""
    frame = raw
    if isinstance(frame.columns, pd.MultiIndex):
        level = "Ticker" if "Ticker" in frame.columns.names else 1
        tickers = frame.columns.get_level_values(level)
        if symbol not in set(tickers):
            raise DataSourceError(f"yahoo: {symbol}: not in the response (unknown symbol?)")
        frame = pd.DataFrame(frame.xs(symbol, axis=1, level=level))
    frame = frame.dropna(how="all")
    if frame.empty:
        raise DataSourceError(f"yahoo: {symbol}: no data returned (unknown or delisted symbol, or no bars in range)")
    missing = [c for c in ("Open", "High", "Low", "Close", "Volume") if c not in frame.columns]
    if missing:
        raise DataSourceError(
            f"yahoo: {symbol}: response lacks columns {missing}; got {quote(list(map(str, frame.columns)), 200)}"
        )
    out = frame[[c for c in _YF_COLUMNS if c in frame.columns]].rename(columns=_YF_COLUMNS)
    if "split" in out:
        out["split"] = out["split"].where(out["split"] != 0.0, 1.0)  # yfinance: 0 = no split
    out.index.name = "ts"
    out = out.reset_index()
    out.insert(0, "symbol", symbol)
    return out
