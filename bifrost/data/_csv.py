"""CSV sources: Yahoo and backtrader daily files, long files with a symbol column, any mapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bifrost.data._store import TimeLike, within
from bifrost.errors import DataSourceError, SchemaError

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
    """Daily bars from a CSV file (gzip, bz2, zip or xz are read directly).

    Recognised layouts: Yahoo (``Date,Open,High,Low,Close,Adj Close,Volume``), backtrader
    (``Date,Open,High,Low,Close,Volume,OpenInterest``), Alpha Vantage daily adjusted, and
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
        ``strptime`` format of the date column when it is not ISO 8601 (e.g. ``%Y%m%d``).
    """

    name = "csv"

    def __init__(
        self,
        path: str | Path,
        *,
        symbol: str | None = None,
        columns: Mapping[str, str] | None = None,
        date_format: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.symbol = symbol
        self.columns = dict(columns or {})
        self.date_format = date_format

    @property
    def origin(self) -> str:
        return str(self.path)

    def bars(self, symbols: Sequence[str] | None = None, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        """Read the file; every row keeps its line number in ``line`` for messages."""
        try:
            frame = pd.read_csv(
                self.path,
                dtype=str,
                skip_blank_lines=False,
                keep_default_na=False,
                na_values=["", "NA", "NaN", "nan", "null", "None", "-"],
            )
        except FileNotFoundError as exc:
            raise DataSourceError(f"{self.path}: no such file") from exc
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataSourceError(f"{self.path}: cannot read as CSV: {exc}") from exc
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
        frame = frame.drop(columns=drop).rename(columns=rename)
        if "symbol" not in frame.columns:
            if self.symbol is None:
                raise SchemaError(
                    f"{self.path}: no symbol column (Name, symbol or ticker) and no symbol given; "
                    "pass symbol= (--symbol SYM) for a one-symbol file"
                )
            frame.insert(0, "symbol", self.symbol)
        elif self.symbol is not None:
            frame = frame[frame["symbol"] == self.symbol]
        if self.date_format and "ts" in frame.columns:
            parsed = pd.to_datetime(frame["ts"], format=self.date_format, errors="coerce")
            frame["ts"] = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), frame["ts"])
        for col in ("open", "high", "low", "close", "volume", "adj_close", "dividend", "split"):
            if col in frame.columns:
                # fast path: a clean numeric column converts in C; bad cells stay as text
                converted = pd.to_numeric(frame[col], errors="coerce")
                if not (converted.isna() & frame[col].notna()).any():
                    frame[col] = converted
        if symbols is not None:
            frame = frame[frame["symbol"].isin(list(symbols))]
        frame = _newest_first_to_oldest_first(frame)
        return frame[within(frame["ts"], start, end)].reset_index(drop=True)

    def metadata(self) -> pd.DataFrame:
        return pd.DataFrame({"symbol": []})


def _newest_first_to_oldest_first(frame: pd.DataFrame) -> pd.DataFrame:
    # Some vendors (Alpha Vantage) write newest first: that is a layout, not disorder.
    # A symbol whose dates strictly fall on every row is reversed; anything else is left
    # for validation to judge.
    if "ts" not in frame.columns or len(frame) < 2:
        return frame
    ts = pd.to_datetime(frame["ts"].astype("string").str.slice(0, 10), errors="coerce", format="ISO8601")
    if ts.isna().any():
        return frame
    falling = ts.groupby(frame["symbol"], sort=False).diff().dropna()
    if len(falling) and bool((falling.to_numpy() < np.timedelta64(0)).all()):
        return frame.iloc[::-1]
    return frame
