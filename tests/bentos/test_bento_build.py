"""`bentoml build` packs the risk service, with bifrost as a wheel, into a bento."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT


def test_bentoml_build_produces_a_bento_of_the_risk_service(tmp_path: Path) -> None:
    source = tmp_path / "risk"
    source.mkdir()
    for name in ("service.py", "bentofile.yaml"):
        shutil.copy(ROOT / "bentos" / "risk" / name, source / name)
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
         str(source / "wheels"), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml"), "BENTOML_DO_NOT_TRACK": "True"}
    build = subprocess.run(
        [str(bin_dir / "bentoml"), "build", "--output", "tag"], cwd=source, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    tag = build.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    name, version = tag.split(":")
    bento = tmp_path / "bentoml" / "bentos" / name / version
    assert name == "bifrost_risk" and (bento / "src" / "service.py").is_file()
    assert list((bento / "env" / "python" / "wheels").glob("bifrost-*.whl"))
    openapi = yaml.safe_load((bento / "apis" / "openapi.yaml").read_text())
    assert {"/var", "/stress", "/limits"} <= set(openapi["paths"])
    manifest = yaml.safe_load((bento / "bento.yaml").read_text())
    assert manifest["service"] == "service:RiskService"
