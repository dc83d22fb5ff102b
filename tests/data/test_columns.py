"""BarColumns kernels against straightforward references."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bifrost.data import BarColumns

DAY = 86_400 * 10**9


def _cols(codes: list[int], days: list[int], close: list[float]) -> BarColumns:
    return BarColumns(
        symbols=("AAA", "BBB"),
        codes=np.array(codes, dtype=np.int64),
        ts=np.array(days, dtype=np.int64) * DAY,
        values={"close": np.array(close)},
    )


def test_panel_complete_rows_in_code_order_equal_pivot() -> None:
    panel = _cols([0, 0, 1, 1], [1, 2, 1, 2], [1.0, 2.0, 3.0, 4.0]).to_panel(["close"], "raw")
    np.testing.assert_array_equal(panel["close"], [[1.0, 3.0], [2.0, 4.0]])


def test_panel_complete_rows_out_of_code_order_are_placed_by_code() -> None:
    # a backend that returned BBB's rows first must not swap the symbols' columns
    panel = _cols([1, 1, 0, 0], [1, 2, 1, 2], [3.0, 4.0, 1.0, 2.0]).to_panel(["close"], "raw")
    np.testing.assert_array_equal(panel["close"], [[1.0, 3.0], [2.0, 4.0]])


def test_panel_with_gaps_has_nan_where_no_bar() -> None:
    panel = _cols([0, 0, 1], [1, 2, 2], [1.0, 2.0, 4.0]).to_panel(["close"], "raw")
    np.testing.assert_array_equal(panel["close"], [[1.0, np.nan], [2.0, 4.0]])
    assert list(panel.ts) == [pd.Timestamp(DAY, tz="UTC"), pd.Timestamp(2 * DAY, tz="UTC")]
