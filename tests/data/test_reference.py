"""Symbol reference data (name, sector, industry, currency, lot size, tick size) on every backend.

The bars are the real files; the reference rows are the companies' GICS sectors and
industries as published for the S&P 500, US dollars, round lots of 100 and the penny tick
(SEC Rule 612) that US exchanges quote these stocks in.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import (
    REFERENCE_COLUMNS,
    BarStore,
    CsvSource,
    EmbeddedStore,
    SymbolReference,
    import_symbols,
    ingest,
    read_symbols,
    symbol_reference,
    tick_size,
)
from bifrost.errors import DataSourceError, InvalidInputError, NotFoundError
from tests.conftest import NVDA, ORCL, ROOT

HEADER = "symbol,name,sector,industry,currency,lot_size,tick_size"
ROWS = [
    "ORCL,Oracle Corp.,Information Technology,Software,USD,100,0.01",
    "NVDA,Nvidia Corporation,Information Technology,Semiconductors & Semiconductor Equipment,USD,100,0.01",
    'YHOO,"Yahoo! Inc.",Information Technology,Internet Software & Services,USD,100,0.01',
]


def _write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _bars(store: BarStore) -> None:
    # two of the three symbols have bars: YHOO's reference comes first
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2014-12-01")
    ingest(store, CsvSource(NVDA, symbol="NVDA"), start="2014-12-01")


def test_import_symbols_stores_every_field_and_names_symbols_without_bars(store: BarStore, tmp_path: Path) -> None:
    _bars(store)
    report = import_symbols(store, _write(tmp_path / "symbols.csv", ROWS))
    assert (report.rows, report.added, report.updated, report.removed) == (3, ("NVDA", "ORCL", "YHOO"), (), ())
    assert report.not_in_store == ("YHOO",)  # allowed, and said
    assert "1 symbol(s) have reference data but no bars in the store: YHOO" in report.summary()
    frame = read_symbols(store)
    assert list(frame.columns) == [*REFERENCE_COLUMNS, "source", "updated"]
    assert list(frame["symbol"]) == ["NVDA", "ORCL", "YHOO"]
    assert list(frame.loc[2, ["name", "industry"]]) == ["Yahoo! Inc.", "Internet Software & Services"]
    assert frame["lot_size"].dtype == np.int64 and list(frame["lot_size"]) == [100, 100, 100]
    assert frame["tick_size"].dtype == np.float64 and list(frame["tick_size"]) == [0.01, 0.01, 0.01]
    assert set(frame["currency"]) == {"USD"} and set(frame["source"]) == {str(tmp_path / "symbols.csv")}
    assert str(frame["updated"].dt.tz) == "UTC"
    assert list(read_symbols(store, ["ORCL"])["sector"]) == ["Information Technology"]
    # the tick size an order manager checks prices against, exactly
    assert tick_size(store, "ORCL") == Decimal("0.01") and isinstance(tick_size(store, "ORCL"), Decimal)
    assert symbol_reference(store, "NVDA") == SymbolReference(
        symbol="NVDA", name="Nvidia Corporation", sector="Information Technology",
        industry="Semiconductors & Semiconductor Equipment", currency="USD", lot_size=100, tick_size=Decimal("0.01"),
    )  # fmt: skip


def test_import_symbols_upserts_by_symbol_and_replace_makes_the_table_the_file(store: BarStore, tmp_path: Path) -> None:
    _bars(store)
    import_symbols(store, _write(tmp_path / "a.csv", ROWS))
    moved = [ROWS[0].replace("Oracle Corp.", "Oracle Corporation").replace("0.01", "0.005"), ROWS[1]]
    report = import_symbols(store, _write(tmp_path / "b.csv", moved))
    assert (report.added, report.updated, report.unchanged, report.removed) == ((), ("ORCL",), ("NVDA",), ())
    frame = read_symbols(store).set_index("symbol")
    assert frame.loc["ORCL", "name"] == "Oracle Corporation" and tick_size(store, "ORCL") == Decimal("0.005")
    assert frame.loc["YHOO", "name"] == "Yahoo! Inc."  # kept: not in the second file
    assert frame.loc["ORCL", "source"] == str(tmp_path / "b.csv")
    assert frame.loc["NVDA", "source"] == str(tmp_path / "a.csv")
    report = import_symbols(store, _write(tmp_path / "c.csv", [ROWS[1]]), replace=True)
    assert (report.unchanged, report.removed, report.replace) == (("NVDA",), ("ORCL", "YHOO"), True)
    assert list(read_symbols(store)["symbol"]) == ["NVDA"]


def test_import_symbols_bad_row_changes_nothing(store: BarStore, tmp_path: Path) -> None:
    import_symbols(store, _write(tmp_path / "a.csv", ROWS))
    before = read_symbols(store)
    bad = [ROWS[0].replace("Oracle Corp.", "Oracle"), ROWS[1].replace(",100,", ",0,")]
    with pytest.raises(InvalidInputError, match=r"b\.csv: line 3, column lot_size: lot_size must be"):
        import_symbols(store, _write(tmp_path / "b.csv", bad), replace=True)
    pd.testing.assert_frame_equal(read_symbols(store), before)  # ORCL's good row was not applied either


# -- every validation rule, named by file, line and column --------------------------------------
@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("symbol", "=HYPERLINK", "not a valid symbol"),
        ("symbol", "", "must not be empty"),
        ("symbol", "BRK B", "not a valid symbol"),
        ("name", "x" * 201, "at most 200 characters"),
        ("name", "Oracle\x07Corp", "printable text"),
        ("sector", "s" * 101, "at most 100 characters"),
        ("industry", "i" * 101, "at most 100 characters"),
        ("currency", "usd", "three upper-case letters"),
        ("currency", "US", "three upper-case letters"),
        ("currency", "", "three upper-case letters"),
        ("lot_size", "0", "from 1 to 1,000,000"),
        ("lot_size", "-100", "digits only"),
        ("lot_size", "100.0", "digits only"),
        ("lot_size", "1e2", "digits only"),
        ("lot_size", "1_000", "digits only"),
        ("lot_size", "2000000", "from 1 to 1,000,000"),
        ("lot_size", "", "digits only"),
        ("tick_size", "nan", "positive decimal number"),
        ("tick_size", "inf", "positive decimal number"),
        ("tick_size", "1e308", "between 1e-08 and 1e\\+09, got .1e308."),
        ("tick_size", "0", "between 1e-08 and 1e\\+09"),
        ("tick_size", "-0.01", "positive decimal number"),
        ("tick_size", "0.01 USD", "positive decimal number"),
        ("tick_size", "1_0", "positive decimal number"),
        ("tick_size", "", "positive decimal number"),
        ("tick_size", "0." + "1" * 40, "at most 28 significant digits"),
    ],
)
def test_import_symbols_bad_field_is_refused_naming_file_line_and_column(
    tmp_path: Path, column: str, value: str, match: str
) -> None:
    cells = dict(zip(HEADER.split(","), ROWS[1].split(","), strict=True))
    cells[column] = value
    path = _write(tmp_path / "bad.csv", [ROWS[0], ",".join(f'"{v}"' for v in cells.values())])
    with EmbeddedStore(tmp_path / "home") as store:
        with pytest.raises(InvalidInputError, match=rf"bad\.csv: line 3, column {column}: .*{match}"):
            import_symbols(store, path)
        assert read_symbols(store).empty


@pytest.mark.parametrize(
    ("header", "rows", "match"),
    [
        ("symbol,name,sector,industry,currency,lot_size", ["ORCL,Oracle,IT,Software,USD,100"],
         r"missing column\(s\) \['tick_size'\]"),
        (HEADER + ",exchange", [ROWS[0] + ",NYSE"], r"unknown column\(s\) \['exchange'\]"),
        (HEADER + ",sector", [ROWS[0] + ",IT"], r"repeated column\(s\) \['sector'\]"),
        (HEADER, [ROWS[0], ROWS[1], ROWS[0].replace("Oracle Corp.", "Oracle")],
         r"line 4, column symbol: 'ORCL' is repeated \(line 2 names it too\)"),
        (HEADER, [], r"no rows"),
        (HEADER, ["ORCL,Oracle, Corp.,Information Technology,Software,USD,100,0.01"], "more fields than the header"),
    ],
)  # fmt: skip
def test_import_symbols_bad_file_shape_is_refused_naming_it(
    tmp_path: Path, header: str, rows: list[str], match: str
) -> None:
    path = _write(tmp_path / "bad.csv", rows, header=header)
    with EmbeddedStore(tmp_path / "home") as store:
        with pytest.raises(InvalidInputError, match=rf"bad\.csv.*{match}"):
            import_symbols(store, path)
        assert read_symbols(store).empty


def test_import_symbols_missing_file_is_a_data_source_error(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "home") as store, pytest.raises(DataSourceError, match="no such file"):
        import_symbols(store, tmp_path / "absent.csv")


# -- frames ---------------------------------------------------------------------------------
def _frame(**changes: object) -> pd.DataFrame:
    row: dict[str, object] = {
        "symbol": "ORCL", "name": "Oracle Corp.", "sector": "Information Technology", "industry": "Software",
        "currency": "USD", "lot_size": 100, "tick_size": 0.01,
    }  # fmt: skip
    return pd.DataFrame([{**row, **changes}])


def test_import_symbols_from_a_frame_keeps_typed_values_and_unknown_labels(tmp_path: Path) -> None:
    frame = pd.concat([_frame(), _frame(symbol="SPY", name="SPDR S&P 500 ETF", sector=None, industry=np.nan)])
    frame["lot_size"] = frame["lot_size"].astype(np.int64)
    with EmbeddedStore(tmp_path / "home") as store:
        report = import_symbols(store, frame)
        assert report.source == "frame" and report.added == ("ORCL", "SPY")
        stored = read_symbols(store).set_index("symbol")
        assert stored.loc["SPY", "sector"] is None and stored.loc["SPY", "industry"] is None  # not known
        assert tick_size(store, "SPY") == Decimal("0.01")  # the float 0.01 by its shortest repr
        import_symbols(store, _frame(tick_size=Decimal("0.0001"), lot_size=np.int32(1)))
        assert tick_size(store, "ORCL") == Decimal("0.0001") and symbol_reference(store, "ORCL").lot_size == 1


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"tick_size": float("nan")}, "column tick_size: tick_size must be a finite number"),
        ({"tick_size": np.inf}, "column tick_size: tick_size must be a finite number"),
        ({"tick_size": 1e308}, "column tick_size: tick_size must be between"),
        ({"tick_size": 10**400}, "column tick_size: tick_size must be a finite number"),
        ({"tick_size": Decimal("NaN")}, "column tick_size: tick_size must be a finite number"),
        ({"tick_size": True}, "column tick_size: tick_size must be a number"),
        ({"tick_size": None}, "column tick_size: tick_size must be a number"),
        ({"lot_size": 100.0}, "column lot_size: lot_size must be a whole number"),
        ({"lot_size": True}, "column lot_size: lot_size must be a whole number"),
        ({"name": 42}, "column name: name must be text"),
        ({"currency": None}, "column currency: currency must be three upper-case letters"),
        ({"symbol": 7}, "column symbol: symbol 7 is not a valid symbol"),
    ],
)
def test_import_symbols_bad_frame_value_is_refused_naming_row_and_column(
    tmp_path: Path, changes: dict[str, object], match: str
) -> None:
    with EmbeddedStore(tmp_path / "home") as store:
        with pytest.raises(InvalidInputError, match=rf"frame: row 1 \(index 0\), {match}"):
            import_symbols(store, _frame(**changes))
        assert read_symbols(store).empty


def test_import_symbols_bad_arguments_are_refused(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "home") as store:
        with pytest.raises(InvalidInputError, match="a CSV file's path or a DataFrame"):
            import_symbols(store, [ROWS[0]])  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="replace must be True or False"):
            import_symbols(store, _frame(), replace="yes")  # type: ignore[arg-type]


def test_read_symbols_unknown_symbol_is_not_found_naming_it(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "home") as store:
        import_symbols(store, _frame())
        with pytest.raises(NotFoundError, match="no reference data for MSFT, AAPL"):
            read_symbols(store, ["ORCL", "MSFT", "AAPL"])
        with pytest.raises(NotFoundError, match="no reference data for MSFT"):
            tick_size(store, "MSFT")
        with pytest.raises(InvalidInputError, match="not a valid symbol"):
            read_symbols(store, ["ORCL", "BRK B"])
        assert list(read_symbols(store, "ORCL")["symbol"]) == ["ORCL"]


def test_v3_store_gains_the_reference_table_and_keeps_its_bars(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(ROOT / "tests" / "fixtures" / "stores" / "v3-embedded", home)
    with EmbeddedStore(home) as store:
        report = import_symbols(store, _write(tmp_path / "symbols.csv", ROWS))
        assert report.not_in_store == ("YHOO",)  # the v3 store holds ORCL and NVDA bars
        assert len(store.read_bars("ORCL")) == 42
        with store.transaction(read_only=True) as db:
            versions = [(str(p), int(v)) for p, v in db.rows("SELECT package, version FROM {t}bifrost_schema")]
    assert ("reference", 1) in versions
    with EmbeddedStore(home) as store:
        assert list(read_symbols(store)["symbol"]) == ["NVDA", "ORCL", "YHOO"]


def test_an_empty_name_sector_or_industry_keeps_the_stored_one_unless_the_file_replaces_the_table(
    store: BarStore, tmp_path: Path
) -> None:
    # found by QA: `AAPL,A,,HW,USD,1,0.01` over a stored sector reported "1 updated" and erased the sector
    import_symbols(store, _write(tmp_path / "a.csv", ROWS))
    blank = _write(tmp_path / "b.csv", ["ORCL,,,,USD,100,0.01"])
    report = import_symbols(store, blank)
    assert (report.updated, report.unchanged) == ((), ("ORCL",))
    kept = read_symbols(store, "ORCL").iloc[0]
    assert (kept["name"], kept["sector"], kept["industry"]) == ("Oracle Corp.", "Information Technology", "Software")
    moved = import_symbols(store, _write(tmp_path / "c.csv", ["ORCL,,,,USD,100,0.005"]))
    assert moved.updated == ("ORCL",) and read_symbols(store, "ORCL").iloc[0]["sector"] == "Information Technology"
    assert tick_size(store, "ORCL") == Decimal("0.005")
    import_symbols(store, blank, replace=True)  # the table becomes the file: its empty fields are empty
    cleared = read_symbols(store, "ORCL").iloc[0]
    assert cleared["sector"] is None and cleared["name"] is None and list(read_symbols(store)["symbol"]) == ["ORCL"]
