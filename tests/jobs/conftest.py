"""The job tests' fixtures: the tests-only jobs folder, an embedded store of its own, a broken CSV."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bifrost.data import EmbeddedStore
from bifrost.jobs import JobSpec, load_jobs
from tests.conftest import ORCL

# the notebooks' paired .py files are notebooks, not modules: never imported by pytest
collect_ignore = ["notebooks"]

NOTEBOOKS = Path(__file__).parent / "notebooks"


@pytest.fixture
def jobs_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """BIFROST_JOBS_DIR at the tests' jobs, BIFROST_HOME at a fresh folder; return the home."""
    home = tmp_path / "home"
    monkeypatch.setenv("BIFROST_JOBS_DIR", str(NOTEBOOKS))
    monkeypatch.setenv("BIFROST_HOME", str(home))
    for name in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG", "BIFROST_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def jobs() -> dict[str, JobSpec]:
    return dict(load_jobs(NOTEBOOKS))


@pytest.fixture
def embedded(jobs_env: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(jobs_env)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def broken_csv(tmp_path: Path) -> Path:
    """ORCL's real file with its 10th data line's high below its low (a row validation refuses)."""
    lines = ORCL.read_text().splitlines()
    date, o, _high, low, c, adj, v = lines[10].split(",")
    lines[10] = ",".join([date, o, str(float(low) / 2), low, c, adj, v])
    path = tmp_path / "orcl-broken.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def kernels_of(pid: int) -> list[int]:
    """Return the pids of ipykernel processes whose JPY_PARENT_PID is ``pid`` (alive, not zombies)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"ipykernel" not in cmdline:
                continue
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if f"JPY_PARENT_PID={pid}".encode() in environ and state != "Z":
            found.append(int(proc.name))
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
