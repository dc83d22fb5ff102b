"""Yahoo Finance through yfinance: raw daily or intraday prices, dividends and splits, retries on rate limits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Protocol

import pandas as pd
from tqdm.auto import tqdm

from bifrost._checks import as_choice, as_positive_int, as_utc_timestamp, check_symbols, finite_in_range, quote
from bifrost.data._columns import Frequency
from bifrost.data._store import TimeLike, within
from bifrost.errors import DataSourceError, InvalidInputError

__all__ = ["YAHOO_INTERVALS", "YahooSource", "yfinance_history"]

log = logging.getLogger("bifrost.data.yahoo")

# bifrost's frequency -> yfinance's interval= (Yahoo has no second bars)
YAHOO_INTERVALS: Mapping[Frequency, str] = MappingProxyType(
    {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "60m", "1d": "1d"}
)


class Fetcher(Protocol):
    """``fetch(symbol, start, end)`` for daily bars, ``fetch(..., interval="5m")`` for intraday ones.

    Returns yfinance's frame for that symbol. A fetcher for daily bars only may omit
    ``interval``: daily calls never pass it.
    """

    def __call__(self, symbol: str, start: str | None, end: str | None, /, *, interval: str = ...) -> pd.DataFrame: ...


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


def yfinance_history(symbol: str, start: str | None, end: str | None, /, *, interval: str = "1d") -> pd.DataFrame:
    """Fetch one symbol's raw history at ``interval`` with yfinance, letting its errors surface."""
    import yfinance as yf
    from yfinance.exceptions import YFRateLimitError

    debug = yf.config.debug
    hidden = debug.hide_exceptions
    debug.hide_exceptions = False  # yfinance otherwise logs failures and returns nothing
    try:
        history: pd.DataFrame = yf.Ticker(symbol).history(
            start=start, end=end, interval=interval, auto_adjust=False, actions=True
        )
        return history
    except YFRateLimitError as exc:
        raise RateLimited(str(exc)) from exc
    finally:
        debug.hide_exceptions = hidden


class YahooSource:
    """Daily or intraday bars from Yahoo Finance with ``auto_adjust=False``, dividends and splits.

    Parameters
    ----------
    frequency
        ``1d`` (default) or an intraday frequency Yahoo serves: ``1m, 5m, 15m, 30m, 1h``,
        passed to yfinance as ``interval=`` (``1h`` as ``60m``). Intraday bars keep their
        open time, in UTC; Yahoo serves them for recent weeks only (1m: 7 days).
    fetch
        The network call, ``fetch(symbol, start, end) -> DataFrame`` (and ``interval=``
        for intraday bars); default `yfinance_history`. Tests and offline users inject a
        recorded response here.
    max_retries, backoff_s
        On a rate limit, wait ``backoff_s * 2**attempt`` seconds and retry, up to
        ``max_retries`` times, then raise `DataSourceError`.
    """

    name = "yahoo"

    def __init__(
        self,
        *,
        frequency: Frequency = "1d",
        fetch: Fetcher | None = None,
        max_retries: int = 4,
        backoff_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        progress: bool = False,
    ) -> None:
        self.frequency: Frequency = as_choice(frequency, "frequency", tuple(YAHOO_INTERVALS))
        self.max_retries = as_positive_int(max_retries, "max_retries", minimum=0, maximum=20)
        self.backoff_s = finite_in_range(backoff_s, "backoff_s", lo=0.0, hi=600.0, unit="seconds")
        self.progress = progress
        self._fetch: Fetcher = fetch or yfinance_history
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
        e = None if end is None else as_utc_timestamp(end, "end")
        # yfinance takes dates: an intraday end within a day asks for that whole day, cut below
        last = None if e is None else (e.ceil("D") if self.frequency != "1d" else e).strftime("%Y-%m-%d")
        frames = [
            self._one(sym, s, last) for sym in tqdm(names, desc="yahoo", unit="symbol", disable=not self.progress)
        ]
        out = pd.concat(frames, ignore_index=True)
        if self.frequency == "1d":
            return out
        return out[within(out["ts"], start, end)].reset_index(drop=True)

    def _one(self, symbol: str, start: str | None, end: str | None) -> pd.DataFrame:
        for attempt in range(self.max_retries + 1):
            try:
                if self.frequency == "1d":
                    raw = self._fetch(symbol, start, end)
                else:
                    raw = self._fetch(symbol, start, end, interval=YAHOO_INTERVALS[self.frequency])
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
