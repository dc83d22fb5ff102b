"""Every validation rule: a bad file, an error naming the place, and an untouched store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, FrameBarSource, ingest, validate_bars
from bifrost.errors import InvalidInputError, SchemaError, ValidationError
from tests.conftest import ORCL

HEAD = ORCL.read_text().splitlines()[:11]  # header + 10 real ORCL bars, 1995-01-03 .. 1995-01-16


def _write(tmp_path: Path, lines: list[str], name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _replace(line_no: int, field: int, value: str) -> list[str]:
    """HEAD with one field of one file line (1-based, header = 1) replaced."""
    lines = list(HEAD)
    parts = lines[line_no - 1].split(",")
    parts[field] = value
    lines[line_no - 1] = ",".join(parts)
    return lines


# Yahoo columns: 0 Date, 1 Open, 2 High, 3 Low, 4 Close, 5 Adj Close, 6 Volume
ROW_RULES = {
    "non-numeric": (_replace(5, 4, "abc"), ":5: ORCL 1995-01-06 close: non-numeric 'abc'"),
    "missing price": (_replace(4, 1, ""), ":4: ORCL 1995-01-05 open: missing open"),
    "non-positive price": (_replace(6, 3, "0"), ":6: ORCL 1995-01-09 low: non-positive low 0"),
    "high below open/close": (
        _replace(3, 2, "2.0"),
        ":3: ORCL 1995-01-04 high: high 2 is below max(open, close) 2.135803",
    ),
    "low above open/close": (_replace(7, 3, "2.5"), ":7: ORCL 1995-01-10 low: low 2.5 is above min(open, close)"),
    "negative volume": (_replace(8, 6, "-100"), ":8: ORCL 1995-01-11 volume: negative volume -100"),
    "unparseable date": (_replace(9, 0, "1995-13-45"), ":9: ORCL ts: unparseable date '1995-13-45'"),
    "duplicate date": (_replace(10, 0, "1995-01-12"), ":9: ORCL 1995-01-12 ts: duplicate date; a later row (line 10)"),
    "out of order": (_replace(5, 0, "1995-01-20"), ":6: ORCL 1995-01-09 ts: date out of order"),
    "mixed time zones": (
        [HEAD[0]]
        + [
            ln.replace(ln[:10], ln[:10] + "T00:00:00-05:00", 1)
            if i == 3
            else ln.replace(ln[:10], ln[:10] + "T00:00:00+00:00", 1)
            for i, ln in enumerate(HEAD[1:])
        ],
        ":5: ORCL 1995-01-06 ts: mixed time zones: '-05:00' differs from the first row's '+00:00'",
    ),
}


@pytest.fixture
def loaded(store: BarStore) -> BarStore:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
    return store


def _snapshot(store: BarStore) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    return store.list_symbols(), store.read_bars("ORCL"), len(store.ingest_log())


@pytest.mark.parametrize("rule", ROW_RULES)
def test_validation_bad_row_strict_names_place_and_leaves_store_unchanged(
    rule: str, loaded: BarStore, tmp_path: Path
) -> None:
    # Arrange
    lines, expected = ROW_RULES[rule]
    path = _write(tmp_path, lines)
    before = _snapshot(loaded)
    # Act
    with pytest.raises(ValidationError) as info:
        ingest(loaded, CsvSource(path, symbol="ORCL"))
    # Assert
    message = str(info.value)
    assert str(path) + expected in message, message
    assert "nothing was stored" in message
    listing, bars, n_ingests = _snapshot(loaded)
    pd.testing.assert_frame_equal(listing, before[0])
    pd.testing.assert_frame_equal(bars, before[1])
    assert n_ingests == before[2]


@pytest.mark.parametrize("rule", [r for r in ROW_RULES if r != "out of order"])
def test_validation_bad_row_repair_quarantines_it_with_reason(rule: str, store: BarStore, tmp_path: Path) -> None:
    lines, expected = ROW_RULES[rule]
    path = _write(tmp_path, lines)
    report = ingest(store, CsvSource(path, symbol="ORCL"), on_error="repair")
    quarantine = pd.read_csv(report.quarantine_path, dtype=str, keep_default_na=False)
    assert report.rows_read == 10
    assert report.rows_quarantined == 1
    assert report.rows_new == 9
    assert len(store.read_bars("ORCL")) == 9
    texts = [
        f"{r.origin}:{r.line}: " + " ".join(p for p in (r.symbol, r.ts, r.field) if p) + f": {r.reason}"
        for r in quarantine.itertuples()
    ]
    assert any(str(path) + expected in t for t in texts), texts
    assert set(quarantine["action"]) == {"dropped"}


def test_validation_out_of_order_repair_sorts_and_keeps_every_row(store: BarStore, tmp_path: Path) -> None:
    lines = list(HEAD)
    lines[3], lines[4] = lines[4], lines[3]  # swap 1995-01-05 and 1995-01-06
    report = ingest(store, CsvSource(_write(tmp_path, lines), symbol="ORCL"), on_error="repair")
    assert report.rows_quarantined == 0 and report.rows_new == 10
    ts = store.read_bars("ORCL").index.get_level_values("ts")
    assert ts.is_monotonic_increasing
    assert pd.read_csv(report.quarantine_path)["action"].tolist() == ["sorted"]


def test_validation_missing_column_names_file_and_column(loaded: BarStore, tmp_path: Path) -> None:
    lines = [",".join(p for i, p in enumerate(ln.split(",")) if i != 4) for ln in HEAD]  # drop Close
    path = _write(tmp_path, lines)
    before = _snapshot(loaded)
    with pytest.raises(SchemaError, match=rf"{path}: missing column\(s\) 'close'"):
        ingest(loaded, CsvSource(path, symbol="ORCL"))
    assert _snapshot(loaded)[2] == before[2]


def test_validation_misnamed_column_suggests_the_close_match(loaded: BarStore, tmp_path: Path) -> None:
    lines = [HEAD[0].replace("Close,Adj", "Clsoe,Adj"), *HEAD[1:]]
    path = _write(tmp_path, lines)
    with pytest.raises(SchemaError, match=r"missing column\(s\) 'close' \(found 'Clsoe': misnamed\?\)"):
        ingest(loaded, CsvSource(path, symbol="ORCL"))
    pd.testing.assert_frame_equal(loaded.read_bars("ORCL"), _snapshot(loaded)[1])


def test_validation_one_symbol_file_without_symbol_asks_for_it(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match=r"no symbol column .* pass symbol="):
        CsvSource(_write(tmp_path, HEAD)).bars()


def test_validation_frame_issue_names_symbol_and_date_without_line() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["AAA", "AAA"],
            "ts": ["2020-01-02", "2020-01-03"],
            "open": [1.0, 1.0],
            "high": [1.1, 0.5],
            "low": [0.9, 0.4],
            "close": [1.0, 0.45],
            "volume": [10.0, 10.0],
        }
    )
    with pytest.raises(ValidationError, match=r"frame: AAA 2020-01-03 high: high 0.5 is below max\(open, close\) 1"):
        validate_bars(frame, origin="frame")


def test_validation_unknown_policy_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="on_error must be 'strict' or 'repair'"):
        validate_bars(pd.DataFrame(), origin="x", on_error="lenient")  # type: ignore[arg-type]


def test_validation_daily_bars_are_stamped_at_session_date_utc() -> None:
    idx = pd.DatetimeIndex(["2020-01-02", "2020-01-03"]).tz_localize("America/New_York")
    frame = pd.DataFrame(
        {"symbol": "AAA", "ts": idx, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}
    )
    out = validate_bars(FrameBarSource(frame).bars(), origin="frame").bars
    assert list(out.index.get_level_values("ts")) == [
        pd.Timestamp("2020-01-02", tz="UTC"),
        pd.Timestamp("2020-01-03", tz="UTC"),
    ]
