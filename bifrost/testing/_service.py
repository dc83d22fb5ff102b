"""Start a real bifrost service on a free port for a test or a benchmark, and stop all of it by process id."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bifrost._serving import _terminated_with_us
from bifrost.errors import ConfigError

__all__ = ["RunningService", "free_port", "running_service"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningService:
    """A service that `running_service` started: where it answers, its command's pid and its log."""

    url: str
    port: int
    pid: int
    log: Path

    def pids(self) -> list[int]:
        """Return the pids of the command and every process below it now (server and workers)."""
        return [p.pid for p in _tree(self.pid)]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_service(
    name: str = "risk",
    *,
    log: str | Path,
    env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    cwd: str | Path | None = None,
    host: str = "127.0.0.1",
    ready_path: str = "/readyz",
    start_timeout_s: float = 120.0,
    stop_timeout_s: float = 30.0,
) -> Iterator[RunningService]:
    """Run ``bifrost serve NAME`` on a free port until the block ends, then stop it and all it started.

    ``command`` replaces the default ``python -m bifrost.cli serve NAME --host HOST --port {port}``
    (``{port}`` in an argument is the chosen port), e.g. an installed ``bifrost`` script.
    ``env`` is added to this process's environment (BentoML's tracking is off). The command
    runs in a session of its own, its output goes to ``log``; the block is entered once
    ``ready_path`` answers 200. On leaving, the command gets SIGTERM (``bifrost serve``
    stops the server and its workers), and whatever of it is still running ``stop_timeout_s``
    later is killed: each process remembered by pid and start time, so none other is touched.
    On Linux the command also gets SIGTERM if this process dies without leaving the block
    (a test run killed by a timeout, even by SIGKILL).

    Raises
    ------
    ConfigError
        If the service does not answer within ``start_timeout_s`` or its command exits first
        (the message holds the end of its log).
    """
    import psutil  # type: ignore[import-untyped]  # a test dependency (and bentoml's), not the library's

    port = free_port(host)
    argv = [sys.executable, "-m", "bifrost.cli", "serve", name, "--host", host, "--port", "{port}"]
    argv = [a.replace("{port}", str(port)) for a in (command if command is not None else argv)]
    log_path = Path(log)
    seen: dict[int, Any] = {}
    with log_path.open("w") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, env={**os.environ, "BENTOML_DO_NOT_TRACK": "True", **(env or {})}, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_terminated_with_us(),
        )  # fmt: skip
    url = f"http://{host}:{port}"
    try:
        _wait_ready(url + ready_path, proc, log_path, start_timeout_s)
        seen.update((p.pid, p) for p in _tree(proc.pid))
        yield RunningService(url=url, port=port, pid=proc.pid, log=log_path)
    finally:
        seen.update((p.pid, p) for p in _tree(proc.pid))
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=stop_timeout_s)
        seen.update((p.pid, p) for p in _tree(proc.pid))
        for process in seen.values():
            with contextlib.suppress(psutil.Error):
                process.kill()  # psutil checks the start time: a reused pid is never killed
        psutil.wait_procs(list(seen.values()), timeout=10)
        proc.wait()


def _tree(pid: int) -> list[Any]:
    # the command and everything below it by parent chain (BentoML's workers run in sessions of their own)
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError, urllib.error.URLError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited with {proc.returncode}" if proc.poll() is not None else f"not ready in {timeout_s:g} s"
            raise ConfigError(f"the service at {url} {why}; its log ends:\n{log.read_text()[-3000:]}")
        time.sleep(0.25)
