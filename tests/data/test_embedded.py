"""Embedded store only: crash safety, concurrent readers, schema versions."""

from __future__ import annotations

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
    con.execute("INSERT INTO schema_version VALUES (99, 'future')")
    con.commit()
    con.close()
    with pytest.raises(SchemaVersionError, match="schema version 99 was written by a newer bifrost"):
        EmbeddedStore(home)


def test_embedded_opening_twice_applies_migrations_once(tmp_path: Path) -> None:
    EmbeddedStore(tmp_path).close()
    with EmbeddedStore(tmp_path) as store:
        versions = store.connection.execute("SELECT version FROM schema_version").fetchall()
    assert versions == [(1,), (2,), (3,)]


def test_embedded_version_2_store_keeps_its_portfolios_and_gains_risk_tables(tmp_path: Path) -> None:
    from bifrost.portfolio import create_portfolio, list_portfolios

    with EmbeddedStore(tmp_path) as store:
        create_portfolio(store, "kept", inception="2014-01-02")
    con = sqlite3.connect(tmp_path / "state.sqlite")
    con.executescript("DROP TABLE risk_alerts; DROP TABLE risk_limits; DELETE FROM schema_version WHERE version = 3;")
    con.close()
    with EmbeddedStore(tmp_path) as store:
        versions = store.connection.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert versions == [(1,), (2,), (3,)]
        assert list(list_portfolios(store)["name"]) == ["kept"]
        assert store.connection.execute("SELECT count(*) FROM risk_alerts").fetchone() == (0,)


def test_embedded_version_1_store_is_upgraded_on_open(tmp_path: Path) -> None:
    # a store written before the portfolio tables existed: bars kept, tables added
    with EmbeddedStore(tmp_path) as store:
        ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
    con = sqlite3.connect(tmp_path / "state.sqlite")
    con.executescript(
        "DROP TABLE risk_alerts; DROP TABLE risk_limits; DROP TABLE transactions; DROP TABLE portfolios; "
        "DELETE FROM schema_version WHERE version >= 2;"
    )
    con.close()
    with EmbeddedStore(tmp_path) as store:
        tables = {r[0] for r in store.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"portfolios", "transactions", "risk_limits", "risk_alerts"} <= tables
        assert len(store.read_bars("ORCL")) == 21
