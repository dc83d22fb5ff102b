"""Tests of `bifrost.cli`, one module per verb group; `bifrost()` runs the command as users do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def bifrost(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # a real subprocess on the embedded store unless the test asks for PostgreSQL
    base = {k: v for k, v in os.environ.items() if k != "BIFROST_DATABASE_URL"}
    full_env = {**base, "BIFROST_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bifrost.cli", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
