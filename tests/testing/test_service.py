"""bifrost.testing.running_service: a real service on a free port that nothing outlives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT

STARTER = textwrap.dedent(
    """
    import sys, time
    from bifrost.testing import running_service

    with running_service("risk", log=sys.argv[1], env={"BIFROST_HOME": sys.argv[2]}) as served:
        print(served.pid, flush=True)
        time.sleep(600)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_service_dies_with_the_process_that_started_it_even_by_sigkill(tmp_path: Path) -> None:
    # found in a session: a load script killed by `timeout` left `bifrost serve` and its worker serving for an hour
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "server.log"), str(tmp_path / "home")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml")},
    )  # fmt: skip
    assert starter.stdout is not None
    served = psutil.Process(int(starter.stdout.readline()))
    tree = [served, *served.children(recursive=True)]
    assert len(tree) >= 3  # bifrost serve, bentoml's arbiter, a worker
    starter.send_signal(signal.SIGKILL)  # no handler, no finally: only the kernel can tell the server
    starter.wait()
    starter.stdout.close()
    _, alive = psutil.wait_procs(tree, timeout=30)
    for process in alive:
        process.kill()
    assert not alive, [p.cmdline()[:4] for p in alive]
