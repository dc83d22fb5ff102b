"""Faults around the store: full disks, stopped and slow writers, damage, unreachable servers.

Every fault ends as one `StoreError` that says what happened and where, and the store
is unchanged. Writers here are real processes (stopped with SIGSTOP, killed with
SIGKILL); a full disk is a real 3 MB tmpfs where the kernel allows one (root, or an
unprivileged user namespace), and a real per-process file-size limit everywhere.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from bifrost.config import Settings
from bifrost.data import CsvSource, EmbeddedStore, StoreCheck, ingest, open_store
from bifrost.data._postgres import PostgresStore
from bifrost.errors import StoreError
from bifrost.portfolio import (
    CashFlow,
    CashKind,
    create_portfolio,
    list_portfolios,
    load_portfolio,
    record_transactions,
)
from bifrost.portfolio._schema import PORTFOLIO_SCHEMA
from bifrost.risk import get_limits, read_alerts
from tests.conftest import ORCL, ROOT

T0 = pd.Timestamp("2014-01-02", tz="UTC")


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    # a real bifrost process, reporting on stdout when it reached the moment under test
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], word: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == word, f"the helper process said {line!r}, not {word!r}"


def _end(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)  # works on a stopped process too
    proc.wait(timeout=30)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


@pytest.fixture
def orcl_home(tmp_path: Path) -> Iterator[tuple[Path, pd.DataFrame]]:
    home = tmp_path / "home"
    with EmbeddedStore(home) as store:
        ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1996-01-01")
        yield home, store.read_bars("ORCL")


# -- item 12: reads never wait for a writer --------------------------------------------
STATE_WRITER = """
import sys
from bifrost.data import EmbeddedStore
from bifrost.portfolio._schema import PORTFOLIO_SCHEMA
store = EmbeddedStore(sys.argv[1])
with store.transaction(schema=PORTFOLIO_SCHEMA, lock="portfolio:busy") as db:   # an import in progress
    db.run("INSERT INTO portfolios (name, inception, cost_basis, long_only, base_currency) "
           "VALUES ('busy', '2014-01-02T00:00:00+00:00', 'fifo', 0, 'USD')")
    print("writing", flush=True)
    sys.stdin.readline()
"""


def test_state_reads_do_not_wait_for_a_running_writer(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with EmbeddedStore(home) as store:
        create_portfolio(store, "kept", inception="2014-01-02")
    writer = _python(STATE_WRITER, str(home))
    try:
        _wait_for(writer, "writing")
        with EmbeddedStore(home, lock_timeout_s=30) as store:
            started = time.monotonic()
            assert list(list_portfolios(store)["name"]) == ["kept"]  # the writer's row is not committed
            assert load_portfolio(store, "kept").name == "kept"
            assert len(get_limits(store, "kept")) > 0
            assert read_alerts(store).empty
            assert time.monotonic() - started < 5  # before: 30 s behind the writer, then "database is locked"
    finally:
        _end(writer)


def test_state_write_behind_a_held_writer_gives_up_naming_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    home = tmp_path / "home"
    EmbeddedStore(home).close()
    writer = _python(STATE_WRITER, str(home))
    try:
        _wait_for(writer, "writing")
        with EmbeddedStore(home, lock_timeout_s=2) as store, caplog.at_level(logging.WARNING, "bifrost"):
            started = time.monotonic()
            with pytest.raises(StoreError, match=r"state\.sqlite is locked by another writer") as info:
                create_portfolio(store, "second", inception="2014-01-02")
            assert 1.5 < time.monotonic() - started < 10
            if sys.platform == "linux":  # /proc/locks names the holder
                assert f"held by pid {writer.pid} " in str(info.value)
            assert "BIFROST_LOCK_TIMEOUT" in str(info.value)
            assert any("waiting for another writer" in r.getMessage() for r in caplog.records)
            writer.stdin.write("\n")  # type: ignore[union-attr]  # the import finishes
            writer.stdin.flush()  # type: ignore[union-attr]
            writer.wait(timeout=30)
            create_portfolio(store, "second", inception="2014-01-02")
            assert list(list_portfolios(store)["name"]) == ["busy", "second"]
    finally:
        _end(writer)


def test_state_read_only_transaction_refuses_a_write(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "home") as store:
        with pytest.raises(StoreError, match="reading it failed: attempt to write a readonly database"):  # noqa: SIM117
            with store.transaction(schema=PORTFOLIO_SCHEMA, read_only=True) as db:
                db.run("DELETE FROM portfolios")
        create_portfolio(store, "after", inception="2014-01-02")  # the connection is writable again
        assert list(list_portfolios(store)["name"]) == ["after"]


def test_state_transactions_from_threads_share_one_store_safely(tmp_path: Path) -> None:
    # a service answers requests from threads on one store object (one SQLite connection)
    errors: list[BaseException] = []
    with EmbeddedStore(tmp_path / "home") as store:
        create_portfolio(store, "p", inception="2014-01-02")

        def work(i: int) -> None:
            try:
                for _ in range(20):
                    load_portfolio(store, "p")
                    with store.transaction(schema=PORTFOLIO_SCHEMA, lock="x") as db:
                        db.rows("SELECT count(*) FROM portfolios")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


@pytest.mark.postgres
def test_postgres_state_reads_do_not_wait_and_writes_give_up_naming_the_holder(pg_url: str, pg_schema: str) -> None:
    store = PostgresStore(pg_url, schema=pg_schema, timescale=False, lock_timeout_s=2)
    try:
        create_portfolio(store, "kept", inception="2014-01-02")
        holder = psycopg.connect(pg_url, application_name="held-by-test")
        try:
            key = zlib.crc32(f"{pg_schema}:portfolio:kept".encode()) - (1 << 31)
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (key,))  # an import of "kept" in progress
            started = time.monotonic()
            assert load_portfolio(store, "kept").name == "kept"
            assert time.monotonic() - started < 2
            deposit = CashFlow(txn_id="d1", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(1))
            held = r"locked by another portfolio:kept writer \(held by PostgreSQL backend pid \d+ \(held-by-test, "
            with pytest.raises(StoreError, match=held):
                record_transactions(store, "kept", [deposit])
            assert 1.5 < time.monotonic() - started < 10
        finally:
            holder.close()
        assert load_portfolio(store, "kept").transactions == ()
    finally:
        store.close()


# -- item 13: a stopped writer ---------------------------------------------------------
BAR_WRITER = """
import sys
from bifrost.data import EmbeddedStore, SyntheticMarket, ingest
store = EmbeddedStore(sys.argv[1])
print("ready", flush=True)
for seed in range(1000):
    ingest(store, SyntheticMarket(n_symbols=100, n_days=2500, seed=seed))
