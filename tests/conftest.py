"""Shared fixtures: the real data, PostgreSQL (never skipped), one store per backend."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, load_bars
from bifrost.data._postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ORCL = DATA / "backtrader" / "orcl-1995-2014.txt"
NVDA = DATA / "backtrader" / "nvda-1999-2014.txt"
YHOO = DATA / "backtrader" / "yhoo-1996-2014.txt"
BT_DAY = DATA / "backtrader" / "2006-day-001.txt"
SP500 = DATA / "sp500_5yr" / "all_stocks_5yr.csv.gz"
SPY = DATA / "sp500_5yr" / "daily_adjusted_SPY.csv"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def sp500_closes() -> pd.DataFrame:
    """The 505 stocks' daily closes in all_stocks_5yr (repaired), one column per symbol: read once a run.

    Shared by every test that takes it: derive new frames from it (``pct_change``...), never modify it.
    """
    return load_bars(CsvSource(SP500), on_error="repair").bars["close"].unstack("symbol")


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as con:
            con.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _throwaway_server() -> tuple[str, subprocess.Popen[bytes], Path]:
    # Start a private server from the PostgreSQL binaries (initdb refuses root: run as postgres).
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    if not candidates:
        pytest.fail("no PostgreSQL server at 127.0.0.1:5432 and no PostgreSQL binaries to start one")
    bindir = candidates[0].parent
    datadir = Path(tempfile.mkdtemp(prefix="bifrost-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(datadir)],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            *as_user,
            str(bindir / "postgres"),
            "-D",
            str(datadir),
            "-p",
            str(port),
            "-k",
            str(datadir),
            "-c",
            "listen_addresses=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    for _ in range(100):
        if _reachable(url):
            with psycopg.connect(url, autocommit=True) as con:
                con.execute("CREATE DATABASE test")
            return url.rsplit("/", 1)[0] + "/test", proc, datadir
        time.sleep(0.2)
    proc.kill()
    pytest.fail("started a throwaway PostgreSQL server but could not connect to it")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A reachable PostgreSQL database: the machine's server, else a throwaway one."""
    url = os.environ.get("BIFROST_TEST_DATABASE_URL", DEFAULT_PG)
    if _reachable(url):
        yield url
        return
    url, proc, datadir = _throwaway_server()
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh schema name, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


TIMESCALE_DIR = ROOT / "tests" / "timescale"


@pytest.fixture(scope="session")
def timescale_url() -> Iterator[str]:
    """PostgreSQL 17 + TimescaleDB (PGlite over the wire protocol, tests/timescale/server.mjs)."""
    if not (TIMESCALE_DIR / "node_modules" / "@electric-sql" / "pglite").exists():
        pytest.fail("the TimescaleDB test server is not installed: run `make timescale-deps`")
    proc = subprocess.Popen(
        ["node", "server.mjs", "0"], cwd=TIMESCALE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        if not line.startswith("listening "):
            pytest.fail(f"the TimescaleDB test server did not start: {line!r}")
        # PGlite: one session for every client, no TLS, any password
        yield f"postgresql://postgres:bifrost@127.0.0.1:{int(line.split()[1])}/postgres?sslmode=disable"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


# For a test of the tables beside the bars (job history, portfolio names and limits...): a TimescaleDB
# store differs from a PostgreSQL one only in its bars table, so the embedded store and PostgreSQL are
# its two backends (the timescale parameter of `store` ran the same SQL again, on PGlite).
embedded_and_postgres = pytest.mark.parametrize(
    "store", ["embedded", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def on_backends(cases: Iterable[Any], *, everywhere: Collection[Any]) -> list[Any]:
    """Parameters ``(*case, store)`` for a rule the library checks before it reads or writes the store.

    Every case runs on the embedded store; the cases in ``everywhere`` run on PostgreSQL and
    TimescaleDB as well (with their marks), to show that a store of each backend is left as the
    rule says. Use with ``@pytest.mark.parametrize((..., "store"), ..., indirect=["store"])``.
    """
    listed = list(cases)
    missing = [case for case in everywhere if case not in listed]
    assert not missing, f"not among the cases: {missing}"
    params = []
    for case in listed:
        values = case if isinstance(case, tuple) else (case,)
        params.append(pytest.param(*values, "embedded"))
        if case in everywhere:
            params.append(pytest.param(*values, "postgres", marks=pytest.mark.postgres))
            params.append(pytest.param(*values, "timescale", marks=pytest.mark.timescale))
    return params


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("timescale", marks=pytest.mark.timescale),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BarStore]:
    """An empty store of each backend: embedded, PostgreSQL (partitioned), TimescaleDB."""
    s: BarStore
    if request.param == "embedded":
        s = EmbeddedStore(tmp_path / "home")
    elif request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        schema = request.getfixturevalue("pg_schema")
        s = PostgresStore(url, home=tmp_path / "home", schema=schema, timescale=False)
    else:
        url = request.getfixturevalue("timescale_url")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        s = PostgresStore(url, home=tmp_path / "home", schema=schema, pool_size=1, timescale=True)
        assert s.mode == "timescaledb hypertable"
    try:
        yield s
    finally:
        if isinstance(s, PostgresStore) and request.param == "timescale":
            with s.pool.connection() as con:
                con.execute(f'DROP SCHEMA IF EXISTS "{s.schema}" CASCADE')
        s.close()
