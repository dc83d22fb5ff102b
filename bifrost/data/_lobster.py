"""Intraday bars from LOBSTER message files: the executions of a NASDAQ day, second by second.

LOBSTER (lobsterdata.com) reconstructs a day of NASDAQ TotalView-ITCH into a message file
of six unnamed columns: ``time`` (seconds after midnight, New York time, to the
nanosecond), ``type`` (1 new limit order, 2 partial cancel, 3 delete, 4 execution of a
visible order, 5 execution of a hidden order, 7 trading halt), ``order_id``, ``size``
(shares), ``price`` (dollars × 10,000) and ``direction``. Its files are named
``TICKER_YYYY-MM-DD_START_END_message_LEVEL.csv``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bifrost._checks import as_choice, as_utc_timestamp, check_symbol, check_symbols, quote
from bifrost._files import file_errors, read_header
from bifrost.data._columns import INTRADAY_FREQUENCIES, Frequency, bar_ns
from bifrost.data._store import TimeLike, within
from bifrost.errors import DataSourceError, InvalidInputError, SchemaError

__all__ = ["LOBSTER_TZ", "LobsterSource"]

LOBSTER_TZ = "America/New_York"  # NASDAQ's clock: LOBSTER's times are seconds after its midnight
_COLUMNS = ("time", "type", "order_id", "size", "price", "direction")
_EXECUTIONS = (4, 5)  # visible and hidden executions: the trades
_PRICE_SCALE = 10_000.0
_NAME = re.compile(r"^(?P<symbol>[A-Za-z0-9.]+)_(?P<date>\d{4}-\d{2}-\d{2})_")


class LobsterSource:
    """Intraday OHLCV bars built from the executions in a LOBSTER message file.

    Each bar aggregates the executions (types 4 and 5, visible and hidden) whose time
    falls in it: open the first execution's price, high the highest, low the lowest,
    close the last, volume the shares executed. Prices are LOBSTER's divided by 10,000;
    times are seconds after midnight New York time on the file's date, converted to UTC
    (``America/New_York``: 09:30 on 2012-06-21, in EDT, is 13:30 UTC). A bar is stamped at
    its open and exists only where something traded, so quiet seconds are gaps.

    Parameters
    ----------
    path
        The message file (``..._message_10.csv``, plain or compressed as `CsvSource` reads).
    symbol, date
        The ticker and the trading day; default: read from the file name
        (``AAPL_2012-06-21_34200000_57600000_message_10.csv``).
    frequency
        An intraday frequency: ``1s`` (the default), ``10s``, ``1m``, ... ``1h``.

    Raises
    ------
    InvalidInputError
        At construction, on an invalid ``symbol``, ``date`` or ``frequency``, or when the
        file name does not give a symbol or date that was not passed.
    SchemaError, DataSourceError
        From `bars`: a file that is not six comma-separated columns of numbers, or that
        cannot be read.

    Examples
    --------
    >>> from bifrost.data import load_bars
    >>> path = "../shared/data/microstructure/AAPL_2012-06-21_34200000_57600000_message_10_head999.csv"
    >>> bars = load_bars(LobsterSource(path, frequency="10s")).bars  # the first 49 seconds of AAPL
    >>> bars.iloc[0].to_dict()
    {'open': 585.74, 'high': 585.93, 'low': 585.44, 'close': 585.44, 'volume': 3833.0}
    >>> str(bars.index[0][1])
    '2012-06-21 13:30:00+00:00'
    """

    name = "lobster"

    def __init__(
        self,
        path: str | Path,
        *,
        symbol: str | None = None,
        date: str | None = None,
        frequency: Frequency = "1s",
    ) -> None:
        self.path = Path(path)
        named = _NAME.match(self.path.name)
        if (symbol is None or date is None) and named is None:
            raise InvalidInputError(
                f"{self.path}: the name is not LOBSTER's TICKER_YYYY-MM-DD_..., so pass symbol= and date="
            )
        self.symbol = check_symbol(symbol if symbol is not None else named["symbol"], "symbol")  # type: ignore[index]
        day = as_utc_timestamp(date if date is not None else named["date"], "date")  # type: ignore[index]
        if day != day.normalize():
            raise InvalidInputError(f"date must be a trading day such as 2012-06-21, got {quote(date)}")
        self.date = day.tz_localize(None)
        self.frequency: Frequency = as_choice(frequency, "frequency", INTRADAY_FREQUENCIES)

    @property
    def origin(self) -> str:
        return str(self.path)

    def metadata(self) -> pd.DataFrame:
        return pd.DataFrame({"symbol": []})

    def bars(self, symbols: Sequence[str] | None = None, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        """Return the bars in ``[start, end)``: ``symbol, ts`` (UTC bar opens) and OHLCV."""
        if symbols is not None and self.symbol not in check_symbols(symbols, "symbols"):
            raise DataSourceError(f"{self.path}: holds {self.symbol} only, not {', '.join(map(quote, symbols))}")
        messages = self._messages()
        trades = messages[messages["type"].isin(_EXECUTIONS)]
        ns = np.round(trades["time"].to_numpy(dtype=np.float64) * 1e9).astype(np.int64)
        step = bar_ns(self.frequency)
        bucket = ns // step * step
        price = trades["price"].to_numpy(dtype=np.float64) / _PRICE_SCALE
        size = trades["size"].to_numpy(dtype=np.float64)
        grouped = pd.DataFrame({"bucket": bucket, "price": price, "size": size}).groupby("bucket", sort=True)
        agg = grouped.agg(
            open=("price", "first"),
            high=("price", "max"),
            low=("price", "min"),
            close=("price", "last"),
            volume=("size", "sum"),
        )
        local = pd.DatetimeIndex(self.date + pd.to_timedelta(agg.index.to_numpy(), unit="ns"))
        ts = local.tz_localize(LOBSTER_TZ, ambiguous="raise", nonexistent="raise").tz_convert("UTC")
        frame = agg.reset_index(drop=True)
        frame.insert(0, "ts", ts)
        frame.insert(0, "symbol", self.symbol)
        return frame[within(frame["ts"], start, end)].reset_index(drop=True)

    def _messages(self) -> pd.DataFrame:
        header = read_header(
            self.path, what="a LOBSTER message file", example="34200.004241176,1,16113575,18,5853300,1"
        )
        if len(header.split(",")) != len(_COLUMNS):
            raise SchemaError(
                f"{self.path}: a LOBSTER message file has {len(_COLUMNS)} columns ({', '.join(_COLUMNS)}), "
                f"its first line has {len(header.split(','))}: {quote(header)}"
            )
        with file_errors(self.path):
            try:
                return pd.read_csv(self.path, header=None, names=list(_COLUMNS), dtype=np.float64)
            except ValueError:  # a cell that is not a number: read again as text to name it
                frame = pd.read_csv(self.path, header=None, names=list(_COLUMNS), dtype=str)
        numbers = frame.apply(pd.to_numeric, errors="coerce")
        unread = numbers.isna() & frame.notna()
        if unread.to_numpy().any():
            row, col = np.argwhere(unread.to_numpy())[0]
            raise SchemaError(
                f"{self.path}:{row + 1}: {_COLUMNS[col]} {quote(frame.iat[row, col])} is not a number; a LOBSTER "
                f"message file is six columns of numbers ({', '.join(_COLUMNS)})"
            )
        return pd.DataFrame(numbers, dtype=np.float64)
