"""`bifrost dashboard`: what it refuses before Voila starts (one line, exit 2); serving is tested in tests/widgets."""

from __future__ import annotations

import contextlib
import io
import socket
from pathlib import Path

import pytest

from bifrost._voila import widgets_dir
from bifrost.cli import main


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def test_dashboard_folder_without_notebooks_exits_2_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIFROST_HOME", str(tmp_path / "home"))
    code, err = _run(["dashboard", "--no-browser", "--dir", str(tmp_path)])
    assert code == 2
    assert err.count("\n") == 1 and "holds no notebook" in err and str(tmp_path) in err


def test_dashboard_port_in_use_exits_2_naming_the_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIFROST_HOME", str(tmp_path / "home"))
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        code, err = _run(["dashboard", "--no-browser", "--port", str(port), "--dir", str(widgets_dir())])
    assert code == 2
    assert err.count("\n") == 1 and f"port {port}" in err and "not free" in err