"""


def _stop_while_holding_the_lock(proc: subprocess.Popen[str], lock: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().startswith(f"{proc.pid} "):
            proc.send_signal(signal.SIGSTOP)
            time.sleep(0.05)
            if lock.read_text().startswith(f"{proc.pid} "):
                return  # stopped inside the lock: it names itself in the lock file
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    pytest.fail("the writer never held the lock")


def test_embedded_writer_stopped_holding_the_lock_makes_the_next_one_give_up_naming_it(
    orcl_home: tuple[Path, pd.DataFrame], caplog: pytest.LogCaptureFixture
) -> None:
    home, before = orcl_home
    writer = _python(BAR_WRITER, str(home))
    try:
        _wait_for(writer, "ready")
        _stop_while_holding_the_lock(writer, home / "bars" / ".writer.lock")
        with EmbeddedStore(home, lock_timeout_s=2) as store, caplog.at_level(logging.WARNING, "bifrost"):
            pd.testing.assert_frame_equal(store.read_bars("ORCL"), before)  # readers do not wait
            started = time.monotonic()
            with pytest.raises(StoreError, match="is locked by another writer") as info:
                ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
            assert 1.5 < time.monotonic() - started < 10
            message = str(info.value)
            assert f"held by pid {writer.pid} " in message and "which is stopped (SIGSTOP)" in message
            assert "BIFROST_LOCK_TIMEOUT" in message
            warnings = [r.getMessage() for r in caplog.records if "waiting for another writer" in r.getMessage()]
            assert warnings and f"pid {writer.pid}" in warnings[0]
            _end(writer)  # the kernel frees a dead holder's lock: the next writer goes on at once
            report = ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1996-01-01")
            assert report.rows_unchanged == len(before)
            pd.testing.assert_frame_equal(store.read_bars("ORCL"), before)
    finally:
        _end(writer)


def test_embedded_lock_timeout_comes_from_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", lock_timeout_s=3.5)
    with open_store(settings) as store:
        assert isinstance(store, EmbeddedStore) and store.lock_timeout_s == 3.5


# -- item 14: damage, orphans, read-only opens -----------------------------------------
def test_embedded_missing_segment_is_reported_as_damage_naming_the_file(
    orcl_home: tuple[Path, pd.DataFrame],
) -> None:
    home, _ = orcl_home
    segment = next((home / "bars").glob("seg-*.parquet"))
    segment.unlink()
    with EmbeddedStore(home) as store:
        damaged = rf"is damaged: segment file .*{segment.name}, which holds the bars of ORCL"
        with pytest.raises(StoreError, match=damaged):
            store.read_bars("ORCL")
        check = store.verify()
        assert not check.ok and check.problems == (f"{segment}: missing; it holds ORCL",)
        assert "DAMAGED" in str(check)
        with pytest.raises(StoreError, match="is damaged"):  # a re-ingest cannot merge into lost bars
            ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
        repaired = store.verify(repair=True)
        assert repaired.repaired == ("ORCL",)
        assert store.verify().ok and store.list_symbols().empty
        report = ingest(store, CsvSource(ORCL, symbol="ORCL"), end="1995-02-01")
        assert report.rows_new == 21


def test_embedded_verify_finds_a_segment_that_disagrees_with_the_manifest(
    orcl_home: tuple[Path, pd.DataFrame],
) -> None:
    home, before = orcl_home
    with EmbeddedStore(home) as store:
        check = store.verify()
        assert check.ok and (check.symbols, check.rows, check.segments) == (1, len(before), 1)
        assert str(check).endswith(": ok")
        with store.transaction() as db:  # a manifest that lies about ORCL's rows
            db.run("UPDATE bar_symbols SET rows = rows + 5 WHERE symbol = 'ORCL'")
        problems = store.verify().problems
    assert len(problems) == 1 and "ORCL rows 0.." in problems[0] and "outside the file's" in problems[0]


def test_embedded_truncated_segment_is_reported_as_damage(orcl_home: tuple[Path, pd.DataFrame]) -> None:
    home, _ = orcl_home
    segment = next((home / "bars").glob("seg-*.parquet"))
    segment.write_bytes(segment.read_bytes()[:1000])  # a disk that lost the file's tail
    with EmbeddedStore(home) as store:
        with pytest.raises(StoreError, match=rf"is damaged: segment file .*{segment.name}, .* is unreadable \("):
            store.read_panel(["ORCL"])
        problems = store.verify().problems
    assert len(problems) == 1 and problems[0].startswith(f"{segment}: unreadable (")


def test_embedded_lying_manifest_is_damage_not_a_crash(orcl_home: tuple[Path, pd.DataFrame]) -> None:
    home, before = orcl_home
    with EmbeddedStore(home) as store:
        with store.transaction() as db:
            db.run("UPDATE bar_symbols SET row_start = 100 WHERE symbol = 'ORCL'")
        shorter = rf"is damaged: .* is shorter \({len(before)} rows\) than its manifest says"
        with pytest.raises(StoreError, match=shorter):
            store.read_bars("ORCL")


def test_embedded_open_removes_what_a_killed_writer_left(orcl_home: tuple[Path, pd.DataFrame]) -> None:
    home, before = orcl_home
    bars = home / "bars"
    writer = _python(BAR_WRITER, str(home))
    try:
        _wait_for(writer, "ready")
        deadline = time.monotonic() + 120
        while not list(bars.glob(".seg-*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.001)
    finally:
        _end(writer)  # SIGKILL mid-write
    assert list(bars.glob(".seg-*.tmp")), "the writer never started its segment"
    orphan = bars / f"seg-{uuid.uuid4().hex}.parquet"  # a segment renamed but never committed
    shutil.copy(next(bars.glob("seg-*.parquet")), orphan)
    with EmbeddedStore(home) as store:  # opening is enough: no writer is at work
        assert not list(bars.glob(".seg-*.tmp")) and not orphan.exists()
        pd.testing.assert_frame_equal(store.read_bars("ORCL"), before)
        assert store.verify() == StoreCheck(
            backend="embedded", location=str(home), symbols=1, rows=len(before), segments=1
        )


def test_embedded_verify_removes_orphans_and_says_so(orcl_home: tuple[Path, pd.DataFrame]) -> None:
    home, _ = orcl_home
    with EmbeddedStore(home) as store:
        leftover = home / "bars" / f".seg-{uuid.uuid4().hex}.parquet.tmp"
        leftover.write_bytes(b"half a segment")
        check = store.verify()
    assert check.ok and check.removed == (leftover.name,) and not leftover.exists()
    assert "removed 1 file(s)" in str(check)


def test_read_only_open_of_a_mistyped_home_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "bifrots"
    with pytest.raises(StoreError, match=rf"no store at {typo} .*check BIFROST_HOME"):
        open_store(Settings(home=typo), create=False)
    assert not typo.exists()
    EmbeddedStore(tmp_path / "real").close()
    with open_store(Settings(home=tmp_path / "real"), create=False) as store:
        assert store.list_symbols().empty


@pytest.mark.postgres
def test_postgres_read_only_open_of_a_missing_schema_creates_nothing(pg_url: str, pg_schema: str) -> None:
    with pytest.raises(StoreError, match=rf"no store in PostgreSQL schema {pg_schema}"):
        PostgresStore(pg_url, schema=pg_schema, create=False)
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT to_regnamespace(%s)", (pg_schema,)).fetchone() == (None,)
    PostgresStore(pg_url, schema=pg_schema, timescale=False).close()
    store = PostgresStore(pg_url, schema=pg_schema, create=False)
    try:
        check = store.verify()
        assert check.ok and check.symbols == 0
    finally:
        store.close()


# -- item 15: an unreachable PostgreSQL ------------------------------------------------
def test_postgres_unreachable_server_is_one_line_after_the_connect_timeout() -> None:
    # a server that accepts the TCP connection and never answers: libpq waits for it
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        url = f"postgresql://bob:S3cr3tPW@127.0.0.1:{port}/db?sslmode=disable"
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            PostgresStore(url, connect_timeout_s=2)
        waited = time.monotonic() - started
    message = str(info.value)
    assert 1.5 < waited < 8
    assert "\n" not in message and "S3cr3tPW" not in message
    assert message.startswith(f"cannot connect to PostgreSQL at postgresql://bob:***@127.0.0.1:{port}/db")
    assert "within 2 s" in message and "BIFROST_CONNECT_TIMEOUT" in message


def test_postgres_refused_connection_is_one_line_through_open_store() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(home=Path("unused"), database_url=f"postgresql://:S3cr3tPW@127.0.0.1:{port}/db")
    with pytest.raises(StoreError, match="Connection refused") as info:
        open_store(settings)
    assert "\n" not in str(info.value) and "S3cr3tPW" not in str(info.value)


def test_sqlite_state_database_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"state\.sqlite: cannot open the state database: file is not a database"):
        EmbeddedStore(home)


# -- item 11: a full disk --------------------------------------------------------------
FULL_DISK = """
import os, resource, sys
from decimal import Decimal
from pathlib import Path
import pandas as pd
from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidInputError, StoreError
from bifrost.portfolio import CashFlow, CashKind, list_portfolios, record_transactions
from tests.conftest import NVDA, ORCL

