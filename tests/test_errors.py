"""The exception tree: what each error is, and that errors.py imports from no package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bifrost.data import CsvSource, load_bars
from bifrost.errors import (
    BifrostError,
    DataError,
    InsufficientDataError,
    InvalidInputError,
    NotFoundError,
    SymbolNotFoundError,
    ValidationError,
)
from tests.conftest import ORCL


def test_errors_module_imports_no_bifrost_package() -> None:
    code = "import sys, bifrost.errors; print(sorted(m for m in sys.modules if m.startswith('bifrost.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['bifrost.errors']"


def test_insufficient_data_and_not_found_are_what_callers_already_catch() -> None:
    assert issubclass(InsufficientDataError, InvalidInputError) and issubclass(InsufficientDataError, ValueError)
    assert issubclass(SymbolNotFoundError, NotFoundError) and issubclass(SymbolNotFoundError, DataError)
    assert issubclass(NotFoundError, LookupError) and issubclass(NotFoundError, BifrostError)


def test_validation_error_issues_are_the_rows_with_their_place_and_reason(tmp_path: Path) -> None:
    lines = ORCL.read_text().splitlines()
    header, first = lines[0], lines[1].split(",")
    first[4] = "-1"  # a negative close
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([header, ",".join(first), *lines[2:5]]) + "\n")
    with pytest.raises(ValidationError) as info:
        load_bars(CsvSource(bad, symbol="ORCL"), on_error="strict")
    issues = info.value.issues
    assert issues and all(i.where().startswith(f"{bad}:2: ORCL") for i in issues)  # every problem is the one row
    assert all(i.reason and str(i) == f"{i.where()}: {i.reason}" for i in issues)
