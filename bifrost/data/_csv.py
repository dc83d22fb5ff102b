"""CSV sources: Yahoo and backtrader daily files, yfinance intraday files, long files, any mapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bifrost._checks import as_choice, check_symbol, check_symbols, quote
from bifrost._files import file_errors, read_header
from bifrost.data._columns import STORED_FREQUENCIES, Frequency
from bifrost.data._store import TimeLike, within
from bifrost.data._validate import check_bar_columns
from bifrost.errors import DataSourceError, InvalidInputError, SchemaError

__all__ = ["CsvSource"]

# Column names bifrost recognises without a mapping, lower-cased.
_ALIASES: Mapping[str, str] = {
    "date": "ts",
    "datetime": "ts",
    "timestamp": "ts",
    "time": "ts",
    "ts": "ts",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
    "adj close": "adj_close",
    "adj_close": "adj_close",
    "adjusted_close": "adj_close",
    "adjclose": "adj_close",
    "dividend": "dividend",
    "dividends": "dividend",
    "dividend_amount": "dividend",
    "split": "split",
    "splits": "split",
    "stock splits": "split",
    "split_coefficient": "split",
    "name": "symbol",
    "symbol": "symbol",
    "ticker": "symbol",
}
_IGNORED = frozenset({"openinterest", "open interest"})


class CsvSource:
    """Daily or intraday bars from a CSV file (gzip, bz2, zip or xz are read directly).

    Recognised layouts: Yahoo (``Date,Open,High,Low,Close,Adj Close,Volume``), backtrader
    (``Date,Open,High,Low,Close,Volume,OpenInterest``), Alpha Vantage daily adjusted,
    yfinance intraday (``Datetime,Open,High,Low,Close,Adj Close,Volume``, ``Adj Close``
    optional, each time ISO 8601 with its UTC offset: ``2024-01-02 09:30:00-05:00``), and
    long files with a ``Name``/``symbol``/``ticker`` column holding many symbols. Any other
    layout works with ``columns``, a mapping from the file's names to bifrost's.

    Parameters
    ----------
    path
        The file.
    symbol
        The symbol of a one-symbol file; required when the file has no symbol column.
    columns
        Extra ``{file column: bifrost column}`` mapping, applied before the aliases.
    date_format
        ``strptime`` format of the date column when it is not ISO 8601 (e.g. ``%Y%m%d``,
        or ``%Y%m%d %H:%M`` for intraday times, read as UTC).
    frequency
        What the bars are: ``1d`` or an intraday frequency (``5m``). Default: inferred
        from the times when the bars are validated (`validate_bars`): bars under a day
        apart are intraday and keep their times, in UTC; a daily file's times are dropped.

    Raises
    ------
    InvalidInputError
        At construction, on an invalid ``symbol``, ``date_format`` (``%Q``) or ``frequency``.
    SchemaError
        From `bars`, before any row is filtered: a header longer than 64 KiB or of more
        than 64 columns, columns that are not a bar file's (a misnamed or absent date
        column, a file separated by ``;``), or rows longer than the header (comma decimals).
    DataSourceError
        From `bars`: a missing, unreadable, non-UTF-8, truncated or corrupt file, or a
        ``symbol``/``symbols`` the file has no rows for.
    """

    name = "csv"

    def __init__(
        self,
        path: str | Path,
        *,
        symbol: str | None = None,
        columns: Mapping[str, str] | None = None,
        date_format: str | None = None,
        frequency: Frequency | None = None,
    ) -> None:
        self.path = Path(path)
        self.symbol = None if symbol is None else check_symbol(symbol, "symbol")
        self.columns = dict(columns or {})
        self.date_format = None if date_format is None else _checked_date_format(date_format)
        self.frequency = None if frequency is None else as_choice(frequency, "frequency", STORED_FREQUENCIES)

    @property
    def origin(self) -> str:
        return str(self.path)

    def bars(self, symbols: Sequence[str] | None = None, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        """Read the file; every row keeps its line number in ``line`` for messages."""
        wanted = None if symbols is None else check_symbols(symbols, "symbols")
        header = self._header()
        with file_errors(self.path):
            frame = pd.read_csv(
                self.path,
                dtype=str,
                skip_blank_lines=False,
                keep_default_na=False,
                na_values=["", "NA", "NaN", "nan", "null", "None", "-"],
            )
        if not isinstance(frame.index, pd.RangeIndex):
            # rows longer than the header: pandas took the extra leading fields as an index
            raise SchemaError(
                f"{self.path}: rows have more fields than the header's {len(header.split(','))} "
                "(a comma used as the decimal separator, as in 10,5?); bifrost reads comma-separated "
                "files with a '.' decimal point"
            )
        frame["line"] = frame.index + 2  # header is line 1
        rename: dict[str, str] = {}
        drop: list[str] = []
        for col in frame.columns:
            if col == "line":
                continue
            key = str(col).strip()
            if key in self.columns:
                rename[col] = self.columns[key]
            elif key.lower() in _IGNORED:
                drop.append(col)
            elif key.lower() in _ALIASES:
                rename[col] = _ALIASES[key.lower()]
        yfinance_splits = any(str(c).strip().lower() == "stock splits" and rename.get(c) == "split" for c in rename)
        frame = frame.drop(columns=drop).rename(columns=rename)
        if "symbol" not in frame.columns:
            if self.symbol is None:
                raise SchemaError(
                    f"{self.path}: no symbol column (Name, symbol or ticker) and no symbol given; "
                    "pass symbol= (--symbol SYM) for a one-symbol file"
                )
            frame.insert(0, "symbol", self.symbol)
        # the schema is judged before any row is filtered by symbol or date
        check_bar_columns([c for c in frame.columns if c != "line"], str(self.path), hint=_separator_hint(header))
        if self.symbol is not None and len(frame):
            frame = self._only(frame, [self.symbol], "symbol")
        if self.date_format:
            parsed = pd.to_datetime(frame["ts"], format=self.date_format, errors="coerce")
            # an intraday file's times are kept; a file of dates stays one of dates
            timed = bool((parsed.dropna() != parsed.dropna().dt.normalize()).any())
            shown = parsed.dt.strftime("%Y-%m-%dT%H:%M:%S.%f" if timed else "%Y-%m-%d")
            frame["ts"] = shown.where(parsed.notna(), frame["ts"])
        for col in ("open", "high", "low", "close", "volume", "adj_close", "dividend", "split"):
            if col in frame.columns:
                # fast path: a clean numeric column converts in C; a column with a bad cell
                # (text, or inf / 1e309) stays text, so that validation quotes the cell
                converted = pd.to_numeric(frame[col], errors="coerce")
                unread = converted.isna() & frame[col].notna()
                if not (unread.any() or np.isinf(converted.to_numpy(dtype=np.float64, na_value=np.nan)).any()):
                    frame[col] = converted
        if yfinance_splits and pd.api.types.is_numeric_dtype(frame["split"].dtype):
            # yfinance writes 0 in "Stock Splits" on a day without a split (the Yahoo adapter reads it so too)
            frame["split"] = frame["split"].where(frame["split"] != 0.0, 1.0)
        if wanted is not None:
            frame = self._only(frame, wanted, "symbols")
        frame = _newest_first_to_oldest_first(frame)
        return frame[within(frame["ts"], start, end)].reset_index(drop=True)

    def metadata(self) -> pd.DataFrame:
        return pd.DataFrame({"symbol": []})

    def _header(self) -> str:
        return read_header(
            self.path, what="a bar file", example="Date,Open,High,Low,Close,Volume, and a Name column for many symbols"
        )

    def _only(self, frame: pd.DataFrame, wanted: Sequence[str], option: str) -> pd.DataFrame:
        # rows of the wanted symbols; asking for a symbol the file lacks is an error, not an
        # empty load (a typo would otherwise store nothing and succeed)
        present = frame["symbol"].astype("string").str.strip()
        have = set(present.dropna().unique())
        absent = [s for s in wanted if s not in have]
        if absent:
            sample = sorted(have)[:5]
            more = f", … ({len(have):,} in all)" if len(have) > len(sample) else ""
            raise DataSourceError(
                f"{self.path}: no rows for {option} {', '.join(map(quote, absent[:5]))}; "
                f"the file has {', '.join(sample) or 'no rows'}{more}"
            )
        return frame[present.isin(list(wanted)).to_numpy(dtype=bool)]


def _separator_hint(header: str) -> str:
    if "," in header:
        return ""
    for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if sep in header:
            return (
                f" The header is separated by {name}, not commas: bifrost reads comma-separated files "
                "(save it as CSV with commas and '.' decimals)."
            )
    return ""


def _checked_date_format(fmt: str) -> str:
    # a format is valid when a date written with it reads back with it
    if not isinstance(fmt, str) or not fmt.strip() or "%" not in fmt:
        raise InvalidInputError(f"date_format must be a strptime format such as %Y%m%d, got {quote(fmt)}")
    sample = datetime(2001, 2, 3, 4, 5, 6)
    try:
        datetime.strptime(sample.strftime(fmt), fmt)
        pd.to_datetime(pd.Series([sample.strftime(fmt)]), format=fmt)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(
            f"date_format {quote(fmt)} is not a valid strptime format ({exc}); use e.g. %Y%m%d or %d/%m/%Y"
        ) from None
    return fmt


def _newest_first_to_oldest_first(frame: pd.DataFrame) -> pd.DataFrame:
    # Some vendors (Alpha Vantage) write newest first: that is a layout, not disorder.
    # A symbol whose dates strictly fall on every row is reversed; anything else is left
    # for validation to judge.
    if "ts" not in frame.columns or len(frame) < 2:
        return frame
    # read with their times and offsets: an intraday file's rows of one day differ by time
    ts = pd.to_datetime(frame["ts"].astype("string"), errors="coerce", format="ISO8601", utc=True)
    if ts.isna().any():
        return frame
    falling = ts.groupby(frame["symbol"], sort=False).diff().dropna()
    if len(falling) and bool((falling.to_numpy() < np.timedelta64(0)).all()):
        return frame.iloc[::-1]
    return frame
