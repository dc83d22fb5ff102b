"""Fake data sources: serve a frame you already hold through the `BarSource` protocol."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bifrost._checks import as_choice, check_symbols
from bifrost.data._columns import STORED_FREQUENCIES, Frequency
from bifrost.data._store import TimeLike, within
from bifrost.data._validate import check_bar_columns
from bifrost.errors import InvalidInputError

__all__ = ["FrameBarSource"]


class FrameBarSource:
    """A source serving a frame you already hold (tests, notebooks, your own loaders).

    Satisfies `bifrost.data.BarSource`: ``bars`` returns the frame's rows of the wanted
    symbols within ``[start, end)``, unvalidated (`bifrost.data.load_bars` validates).

    Parameters
    ----------
    frame
        Long bars: ``symbol, ts, open, high, low, close, volume`` columns (or a
        ``(symbol, ts)`` index), optionally ``adj_close, dividend, split``.
    origin
        The name used in every validation message.
    metadata
        ``symbol, sector, synthetic`` rows for the store; default none.
    frequency
        What the bars are (``1d``, ``5m``, ...); default None: inferred from their
        timestamps when they are validated.

    Raises
    ------
    InvalidInputError
        If ``frame`` is not a DataFrame.
    """

    name = "frame"

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        origin: str = "frame",
        metadata: pd.DataFrame | None = None,
        frequency: Frequency | None = None,
    ) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(f"{origin}: bars must be a pandas DataFrame, got {type(frame).__name__}")
        self._frame = frame
        self._origin = origin
        self._metadata = metadata
        self._frequency = None if frequency is None else as_choice(frequency, "frequency", STORED_FREQUENCIES)

    @property
    def frequency(self) -> Frequency | None:
        return self._frequency

    @property
    def origin(self) -> str:
        return self._origin

    def bars(self, symbols: Sequence[str] | None = None, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        frame = self._frame
        if isinstance(frame.index, pd.MultiIndex):
            frame = frame.reset_index()
        check_bar_columns(list(frame.columns), self._origin)  # before filtering on symbol and ts
        if symbols is not None:
            frame = frame[frame["symbol"].isin(check_symbols(symbols, "symbols"))]
        return frame[within(frame["ts"], start, end)]

    def metadata(self) -> pd.DataFrame:
        return self._metadata if self._metadata is not None else pd.DataFrame({"symbol": []})
