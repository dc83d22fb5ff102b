"""Output files: checked before the work, written whole or not at all."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bifrost._json import dumps
from bifrost._paths import output_path, write_text
from bifrost.errors import InvalidInputError


def test_output_path_in_a_missing_folder_raises_naming_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"-o: cannot write .*x\.html: the folder .*nodir does not exist"):
        output_path(tmp_path / "nodir" / "x.html", "-o")


@pytest.mark.parametrize("make", [lambda p: p, lambda p: Path("")])
def test_output_path_that_is_a_folder_or_empty_raises(tmp_path: Path, make: object) -> None:
    with pytest.raises(InvalidInputError, match=r"is a folder|empty"):
        output_path(make(tmp_path), "--out")  # type: ignore[operator]


def test_write_text_replaces_whole_and_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    target.write_text("old")
    write_text(target, "new page", "page")
    assert target.read_text() == "new page" and [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_write_text_to_a_full_device_raises_and_leaves_the_device_alone() -> None:
    # /dev/full answers every write with ENOSPC, as a full disk does; a device is written to,
    # never renamed over
    full = Path("/dev/full")
    if not full.is_char_device():
        pytest.skip("no /dev/full on this system")
    with pytest.raises(InvalidInputError, match=r"page: cannot write /dev/full: No space left on device"):
        write_text(full, "x" * 100_000, "page")
    assert full.is_char_device()


def test_write_text_through_a_symlink_writes_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real.html"
    real.write_text("old")
    (tmp_path / "link.html").symlink_to(real)
    write_text(tmp_path / "link.html", "new", "page")
    assert (tmp_path / "link.html").is_symlink() and real.read_text() == "new"


def test_tearsheet_to_html_in_a_missing_folder_is_invalid_input_not_file_not_found(tmp_path: Path) -> None:
    # issue 10 item 16: the library writers raise InvalidInputError before building the page
    import pandas as pd

    from bifrost.analytics import tearsheet

    returns = pd.Series([0.01, -0.02, 0.015] * 30, index=pd.date_range("2020-01-01", periods=90, tz="UTC"))
    with pytest.raises(InvalidInputError, match="does not exist"):
        tearsheet(returns).to_html(tmp_path / "nodir" / "t.html")


def test_json_dumps_writes_null_for_every_non_finite_number() -> None:
    import numpy as np

    text = dumps({"a": [1.0, math.inf, -math.inf, math.nan], "b": np.float64("nan"), "c": np.int64(3)})
    strict = json.loads(text, parse_constant=lambda token: pytest.fail(f"non-JSON token {token}"))
    assert strict == {"a": [1.0, None, None, None], "b": None, "c": 3}
