"""`bifrost serve risk` from an installed wheel, in a fresh virtual environment, outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import httpx
import psutil

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.testing import running_service
from tests.conftest import ORCL, ROOT


def _fresh_venv(where: Path, wheel: Path) -> Path:
    # a venv of the base interpreter with the wheel installed while it sees nothing else, then given this
    # one's packages by a .pth line (offline, no download) but not its editable bifrost, whose finder only
    # a processed .pth file would install
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=60)
    python = where / "bin" / "python"
    subprocess.run(  # from outside the checkout, whose bifrost.egg-info pip would take for an installed bifrost
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
         str(wheel)],
        check=True, capture_output=True, timeout=300, cwd=where.parent, env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True, timeout=60)
    (Path(purelib.stdout.strip()) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _source_copy(where: Path) -> Path:
    # the files git would ship, copied: a build in the checkout reuses its build/ folder, where a module
    # deleted since (bifrost/cli.py) would still be packed into the wheel
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True, timeout=60,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and (name.startswith(("bifrost/", "bentos/")) or name in {"pyproject.toml", "README.md"}):
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, where / name)
    return where


def test_bifrost_serve_risk_works_from_an_installed_wheel_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    source = _source_copy(tmp_path / "src")
    shipped = {str(p.relative_to(source)) for p in source.rglob("*.py")}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels),
         str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("bifrost-*.whl")
    with zipfile.ZipFile(wheel) as packed:
        modules = {n for n in packed.namelist() if n.endswith(".py")}
    assert modules == shipped, sorted(modules ^ shipped)  # the wheel holds the source's modules, no stale one
    python = _fresh_venv(tmp_path / "venv", wheel)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    clean = {**os.environ, "PYTHONPATH": ""}  # nothing of the checkout on the path
    probe = "import bifrost, bifrost._serving as s; print(bifrost.__file__); print(s.find_service('risk')[0])"
    where = subprocess.run(
        [str(python), "-c", probe], cwd=outside, env=clean, check=True, capture_output=True, text=True, timeout=60
    ).stdout.split()
    site = str(tmp_path / "venv")
    assert all(path.startswith(site) for path in where), where  # the wheel's bifrost and its service, not the checkout
    home = tmp_path / "home"
    with EmbeddedStore(home) as store:
        ingest(store, CsvSource(ORCL, symbol="ORCL"))
    env = {"BIFROST_HOME": str(home), "BENTOML_HOME": str(tmp_path / "bentoml"), "PYTHONPATH": ""}
    command = [str(python.with_name("bifrost")), "serve", "risk", "--port", "{port}"]
    with running_service(log=tmp_path / "server.log", env=env, command=command, cwd=outside) as service:
        processes = [psutil.Process(pid) for pid in service.pids()]
        assert httpx.get(f"{service.url}/healthz").status_code == 200
        answer = httpx.post(f"{service.url}/var", json={"positions": {"ORCL": 100.0}, "lookback_days": 250}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["observations"] == 250 and 0 < answer.json()["var"] < answer.json()["es"]
    _, alive = psutil.wait_procs(processes, timeout=10)
    assert len(processes) >= 3 and not alive  # the command, bentoml's arbiter and its worker: all stopped
