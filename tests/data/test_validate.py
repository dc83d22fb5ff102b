"""Every validation rule: a bad file, an error naming the place, and an untouched store."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import (
    BarStore,
    CsvSource,
    SyntheticMarket,
    ingest,
    load_bars,
    record_actions,
    validate_bars,
)
from bifrost.errors import DataQualityWarning, DataSourceError, InvalidInputError, SchemaError, ValidationError
from bifrost.testing import FrameBarSource
from tests.conftest import ORCL, SP500, on_backends

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


# Each rule is checked before the store is touched, by the same code whatever the backend: every
# rule on the embedded store, one on PostgreSQL and TimescaleDB too (their store left as it was).
@pytest.mark.parametrize(("rule", "store"), on_backends(ROW_RULES, everywhere={"non-numeric"}), indirect=["store"])
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


# one rule that drops the row and one that clears the field (a NaN stored) on every backend
@pytest.mark.parametrize(
    ("rule", "store"),
    on_backends([r for r in ROW_RULES if r != "out of order"], everywhere={"non-numeric", "missing price"}),
    indirect=["store"],
)
def test_validation_bad_row_repair_quarantines_it_with_reason(rule: str, store: BarStore, tmp_path: Path) -> None:
    lines, expected = ROW_RULES[rule]
    path = _write(tmp_path, lines)
    report = ingest(store, CsvSource(path, symbol="ORCL"), on_error="repair")
    quarantine = pd.read_csv(report.quarantine_path, dtype=str, keep_default_na=False)
    assert report.rows_read == 10
    kept = rule in CLEARED  # repair keeps the bar without that field (issue 12, item 8)
    assert report.rows_quarantined == (0 if kept else 1)
    assert report.rows_new == (10 if kept else 9)
    assert len(store.read_bars("ORCL")) == (10 if kept else 9)
    texts = [
        f"{r.origin}:{r.line}: " + " ".join(p for p in (r.symbol, r.ts, r.field) if p) + f": {r.reason}"
        for r in quarantine.itertuples()
    ]
    assert any(str(path) + expected in t for t in texts), texts
    assert set(quarantine["action"]) == {"cleared" if kept else "dropped"}


# the rules above that repair answers by clearing the field, keeping the bar
CLEARED = {"missing price", "non-positive price"}


# -- repair keeps what is valid: a per-field policy (issue 12, item 8) ----------------------------------
def test_repair_keeps_dhrs_bar_without_its_missing_open(store: BarStore, tmp_path: Path) -> None:
    # the 505-stock file: DHR 2015-07-17 has high 88.76, low 88.24, close 88.72 and no open;
    # DHR 2016-01-12 a close 88.55 and volume 0, no open, high or low
    source = CsvSource(SP500, symbol="DHR")
    report = ingest(store, source, start="2015-07-15", end="2016-01-14", on_error="repair", quarantine_dir=tmp_path)
    assert report.rows_quarantined == 0 and report.rows_new == report.rows_read
    bar = store.read_bars("DHR", "2015-07-17", "2015-07-18").iloc[0]
    assert np.isnan(bar["open"]) and (bar["high"], bar["low"], bar["close"], bar["volume"]) == (
        88.76, 88.24, 88.72, 2056819.0,
    )  # fmt: skip
    other = store.read_bars("DHR", "2016-01-12", "2016-01-13").iloc[0]
    assert np.isnan(other[["open", "high", "low"]].astype(float)).all() and other["close"] == 88.55
    quarantine = pd.read_csv(report.quarantine_path, dtype=str, keep_default_na=False)
    rows = quarantine[["ts", "field", "reason", "action"]].to_numpy().tolist()
    assert rows == [
        ["2015-07-17", "open", "missing open", "cleared"],
        ["2016-01-12", "open", "missing open", "cleared"],
        ["2016-01-12", "high", "missing high", "cleared"],
        ["2016-01-12", "low", "missing low", "cleared"],
    ]
    with pytest.raises(ValidationError, match="DHR 2015-07-17 open: missing open"):
        ingest(store, source, start="2015-07-15", end="2015-07-20")  # strict still refuses


def test_repair_reports_a_cleared_field_of_a_dropped_row_as_dropped(store: BarStore, tmp_path: Path) -> None:
    # a missing open and a negative volume on one real ORCL row: the volume drops the bar
    lines = _replace(4, 1, "")
    parts = lines[3].split(",")
    parts[6] = "-5"
    lines[3] = ",".join(parts)
    report = ingest(store, CsvSource(_write(tmp_path, lines), symbol="ORCL"), on_error="repair")
    assert report.rows_quarantined == 1 and len(store.read_bars("ORCL")) == 9
    quarantine = pd.read_csv(report.quarantine_path, dtype=str, keep_default_na=False)
    assert quarantine[["field", "action"]].to_numpy().tolist() == [["open", "dropped"], ["volume", "dropped"]]


def test_repair_clears_a_bad_adj_close_and_keeps_the_raw_bar(store: BarStore, tmp_path: Path) -> None:
    report = ingest(store, CsvSource(_write(tmp_path, _replace(5, 5, "-1")), symbol="ORCL"), on_error="repair")
    assert report.rows_quarantined == 0
    bars = store.read_bars("ORCL", fields=["close", "adj_close"])
    assert len(bars) == 10 and np.isnan(bars["adj_close"].iloc[3]) and bars["close"].iloc[3] == 2.117284


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


# -- numbers that are not numbers (issue 10, items 2 and 4) -------------------------------------
NON_FINITE_ROWS = {
    "inf open": (_replace(5, 1, "inf"), ":5: ORCL 1995-01-06 open: non-finite open 'inf'"),
    "Infinity high": (_replace(5, 2, "Infinity"), ":5: ORCL 1995-01-06 high: non-finite high 'Infinity'"),
    "1e309 close": (_replace(5, 4, "1e309"), ":5: ORCL 1995-01-06 close: non-finite close '1e309'"),
    "1e400 volume": (_replace(5, 6, "1e400"), ":5: ORCL 1995-01-06 volume: non-finite volume '1e400'"),
    "-inf adj close": (_replace(5, 5, "-inf"), ":5: ORCL 1995-01-06 adj_close: non-finite adj_close '-inf'"),
    "5 MB of digits": (_replace(5, 4, "9" * 5_000_000), ":5: ORCL 1995-01-06 close: non-finite close '999"),
}
IMPLAUSIBLE_ROWS = {
    "1e308 prices": (
        [*HEAD[:4], "1995-01-06,1e308,1e308,1e308,1e308,1e308,100", *HEAD[5:]],
        ":5: ORCL 1995-01-06 open: implausible open 1e+308: a price must be within [1e-08, 1e+09]",
    ),
    "1e-12 price": (_replace(5, 3, "1e-12"), ":5: ORCL 1995-01-06 low: implausible low 1e-12"),
    "1e16 volume": (
        _replace(5, 6, "1e16"),
        ":5: ORCL 1995-01-06 volume: implausible volume 1e+16: a volume must be within [0, 1e+15] shares",
    ),
}


@pytest.mark.parametrize(
    ("rule", "store"),
    on_backends([*NON_FINITE_ROWS, *IMPLAUSIBLE_ROWS], everywhere={"inf open", "1e308 prices"}),
    indirect=["store"],
)
def test_validation_non_finite_or_implausible_number_is_refused_and_store_unchanged(
    rule: str, loaded: BarStore, tmp_path: Path
) -> None:
    lines, expected = {**NON_FINITE_ROWS, **IMPLAUSIBLE_ROWS}[rule]
    path = _write(tmp_path, lines)
    before = _snapshot(loaded)
    with pytest.raises(ValidationError) as info:
        ingest(loaded, CsvSource(path, symbol="ORCL"))
    assert str(path) + expected in str(info.value)
    assert len(str(info.value)) < 2_000  # a 5 MB field is quoted capped, never whole
    pd.testing.assert_frame_equal(loaded.read_bars("ORCL"), before[1])
    assert len(loaded.ingest_log()) == before[2]


def test_validation_non_finite_floats_in_a_frame_are_refused() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["AAA", "AAA"],
            "ts": ["2020-01-02", "2020-01-03"],
            "open": [1.0, np.inf],
            "high": [1.1, np.inf],
            "low": [0.9, 1.0],
            "close": [1.0, np.inf],
            "volume": [10.0, np.inf],
        }
    )
    with pytest.raises(ValidationError, match="4 problem") as info:
        validate_bars(frame, origin="frame")
    assert [i.field for i in info.value.issues] == ["open", "high", "close", "volume"]
    assert all(i.reason.startswith("non-finite") for i in info.value.issues)


def test_validation_non_finite_repair_quarantines_only_that_row(store: BarStore, tmp_path: Path) -> None:
    report = ingest(store, CsvSource(_write(tmp_path, _replace(5, 4, "inf")), symbol="ORCL"), on_error="repair")
    assert report.rows_quarantined == 1 and report.rows_new == 9
    assert np.isfinite(store.read_bars("ORCL").to_numpy()).all()


# -- dates outside 1678 .. 2261 (item 8) ----------------------------------------------------------
@pytest.mark.parametrize("date", ["1600-01-06", "1677-09-20", "2262-04-12", "2300-01-06"])
def test_validation_date_outside_supported_range_names_line_and_range(date: str, tmp_path: Path) -> None:
    path = _write(tmp_path, _replace(5, 0, date))
    with pytest.raises(ValidationError, match=rf":5: ORCL ts: date '{date}' outside the supported range 1678-01-01"):
        load_bars(CsvSource(path, symbol="ORCL"))


def test_validation_date_outside_range_in_a_frame_is_an_issue_not_a_crash() -> None:
    frame = pd.DataFrame(
        {"symbol": "AAA", "ts": [pd.Timestamp("1600-01-03"), pd.Timestamp("2020-01-03")]}
        | {c: 1.0 for c in ("open", "high", "low", "close", "volume")}
    )
    with pytest.raises(ValidationError, match="outside the supported range"):
        validate_bars(frame, origin="frame")


@pytest.mark.parametrize(("bound", "value"), [("start", "1600-01-01"), ("end", "2300-01-01"), ("start", "garbage")])
def test_source_bounds_outside_range_or_unparseable_are_invalid_input(bound: str, value: str) -> None:
    sources = [
        CsvSource(ORCL, symbol="ORCL"),
        FrameBarSource(CsvSource(ORCL, symbol="ORCL").bars(end="1995-02-01")),
        SyntheticMarket(n_symbols=2, n_days=10),
    ]
    for source in sources:
        with pytest.raises(InvalidInputError, match=rf"^{bound} must be a date"):
            source.bars(**{bound: value})


def test_store_read_bounds_outside_range_are_invalid_input(loaded: BarStore) -> None:
    with pytest.raises(InvalidInputError, match="start must be a date from 1678-01-01 to 2261-12-31"):
        loaded.read_bars("ORCL", start="1600-01-01")
    with pytest.raises(InvalidInputError, match="end must be a date from 1678-01-01 to 2261-12-31"):
        loaded.read_panel("ORCL", end="2300-01-01")


# -- symbols (item 10) ------------------------------------------------------------------------------
def _frame_of(symbol: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"symbol": symbol, "ts": ["2020-01-02", "2020-01-03"]}
        | {"open": 1.0, "high": 1.1, "low": 0.9, "close": 1.0, "volume": 10.0}
    )


@pytest.mark.parametrize("symbol", ["A\x00B", "A\tB", "A B", "X" * 9000, "=HYPERLINK(1)", "@SUM(A1)"])
def test_ingest_invalid_symbol_is_refused_the_same_way_on_every_backend(symbol: str, store: BarStore) -> None:
    with pytest.raises(ValidationError, match=r"invalid symbol: a symbol (is|has at most 32)") as info:
        ingest(store, FrameBarSource(_frame_of(symbol)))
    assert len(str(info.value)) < 1_500
    assert store.list_symbols().empty and store.ingest_log().empty


@pytest.mark.parametrize("symbol", ["BRK/B", "BRK.B", "^GSPC", "BF-B", "brk.b"])
def test_ingest_real_symbol_forms_are_kept_as_given(symbol: str, store: BarStore) -> None:
    ingest(store, FrameBarSource(_frame_of(symbol)))
    assert store.list_symbols()["symbol"].tolist() == [symbol]
    assert store.read_bars(symbol).index.get_level_values("symbol").unique().tolist() == [symbol]


@pytest.mark.parametrize("symbol", ["A\x00B", "X" * 9000, "A\tB"])
def test_read_invalid_symbol_is_invalid_input_on_every_backend(symbol: str, loaded: BarStore) -> None:
    with pytest.raises(InvalidInputError, match="is not a valid symbol"):
        loaded.read_bars(symbol)
    with pytest.raises(InvalidInputError, match="is not a valid symbol"):
        loaded.read_panel(["ORCL", symbol])


def test_quarantine_formula_symbol_is_escaped(store: BarStore, tmp_path: Path) -> None:
    good = _frame_of("AAA")
    bad = _frame_of("=1+2").iloc[:1].assign(ts="2020-01-06")
    minus = _frame_of("-2+3").iloc[:1].assign(ts="2020-01-07")
    report = ingest(store, FrameBarSource(pd.concat([good, bad, minus])), on_error="repair")
    assert report.rows_quarantined == 2
    cells = pd.read_csv(report.quarantine_path, dtype=str, keep_default_na=False)["symbol"].tolist()
    assert cells and all(c[:1] not in "=+-@" for c in cells), cells


# -- files that crash the reader (items 6, 7, 9) -------------------------------------------------------
def test_csv_misnamed_date_column_is_schema_error_with_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, [HEAD[0].replace("Date", "Dte"), *HEAD[1:]])
    with pytest.raises(SchemaError, match=r"missing column\(s\) 'ts' \(found 'Dte': misnamed\?\)"):
        CsvSource(path, symbol="ORCL").bars(start="1995-01-04")


def test_csv_semicolon_separated_is_schema_error_naming_the_separator(tmp_path: Path) -> None:
    path = _write(tmp_path, [ln.replace(",", ";") for ln in HEAD])
    with pytest.raises(SchemaError, match=r"misnamed\?.*separated by semicolons, not commas"):
        CsvSource(path, symbol="ORCL").bars(start="1995-01-04", end="1995-01-10")


def test_csv_comma_decimal_file_is_schema_error(tmp_path: Path) -> None:
    lines = [
        "Date,Open,High,Low,Close,Volume",
        "2020-01-02,10,5,11,0,9,5,10,1,100",
        "2020-01-03,10,5,11,0,9,5,10,1,100",
    ]
    with pytest.raises(SchemaError, match="comma used as the decimal separator"):
        CsvSource(_write(tmp_path, lines), symbol="X").bars()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("x" * 5_000_000, "the first line is longer than 65,536 characters"),
        (",".join(f"c{i}" for i in range(300_000)), "the first line is longer than 65,536 characters"),
        (",".join(f"c{i}" for i in range(65)), "the header has 65 columns; a bar file has at most 64"),
    ],
)
def test_csv_absurd_header_is_refused_before_parsing(header: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n" + header.replace("c", "1") + "\n")
    with pytest.raises(SchemaError, match=expected):
        CsvSource(path, symbol="X").bars()


def _zipped(raw: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("orcl.csv", raw)
    return buffer.getvalue()


@pytest.mark.parametrize("cut", [0.5, 0.001])
@pytest.mark.parametrize(
    ("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress), (".zip", _zipped)]
)
def test_csv_truncated_archive_is_data_source_error_naming_file(
    suffix: str, compress: Callable[[bytes], bytes], cut: float, tmp_path: Path
) -> None:
    raw = compress(ORCL.read_bytes())
    path = tmp_path / f"orcl.csv{suffix}"
    path.write_bytes(raw[: max(12, int(len(raw) * cut))])
    with pytest.raises(DataSourceError, match=rf"{path}: cannot be read: the file is truncated or corrupt"):
        CsvSource(path, symbol="ORCL").bars()
    path.write_bytes(raw)
    assert len(CsvSource(path, symbol="ORCL").bars()) == 5036  # whole, it reads


@pytest.mark.parametrize("fmt", ["%Q", "%Y-%m-%Q", "no directive", ""])
def test_csv_invalid_date_format_is_invalid_input_naming_it(fmt: str) -> None:
    with pytest.raises(InvalidInputError, match="date_format"):
        CsvSource(ORCL, symbol="ORCL", date_format=fmt)


def test_csv_valid_date_format_is_applied(tmp_path: Path) -> None:
    lines = [HEAD[0], *(ln[:10].replace("-", "") + ln[10:] for ln in HEAD[1:])]
    frame = CsvSource(_write(tmp_path, lines), symbol="ORCL", date_format="%Y%m%d").bars()
    assert frame["ts"].iloc[0] == "1995-01-03"


def test_csv_symbol_absent_from_long_file_names_it_and_some_present() -> None:
    with pytest.raises(DataSourceError, match=r"no rows for symbol 'NOSUCH'; the file has A, AAL, .* \(505 in all\)"):
        CsvSource(SP500, symbol="NOSUCH").bars()
    with pytest.raises(DataSourceError, match=r"no rows for symbols 'NOSUCH'"):
        CsvSource(SP500).bars(symbols=["AAPL", "NOSUCH"])


def test_csv_invalid_symbol_option_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="is not a valid symbol"):
        CsvSource(ORCL, symbol="OR CL")


# -- corporate actions are validated as bars are (item 3) ---------------------------------------------
IMPLAUSIBLE_ACTIONS = [
    ("split", float("inf"), "the split value must be a finite number"),
    ("split", float("nan"), "the split value must be a finite number"),
    ("split", 0.0, r"a split ratio must be positive and within \[0.001, 1000\]"),
    ("split", -2.0, r"a split ratio must be positive and within \[0.001, 1000\]"),
    ("split", 5000.0, r"a split ratio must be positive and within \[0.001, 1000\]"),
    ("split", 1.0, "and not 1"),
    ("dividend", 1e300, "a dividend must be a positive cash amount per share"),
    ("dividend", float("inf"), "the dividend value must be a finite number"),
    ("dividend", 0.0, "a dividend must be a positive cash amount per share"),
    ("dividend", 3.0, "a dividend of 3 is not below ORCL's close of 2.1358 on 1995-01-04"),
    ("dividend", "lots", "the dividend value must be a number"),
]
# on every backend: a value refused before the store is read, and the dividend checked against the stored close
EVERY_BACKEND_ACTIONS = {
    IMPLAUSIBLE_ACTIONS[0],
    ("dividend", 3.0, "a dividend of 3 is not below ORCL's close of 2.1358 on 1995-01-04"),
}


@pytest.mark.parametrize(
    ("kind", "value", "expected", "store"),
    on_backends(IMPLAUSIBLE_ACTIONS, everywhere=EVERY_BACKEND_ACTIONS),
    indirect=["store"],
)
def test_record_actions_implausible_value_is_refused_and_nothing_recorded(
    kind: str, value: object, expected: str, loaded: BarStore
) -> None:
    before = _snapshot(loaded)
    with pytest.raises(InvalidInputError, match=expected):
        record_actions(loaded, pd.DataFrame([{"symbol": "ORCL", "ts": "1995-01-05", "kind": kind, "value": value}]))
    assert loaded.read_actions().empty and len(loaded.ingest_log()) == before[2]
    adjusted = loaded.read_bars("ORCL", adjustment="adjusted")
    assert np.isfinite(adjusted.to_numpy()).all() and (adjusted["close"] > 0).all()


@pytest.mark.parametrize(
    ("date", "expected"), [("1600-01-05", "from 1678-01-01 to 2261-12-31"), ("garbage", "such as")]
)
def test_record_actions_bad_ex_date_is_invalid_input_naming_the_ex_date(
    date: str, expected: str, loaded: BarStore
) -> None:
    with pytest.raises(InvalidInputError, match=f"the ex-date must be a date {expected}"):
        record_actions(loaded, pd.DataFrame([{"symbol": "ORCL", "ts": date, "kind": "split", "value": 2.0}]))


@pytest.mark.parametrize("date", ["1990-01-02", "2261-01-02"])
def test_record_actions_ex_date_outside_the_bars_or_in_the_future_is_refused(date: str, loaded: BarStore) -> None:
    # a split before ORCL's first bar adjusts nothing; one not yet happened would halve every adjusted price
    before = loaded.read_bars("ORCL", adjustment="split_adjusted")
    with pytest.raises(InvalidInputError, match=r"must fall between ORCL's first bar \(1995-01-03\) and today"):
        record_actions(loaded, pd.DataFrame([{"symbol": "ORCL", "ts": date, "kind": "split", "value": 2.0}]))
    assert loaded.read_actions().empty
    pd.testing.assert_frame_equal(loaded.read_bars("ORCL", adjustment="split_adjusted"), before)


def test_record_actions_plausible_dividend_and_split_are_recorded(loaded: BarStore) -> None:
    actions = pd.DataFrame(
        [
            {"symbol": "ORCL", "ts": "1995-01-05", "kind": "dividend", "value": 0.05},
            {"symbol": "ORCL", "ts": "1995-01-10", "kind": "split", "value": 0.5},
        ]
    )
    # the 1995-01-10 split is not in ORCL's (split-adjusted) prices: recorded, with the warning that says so
    with pytest.warns(DataQualityWarning, match="ORCL split 0.5 on 1995-01-10: the raw close moved"):
        assert record_actions(loaded, actions).actions == 2
    assert loaded.read_actions()["value"].tolist() == [0.05, 0.5]


def test_validation_source_dividend_not_below_prior_close_is_an_issue() -> None:
    frame = _frame_of("AAA").assign(dividend=[0.0, 1.5], split=[1.0, 5000.0])
    with pytest.raises(ValidationError) as info:
        validate_bars(frame, origin="frame")
    reasons = [i.reason for i in info.value.issues]
    assert reasons == [
        "dividend 1.5 is not below the close before its ex-date 1",
        "implausible split ratio 5000: a ratio must be within [0.001, 1000] new shares per old share",
    ]
