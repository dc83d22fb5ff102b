"""Start ``bifrost dashboard`` on a free port for a test or a benchmark, and stop it and every kernel by pid."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bifrost._voila import READY_PATH
from bifrost.errors import ConfigError
from bifrost.testing._service import RunningService, running_service

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "RunningDashboard", "running_dashboard"]

# Debian's Chromium, driven by Playwright for Python (never `playwright install`)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)  # fmt: skip
_POOL_FILLED = re.compile(r"Kernel pool of (\S+) is filled")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningDashboard:
    """A Voila server that `running_dashboard` started: its address, pids and log."""

    service: RunningService
    root: Path

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:PORT``."""
        return self.service.url

    def url(self, name: str) -> str:
        """Return the address of dashboard ``name``."""
        return f"{self.service.url}/voila/render/{name}.ipynb"

    def pids(self) -> list[int]:
        """Return the pids of the server and every kernel it runs now."""
        return self.service.pids()

    def log_text(self) -> str:
        """Return the server's log so far (Voila's and the kernels' stderr)."""
        return self.service.log.read_text(errors="replace")

    def wait_pools_filled(self, names: Sequence[str], *, count: int = 1, timeout_s: float = 120.0) -> None:
        """Wait until the log says each notebook's kernel pool was filled ``count`` times in all.

        Raises
        ------
        ConfigError
            If that does not happen within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            filled = _POOL_FILLED.findall(self.log_text())
            missing = [n for n in names if filled.count(f"{n}.ipynb") < count]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ConfigError(f"the kernel pools of {missing} were not filled in {timeout_s:g} s")
            time.sleep(0.2)


@contextlib.contextmanager
def running_dashboard(
    root: str | Path | None = None,
    *,
    log: str | Path,
    env: Mapping[str, str] | None = None,
    pool_size: int = 1,
    cull_idle_s: int | None = None,
    command: Sequence[str] | None = None,
    start_timeout_s: float = 120.0,
) -> Iterator[RunningDashboard]:
    """Run ``bifrost dashboard --no-browser`` on a free port until the block ends.

    The block is entered once Voila serves its front end (``/voila/static/voila.js``; a page
    request would take a pooled kernel). ``env`` is added to this process's environment (give
    ``BIFROST_HOME`` to point the dashboards at a store). On leaving, the server gets SIGTERM,
    which shuts down its kernels, and whatever of it and its kernels still runs is killed by
    pid (`running_service`); it also gets SIGTERM if this process dies first.
    ``command`` replaces ``python -m bifrost.cli dashboard`` (the options follow it).
    """
    argv = [*(command or (sys.executable, "-m", "bifrost.cli", "dashboard")), "--port", "{port}", "--no-browser"]
    argv += ["--pool-size", str(pool_size)]
    if root is not None:
        argv += ["--dir", str(Path(root).resolve())]
    if cull_idle_s is not None:
        argv += ["--cull-idle-s", str(cull_idle_s)]
    with running_service(
        "dashboard", log=log, env=env, command=argv, ready_path=READY_PATH, start_timeout_s=start_timeout_s
    ) as service:
        from bifrost._voila import widgets_dir

        yield RunningDashboard(service=service, root=widgets_dir(root))