disk, mode = Path(sys.argv[1]), sys.argv[2]
home = disk / "home"
bars = home / "bars"
T0 = pd.Timestamp("2014-01-02", tz="UTC")
deposits = [CashFlow(txn_id=f"d{i}", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(1)) for i in range(20000)]
dirty = disk / "dirty.csv"  # 3,000 bad rows (a negative close) and one good one: a large quarantine report
days = pd.bdate_range("2001-01-01", periods=3001).strftime("%Y-%m-%d")
dirty.write_text("date,open,high,low,close,volume,Name\\n" + "".join(
    f"{d},10,11,9,{'10.5' if i == 0 else '-1'},100,QQ\\n" for i, d in enumerate(days)))


def fill():
    # tmpfs: take every free block; elsewhere: no file of this process may grow past 64 KiB
    if mode == "tmpfs":
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"x" * 65536)
        except OSError:
            pass
        try:
            while True:
                os.write(fd, b"x")
        except OSError:
            os.close(fd)
    else:
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.RLIM_INFINITY))


def free():
    if mode == "tmpfs":
        (disk / "filler").unlink()
    else:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


with EmbeddedStore(home) as store:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), end="2000-01-01")
    before, log = store.read_bars("ORCL"), store.ingest_log()
    segments = sorted(p.name for p in bars.glob("seg-*.parquet"))
    fill()
    # an ingest on a full disk: one StoreError, nothing half-written, the store unchanged
    try:
        ingest(store, CsvSource(NVDA, symbol="NVDA"))
        raise SystemExit("the ingest on a full disk did not fail")
    except StoreError as exc:
        message = str(exc)
    assert "cannot write 4,012 bars" in message and "the store is unchanged" in message, message
    if mode == "tmpfs":
        assert "the disk is full" in message, message
    assert not list(bars.glob(".seg-*")), "a temporary segment was left behind"
    assert sorted(p.name for p in bars.glob("seg-*.parquet")) == segments
    pd.testing.assert_frame_equal(store.read_bars("ORCL"), before)
    assert list(store.list_symbols()["symbol"]) == ["ORCL"] and len(store.ingest_log()) == len(log)
    # a portfolio import on a full disk: the first error, never "cannot rollback"
    try:
        record_transactions(store, "p", deposits, create=True)
        raise SystemExit("the import on a full disk did not fail")
    except StoreError as exc:
        message = str(exc)
    assert "state.sqlite: writing the state database failed (nothing was changed)" in message, message
    assert "rollback" not in message, message
    assert list_portfolios(store).empty
    # a repaired ingest whose quarantine report cannot be written: one error, no half-written report
    try:
        ingest(store, CsvSource(dirty), on_error="repair", quarantine_dir=disk / "quarantine")
        raise SystemExit("the repaired ingest on a full disk did not fail")
    except InvalidInputError as exc:
        message = str(exc)
    assert "cannot write the quarantine report" in message and "nothing was stored" in message, message
    assert not list((disk / "quarantine").glob("*")), "a half-written quarantine report was left behind"
    assert list(store.list_symbols()["symbol"]) == ["ORCL"]
    free()
    if mode == "tmpfs":
        # a killed writer's leftover that fills the disk: the next writer removes it first
        leftover = bars / ".seg-0000.parquet.tmp"
        fd = os.open(leftover, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"x" * 65536)
        except OSError:
            os.close(fd)
    assert ingest(store, CsvSource(NVDA, symbol="NVDA")).rows_new == 4012
    assert not list(bars.glob(".seg-*"))
    assert len(record_transactions(store, "p", deposits, create=True).transactions) == 20000
    pd.testing.assert_frame_equal(store.read_bars("ORCL"), before)
    assert store.verify().ok
