"""bifrost.testing.FrameBarSource: a frame served through the BarSource protocol, on real bars."""

from __future__ import annotations

import pandas as pd
import pytest

from bifrost.data import BarSource, CsvSource, load_bars
from bifrost.errors import InvalidInputError, SchemaError
from bifrost.testing import FrameBarSource
from tests.conftest import ORCL


def _orcl() -> pd.DataFrame:
    return CsvSource(ORCL, symbol="ORCL").bars(end="1995-02-01")  # 20 real bars of January 1995


def test_frame_source_satisfies_the_bar_source_protocol() -> None:
    source = FrameBarSource(_orcl())
    assert isinstance(source, BarSource)
    assert (source.name, source.origin, source.frequency) == ("frame", "frame", None)


def test_frame_source_serves_half_open_bounds_and_validates_like_the_file() -> None:
    source = FrameBarSource(_orcl(), origin="orcl-jan")
    window = load_bars(source, ["ORCL"], "1995-01-05", "1995-01-10")
    assert window.bars.index.get_level_values("ts").strftime("%Y-%m-%d").tolist() == [
        "1995-01-05",
        "1995-01-06",
        "1995-01-09",
    ]
    whole = load_bars(source).bars
    pd.testing.assert_frame_equal(whole, load_bars(CsvSource(ORCL, symbol="ORCL"), end="1995-02-01").bars)
    assert whole["close"].iloc[0] == 2.117284  # the file's first row, 1995-01-03


def test_frame_source_refuses_what_is_not_a_bar_frame() -> None:
    with pytest.raises(InvalidInputError, match="bars must be a pandas DataFrame, got list"):
        FrameBarSource([1, 2])  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="missing column"):
        FrameBarSource(pd.DataFrame({"symbol": ["A"], "close": [1.0]})).bars()
    with pytest.raises(InvalidInputError, match="frequency must be one of"):
        FrameBarSource(_orcl(), frequency="1w")
