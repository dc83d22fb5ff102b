"""Embedded store only: crash safety, concurrent readers, schema versions."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import SchemaVersionError
from bifrost.portfolio import list_portfolios
from bifrost.risk import read_alerts
from tests.conftest import ORCL, ROOT

WRITER = """
import sys
from bifrost.data import EmbeddedStore, SyntheticMarket, ingest
store = EmbeddedStore(sys.argv[1])
print("ready", flush=True)
for seed in range(1000):
    ingest(store, SyntheticMarket(n_symbols=200, n_days=2500, seed=seed))
"""


def _start_writer(home: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(home)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture
def orcl_home(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """An embedded store holding ORCL, and ORCL's bars as read back."""
    home = tmp_path / "home"
    with EmbeddedStore(home) as store:
        ingest(store, CsvSource(ORCL, symbol="ORCL"))
        return home, store.read_bars("ORCL")


@pytest.mark.parametrize("moment", ["segment being written", "just after the segment was renamed"])
def test_embedded_sigkill_during_ingest_leaves_previous_data_intact(
    orcl_home: tuple[Path, pd.DataFrame], moment: str
) -> None:
    home, before = orcl_home
    proc = _start_writer(home)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tmp = list((home / "bars").glob(".seg-*.tmp"))
            segments = list((home / "bars").glob("seg-*.parquet"))
            if (moment == "segment being written" and tmp) or (moment != "segment being written" and len(segments) > 1):
                break
            time.sleep(0.001)
        else:
            pytest.fail(f"the writer never reached the moment: {moment}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with EmbeddedStore(home) as store:
        pd.testing.assert_frame_equal(store.read_bars("ORCL"), before)
        listing = store.list_symbols()
        # every listed symbol is fully readable: no half-written ingest is visible
        for sym, rows in zip(listing["symbol"], listing["rows"], strict=True):
            assert len(store.read_bars(sym)) == rows
        # and the next writer cleans up and works
        report = ingest(store, CsvSource(ORCL, symbol="ORCL"))
        assert report.rows_unchanged == 5036
    assert not list((home / "bars").glob(".seg-*.tmp"))


def test_embedded_readers_see_consistent_data_while_a_writer_works(orcl_home: tuple[Path, pd.DataFrame]) -> None:
    home, expected = orcl_home
    proc = _start_writer(home)
    try:
        with EmbeddedStore(home) as reader:
            for _ in range(30):
                pd.testing.assert_frame_equal(reader.read_bars("ORCL"), expected)
                reader.read_panel(fields=["close"])  # all symbols, mid-ingest
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_embedded_store_written_by_newer_bifrost_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    EmbeddedStore(home).close()
    con = sqlite3.connect(home / "state.sqlite")
    con.execute("INSERT INTO schema_version VALUES (5, 'future')")  # 4 marks per-package versions
    con.commit()
    con.close()
    with pytest.raises(SchemaVersionError, match="schema version 5 was written by a newer bifrost"):
        EmbeddedStore(home)


def test_embedded_opening_twice_applies_migrations_once(tmp_path: Path) -> None:
    EmbeddedStore(tmp_path).close()
    with EmbeddedStore(tmp_path) as store:
        versions = store.connection.execute("SELECT package, version FROM bifrost_schema").fetchall()
        legacy = store.connection.execute("SELECT version FROM schema_version").fetchall()
    assert [v for v in versions if v[0] == "data"] == [("data", 1), ("data", 2)] and legacy == [(4,)]
    assert len(versions) == len(set(versions))  # each package's versions once (portfolio, risk: imported here)


def _v3_copy(tmp_path: Path, script: str) -> Path:
    # the real v3 store (tests/fixtures/stores), cut back to what an older bifrost wrote
    home = tmp_path / "home"
    shutil.copytree(ROOT / "tests" / "fixtures" / "stores" / "v3-embedded", home)
    con = sqlite3.connect(home / "state.sqlite")
    con.executescript(script)
    con.close()
    return home


def test_embedded_version_2_store_keeps_its_portfolios_and_gains_risk_tables(tmp_path: Path) -> None:
    home = _v3_copy(
        tmp_path, "DROP TABLE risk_alerts; DROP TABLE risk_limits; DELETE FROM schema_version WHERE version = 3;"
    )
    with EmbeddedStore(home) as store:
        assert list(list_portfolios(store)["name"]) == ["core"]
        assert read_alerts(store).empty
        versions = store.connection.execute(
            "SELECT package, version FROM bifrost_schema WHERE package IN ('data', 'portfolio', 'reference', 'risk') "
            "ORDER BY package"
        ).fetchall()  # the packages a version 2 store could hold (jobs' tables appear once bifrost.jobs is imported)
    assert versions == [("data", 1), ("data", 2), ("portfolio", 1), ("reference", 1), ("risk", 1), ("risk", 2)]


def test_embedded_version_1_store_is_upgraded_on_open(tmp_path: Path) -> None:
    # a store written before the portfolio tables existed: bars kept, tables added when used
    home = _v3_copy(
        tmp_path,
        "DROP TABLE risk_alerts; DROP TABLE risk_limits; DROP TABLE transactions; DROP TABLE portfolios; "
        "DELETE FROM schema_version WHERE version >= 2;",
    )
    with EmbeddedStore(home) as store:
        assert len(store.read_bars("ORCL")) == 42 and list(store.list_symbols()["frequency"]) == ["1d", "1d"]
        assert list_portfolios(store).empty and read_alerts(store).empty
        tables = {r[0] for r in store.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"portfolios", "transactions", "risk_limits", "risk_alerts"} <= tables