print("ok", flush=True)
"""


def _run_full_disk(tmp_path: Path, mode: str, wrapper: list[str]) -> subprocess.CompletedProcess[str]:
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK)
    command = [sys.executable, str(script), str(disk), mode]
    if wrapper:
        mount = f"mount -t tmpfs -o size=3m tmpfs {disk} && exec {' '.join(command)}"
        command = [*wrapper, "sh", "-c", mount]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def _namespace_for_a_tmpfs(tmp_path: Path) -> list[str] | None:
    # a private mount namespace (root), else an unprivileged user namespace, else none
    probe = tmp_path / "probe"
    probe.mkdir()
    for wrapper in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        if wrapper == ["unshare", "--mount"] and os.geteuid() != 0:
            continue
        try:
            done = subprocess.run(
                [*wrapper, "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {probe}"], capture_output=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return wrapper
    return None


def test_embedded_full_disk_is_one_error_and_leaves_the_store_unchanged(tmp_path: Path) -> None:
    # a real 3 MB tmpfs, filled up: ENOSPC from the kernel
    wrapper = _namespace_for_a_tmpfs(tmp_path)
    if wrapper is None:
        pytest.skip("this kernel allows no tmpfs mount here; the file-size-limit test below covers the path")
    done = _run_full_disk(tmp_path, "tmpfs", wrapper)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


def test_embedded_write_past_a_file_size_limit_is_one_error_and_leaves_the_store_unchanged(tmp_path: Path) -> None:
    # RLIMIT_FSIZE: the kernel refuses to grow any file of the process (EFBIG), on any machine
    done = _run_full_disk(tmp_path, "fsize", [])
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


# -- a command line that is not UTF-8 ----------------------------------------------------
HOLDER_WRITER = """
import sys
from bifrost.data import EmbeddedStore
store = EmbeddedStore(sys.argv[1])
with store._lock:
    sys.stdout.buffer.write(store._lock.path.read_bytes())
    print(store._lock.holder(), flush=True)
"""


def test_writer_lock_with_non_utf8_command_line_names_its_holder_escaped(tmp_path: Path) -> None:
    # a byte that is not UTF-8 reaches sys.argv as a lone surrogate; the lock file must still be written
    home = tmp_path / "home"
    out = subprocess.run(
        [sys.executable, "-c", HOLDER_WRITER, str(home), b"caf\xff"],
        capture_output=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    written, shown = out.stdout.decode("utf-8").splitlines()  # all of it UTF-8
    assert written.split(" ")[0].isdigit() and written.endswith(r"caf\udcff")
    assert shown.startswith("held by pid ")
    env = {**os.environ, "BIFROST_HOME": str(home), "BIFROST_DATABASE_URL": ""}
    shown_cli = subprocess.run(
        [sys.executable, "-m", "bifrost.cli", "data", "show", b"\xff"],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        env=env,
    )
    stderr = shown_cli.stderr.decode(errors="replace")
    assert shown_cli.returncode == 2 and "Traceback" not in stderr and "not a valid symbol" in stderr, stderr
