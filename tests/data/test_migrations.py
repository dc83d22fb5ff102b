"""The one migration runner: packages' schemas, upgrades in place from v3 stores, newer stores refused.

The v3 stores under tests/fixtures/stores were written by bifrost as released at 0cbe074
(tests/fixtures/stores/make_v3.py): an embedded store, and a pg_dump of the same store in
PostgreSQL, restored here into PostgreSQL and, as a hypertable, into TimescaleDB.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, Migration, Schema, StateDb, ingest, register_schema
from bifrost.data._postgres import PostgresStore
from bifrost.errors import InvalidInputError, NotFoundError, SchemaVersionError
from bifrost.portfolio import CashFlow, CashKind, list_portfolios, load_portfolio, record_transactions
from bifrost.portfolio._schema import PORTFOLIO_SCHEMA
from bifrost.risk import get_limits, read_alerts
from bifrost.risk._schema import RISK_SCHEMA
from tests.conftest import NVDA, ORCL, ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "stores"
V3_EMBEDDED = FIXTURES / "v3-embedded"
V3_POSTGRES = FIXTURES / "v3-postgres.sql"
UTC = "UTC"


# -- the v3 stores -------------------------------------------------------------------------
def _v3_dump(schema: str, *, timescale: bool) -> str:
    text = V3_POSTGRES.read_text(encoding="utf-8").replace("v3fixture", schema)
    if not timescale:
        return text
    # the same store as 0cbe074 wrote it on TimescaleDB: bars one table, a hypertable, no partitions
    text = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    statements = [s for s in text.split(";\n") if not re.search(r"bars_y\d{4}m\d{2}|ATTACH PARTITION", s)]
    text = ";\n".join(statements).replace("\n)\nPARTITION BY RANGE (ts)", "\n)")
    text = text.replace("'partitioned by month + BRIN'", "'timescaledb hypertable'")
    hypertable = (
        f"CREATE EXTENSION IF NOT EXISTS timescaledb;\nCREATE SCHEMA {schema};\n"
        f'CREATE TABLE {schema}.bars (symbol text COLLATE "C" NOT NULL, ts timestamptz NOT NULL, '
        "open float8 NOT NULL, high float8 NOT NULL, low float8 NOT NULL, close float8 NOT NULL, "
        "volume float8 NOT NULL, adj_close float8, PRIMARY KEY (symbol, ts));\n"
        f"SELECT create_hypertable('{schema}.bars', 'ts', chunk_time_interval => interval '365 days');\n"
    )
    text = re.sub(rf"CREATE SCHEMA {schema};\n", "", text)
    text = re.sub(rf"CREATE TABLE {schema}\.bars \(.*?\n\);\n", "", text, flags=re.S)
    text = re.sub(rf"ALTER TABLE ONLY {schema}\.bars\s+ADD CONSTRAINT bars_pkey.*?;\n", "", text, flags=re.S)
    text = re.sub(rf"CREATE INDEX \w+ ON ONLY {schema}\.bars USING brin.*?;\n", "", text)
    return hypertable + text


def _restore(url: str, schema: str, *, timescale: bool) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(_v3_dump(schema, timescale=timescale).encode())  # type: ignore[call-overload]
        con.execute("SELECT pg_catalog.set_config('search_path', 'public', false)")


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("timescale", marks=pytest.mark.timescale)])  # fmt: skip
def v3_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """How to open a copy of the v3 store on each backend: (backend, opener)."""
    if request.param == "embedded":
        home = tmp_path / "home"
        shutil.copytree(V3_EMBEDDED, home)
        yield "embedded", lambda: EmbeddedStore(home)
        return
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        schema = request.getfixturevalue("pg_schema")
        _restore(url, schema, timescale=False)
        yield "postgres", lambda: PostgresStore(url, home=tmp_path, schema=schema, timescale=False)
        return
    url = request.getfixturevalue("timescale_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _restore(url, schema, timescale=True)
    try:
        yield "timescale", lambda: PostgresStore(url, home=tmp_path, schema=schema, pool_size=1)
    finally:
        _drop(url, schema)


def _drop(url: str, schema: str) -> None:
    # PGlite serves one session: the closed store's connection may still be going away
    for attempt in range(20):
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as con:
                con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            return
        except psycopg.OperationalError:
            if attempt == 19:
                raise
            time.sleep(0.25)


# the packages whose tables a v1..v3 store could hold; a package born later (jobs, scheduler) has
# its tables created when a store opens after it was imported, which depends on what the test
# session imported before: the upgrade story is told for these
_UPGRADED = frozenset({"data", "portfolio", "reference", "risk"})


def _versions(store: BarStore, packages: frozenset[str] | None = _UPGRADED) -> list[tuple[str, int, str]]:
    with store.transaction(read_only=True) as db:
        rows = db.rows("SELECT package, version, applied FROM {t}bifrost_schema ORDER BY package, version")
    return [(str(p), int(v), str(a)) for p, v, a in rows if packages is None or p in packages]


def _legacy(store: BarStore) -> list[int]:
    with store.transaction(read_only=True) as db:
        return [int(r[0]) for r in db.rows("SELECT version FROM {t}schema_version ORDER BY version")]


def _expected_bars(tmp_path: Path) -> pd.DataFrame:
    # what today's code reads from the same real files
    with EmbeddedStore(tmp_path / "fresh") as fresh:
        for path, symbol in ((ORCL, "ORCL"), (NVDA, "NVDA")):
            ingest(fresh, CsvSource(path, symbol=symbol), start="1999-02-01", end="1999-04-01")
        return fresh.read_bars(None, fields=["open", "high", "low", "close", "volume", "adj_close"])


def test_v3_store_upgrades_in_place_and_reads_back_identically(v3_store: tuple[str, object], tmp_path: Path) -> None:
    backend, opener = v3_store
    store: BarStore = opener()  # type: ignore[operator]
    try:
        modes = {"postgres": "partitioned by month + BRIN", "timescale": "timescaledb hypertable"}
        assert store.describe()["mode"] == modes.get(backend, "parquet segments + sqlite (WAL)")
        # the bars, as the old code wrote them, read back as a fresh ingest reads them
        bars = store.read_bars(None, fields=["open", "high", "low", "close", "volume", "adj_close"])
        pd.testing.assert_frame_equal(bars, _expected_bars(tmp_path), check_exact=True)
        listing = store.list_symbols()
        assert list(listing["symbol"]) == ["NVDA", "ORCL"] and list(listing["rows"]) == [42, 42]
        assert list(listing["frequency"]) == ["1d", "1d"]  # v3 bars upgrade as daily
        # the packages imported so far (portfolio, risk) are migrated as the store opens:
        # their v3 tables adopted at version 1, the bars' frequency added as data 2, and the
        # data package's symbol reference table (born after v3) created as reference 1
        assert [(p, v) for p, v, _ in _versions(store)] == [
            ("data", 1),
            ("data", 2),
            ("portfolio", 1),
            ("reference", 1),
            ("risk", 1),
            ("risk", 2),
        ]
        ledger = load_portfolio(store, "core")
        assert [t.txn_id for t in ledger.transactions] == ["d1", "f1", "f2", "v1", "f3"]
        assert {p.symbol: p.quantity for p in ledger.positions()} == {"NVDA": 1000, "ORCL": 200}
        assert ledger.position("ORCL").dividends == Decimal("15.00")  # 300 shares on 1999-03-10
        assert [x.name for x in get_limits(store, "core")] == ["gross", "var99"]
        alerts = read_alerts(store, "core")
        assert list(alerts["severity"]) == ["warning"] and alerts["value"].iloc[0] == pytest.approx(0.00328863849529902)
        assert alerts["ts"].iloc[0] == pd.Timestamp("1999-04-01T12:00:00", tz=UTC)
        assert [(p, v) for p, v, _ in _versions(store)] == [
            ("data", 1),
            ("data", 2),
            ("portfolio", 1),
            ("reference", 1),
            ("risk", 1),
            ("risk", 2),
        ]
        assert _legacy(store) == [1, 2, 3, 4]  # the mark an older bifrost refuses
        # writing works: a transaction, more bars
        deposit = CashFlow(txn_id="d2", ts=pd.Timestamp("1999-04-01", tz=UTC), kind=CashKind.DEPOSIT, amount=Decimal(5))
        record_transactions(store, "core", [deposit])
        report = ingest(store, CsvSource(ORCL, symbol="ORCL"), start="1999-04-01", end="1999-04-10")
        assert report.rows_new == 6
        versions = _versions(store)
    finally:
        store.close()
    store = opener()  # type: ignore[operator]
    try:  # reopening is a no-op: nothing applied or recorded again
        assert _versions(store) == versions and _legacy(store) == [1, 2, 3, 4]
        assert list(list_portfolios(store)["transactions"]) == [6]
        assert _versions(store) == versions
        assert len(store.read_bars("ORCL")) == 48
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_version_1_schema_is_upgraded_when_its_packages_are_used(
    pg_url: str, pg_schema: str, tmp_path: Path
) -> None:
    _restore(pg_url, pg_schema, timescale=False)
    with psycopg.connect(pg_url, autocommit=True) as con:  # cut back to what bifrost wrote before portfolios
        con.execute(f'DROP TABLE "{pg_schema}".risk_alerts, "{pg_schema}".risk_limits')
        con.execute(f'DROP TABLE "{pg_schema}".transactions, "{pg_schema}".portfolios')
        con.execute(f'DELETE FROM "{pg_schema}".schema_version WHERE version >= 2')
    store = PostgresStore(pg_url, home=tmp_path, schema=pg_schema)
    try:
        assert len(store.read_bars("ORCL")) == 42 and store.describe()["mode"] == "partitioned by month + BRIN"
        assert list_portfolios(store).empty and read_alerts(store).empty
        assert [(p, v) for p, v, _ in _versions(store)] == [
            ("data", 1),
            ("data", 2),
            ("portfolio", 1),
            ("reference", 1),
            ("risk", 1),
            ("risk", 2),
        ]
        assert _legacy(store) == [1, 4]
    finally:
        store.close()


# -- the runner, on every backend ------------------------------------------------------------
WIDGETS = Schema(
    "widgets",
    (
        Migration(1, "CREATE TABLE {t}widgets (id {id}, name TEXT NOT NULL, made {timestamp} NOT NULL DEFAULT {now})"),
        Migration(2, "ALTER TABLE {t}widgets ADD COLUMN weight {float}"),
    ),
    requires=(PORTFOLIO_SCHEMA,),
)


def test_schema_new_package_adds_its_tables_without_touching_data(store: BarStore) -> None:
    with store.transaction(schema=WIDGETS, lock="widgets") as db:
        db.run("INSERT INTO {t}widgets (name, weight) VALUES (?, ?)", ("gear", 1.5))
    with store.transaction(schema=WIDGETS, read_only=True) as db:
        rows = db.rows("SELECT id, name, weight FROM {t}widgets")
        made = db.rows("SELECT made FROM {t}widgets")[0][0]
    assert rows == [(1, "gear", 1.5)] and made  # the dialect's auto-increment id and "now" default
    packages = [(p, v) for p, v, _ in _versions(store, None)]
    assert [x for x in packages if x[0] == "widgets"] == [("widgets", 1), ("widgets", 2)] and (
        "portfolio",
        1,
    ) in packages


def test_schema_hook_write_commits_or_rolls_back_with_the_transaction(store: BarStore) -> None:
    seen: list[str | None] = []

    def audit(db: StateDb) -> None:
        seen.append(db.lock)
        db.run("INSERT INTO {t}widgets (name) VALUES (?)", (f"audit {db.lock}",))

    store.add_transaction_hook(audit, schema=WIDGETS)
    with store.transaction(schema=PORTFOLIO_SCHEMA, lock="portfolio:a") as db:
        db.run("INSERT INTO {t}portfolios (name, inception, cost_basis, long_only, base_currency) "
               "VALUES ('a', '2014-01-02T00:00:00+00:00', 'fifo', ?, 'USD')", (False,))  # fmt: skip
        db.before_commit(lambda d: d.run("INSERT INTO {t}widgets (name) VALUES ('own hook')"))
    with pytest.raises(RuntimeError, match="refused by a hook"):
        _create_b_refused_by_its_hook(store)
    with store.transaction(schema=WIDGETS, read_only=True) as db:
        names = [r[0] for r in db.rows("SELECT name FROM {t}widgets ORDER BY id")]
        portfolios = [r[0] for r in db.rows("SELECT name FROM {t}portfolios ORDER BY name")]
    assert seen == ["portfolio:a", "portfolio:b"]  # read-only transactions run no hooks
    assert names == ["audit portfolio:a", "own hook"]  # b's hook write rolled back with b
    assert portfolios == ["a"]
    with pytest.raises(InvalidInputError, match="read-only"):  # noqa: SIM117
        with store.transaction(read_only=True) as db:
            db.before_commit(lambda d: None)


def _create_b_refused_by_its_hook(store: BarStore) -> None:
    def refuse(db: StateDb) -> None:
        raise RuntimeError("refused by a hook")

    with store.transaction(schema=PORTFOLIO_SCHEMA, lock="portfolio:b") as db:
        db.run("INSERT INTO {t}portfolios (name, inception, cost_basis, long_only, base_currency) "
               "VALUES ('b', '2014-01-02T00:00:00+00:00', 'fifo', ?, 'USD')", (False,))  # fmt: skip
        db.before_commit(refuse)


def test_schema_part_is_made_once_per_store_object(store: BarStore) -> None:
    made: list[object] = []

    class Widgets:
        def __init__(self, owner: object) -> None:
            made.append(owner)

    first = store.part(Widgets)
    assert store.part(Widgets) is first and made == [store] and store.bars is store


def test_schema_package_newer_than_this_bifrost_is_refused(store: BarStore) -> None:
    with store.transaction(schema=RISK_SCHEMA, read_only=True) as db:
        db.rows("SELECT count(*) FROM {t}risk_alerts")
    with store.transaction(lock="schema:risk") as db:
        db.run("INSERT INTO {t}bifrost_schema (package, version) VALUES ('risk', 7)")
    store._schemas_applied.discard("risk")  # as a new store object sees it (PGlite: one session, no second)
    newer = r"risk tables are at schema version 7, written by a newer bifrost \(this one knows up to 2\); upgrade"
    with pytest.raises(SchemaVersionError, match=newer):
        get_limits(store, "any")


def test_schema_declarations_are_checked_once_where_written() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown token\(s\) \['\{serial\}'\]"):
        Migration(1, "CREATE TABLE {t}x (id {serial})")
    with pytest.raises(InvalidInputError, match=r"numbered 1, 2, \.\.\., got \[2\]"):
        Schema("x", (Migration(2, "CREATE TABLE {t}x (a TEXT)"),))
    with pytest.raises(InvalidInputError, match="lower-case identifier"):
        Schema("X Y", ())


def test_missing_portfolio_is_not_found_naming_those_stored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(V3_EMBEDDED, home)
    missing = r"no portfolio 'NOSUCH' in the store \(portfolios: core\)"
    with EmbeddedStore(home) as store, pytest.raises(NotFoundError, match=missing):
        load_portfolio(store, "NOSUCH")


def test_schema_registered_twice_differently_is_refused() -> None:
    assert register_schema(PORTFOLIO_SCHEMA) is PORTFOLIO_SCHEMA  # the same declaration again: a no-op
    other = Schema("portfolio", (Migration(1, "CREATE TABLE {t}portfolios (name TEXT)"),))
    with pytest.raises(InvalidInputError, match="'portfolio' is already declared, with other migrations"):
        register_schema(other)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"schema": "portfolio"}, "schema must be a bifrost.data.Schema"),  # found by QA: an AttributeError
        ({"lock": 7}, "lock must be the name of a lock"),
        ({"read_only": "yes"}, "read_only must be True or False"),
    ],
)
def test_transaction_bad_option_is_named_before_anything_opens(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with EmbeddedStore(tmp_path / "home") as store:
        with pytest.raises(InvalidInputError, match=message), store.transaction(**options):  # type: ignore[arg-type]
            pass
        with pytest.raises(InvalidInputError, match="a transaction hook is a function"):
            store.add_transaction_hook("audit")  # type: ignore[arg-type]
