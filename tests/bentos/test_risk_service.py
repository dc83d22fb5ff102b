"""The risk service, served for real (`bifrost serve risk`) and called over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bifrost.data import CsvSource, load_bars
from bifrost.risk import portfolio_risk
from tests.conftest import NVDA, ORCL, ROOT, YHOO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """Run `bifrost serve risk` on a free port until the block ends; stop it by its process group."""
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bifrost.cli", "serve", "risk", "--port", str(port)],
            cwd=ROOT, env={**os.environ, "BENTOML_DO_NOT_TRACK": "True", **env}, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    out.flush()
                    pytest.fail(f"the risk service did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers, by our own process group
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("bentoml-home")
    with serving({"BENTOML_HOME": str(home)}, home / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def history() -> dict[str, list[float]]:
    """Daily returns of ORCL, NVDA and YHOO over 2013–2014, from the real files."""
    out = {}
    for symbol, path in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO)):
        close = load_bars(CsvSource(path, symbol=symbol)).bars["close"].droplevel("symbol")
        r = close.pct_change().loc["2013-01-01":"2014-12-31"]
        out[symbol] = [float(v) for v in r]
    assert len({len(v) for v in out.values()}) == 1
    return out


@pytest.mark.parametrize("method", ["historical", "parametric", "filtered_historical", "montecarlo"])
def test_var_endpoint_answers_what_the_library_computes(
    service: str, history: dict[str, list[float]], method: str
) -> None:
    weights = {"ORCL": 0.5, "NVDA": 0.3, "YHOO": 0.2}
    body = {"returns": history, "weights": weights, "confidence": 0.99, "horizon_days": 10, "method": method}
    response = httpx.post(f"{service}/var", json=body, timeout=30)
    assert response.status_code == 200, response.text
    got = response.json()
    expected = portfolio_risk(history, weights, confidence=0.99, horizon_days=10, method=method, n_scenarios=20_000)
    assert got["var"] == pytest.approx(expected.var, rel=1e-12) and got["es"] == pytest.approx(expected.es, rel=1e-12)
    assert got["observations"] == len(history["ORCL"]) and 0 < got["var"] <= got["es"]


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "returns": {"A": [0.01, -0.02, 0.005], "B": [0.0, 0.01, -0.01]},
        "weights": {"A": 0.6, "B": 0.4},
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_body(weights={"C": 1.0}), "no return history for C"),
        (_body(returns={"A": [0.01, float("nan")], "B": [0.0, 0.01]}), "A day 1 is nan"),
        (_body(returns={"A": [], "B": []}), "at least 2 days"),
        (_body(confidence=1.5), "less than or equal to 1"),
        (_body(confidence=0.0), "confidence must be in (0, 1)"),
        (_body(confidence=1.0), "confidence must be in (0, 1)"),
        (_body(horizon_days=0), "greater than or equal to 1"),
        (_body(returns={"A": [0.01, 0.02], "B": [0.01]}), "same number of returns"),
        (_body(method="garch"), "historical"),
        ({"weights": {"A": 1.0}}, "returns"),
        (_body(weights={}), "weights must map"),
    ],
)
def test_bad_requests_get_a_400_that_says_what_was_wrong(service: str, body: dict[str, Any], message: str) -> None:
    import json

    response = httpx.post(
        f"{service}/var", content=json.dumps(body, allow_nan=True), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert message in response.text


def test_a_body_that_is_not_json_is_a_400(service: str) -> None:
    response = httpx.post(f"{service}/var", content=b"not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "Invalid JSON" in response.text


def test_health_metrics_and_openapi(service: str) -> None:
    assert httpx.get(f"{service}/livez").status_code == 200
    assert httpx.get(f"{service}/readyz").status_code == 200
    metrics = httpx.get(f"{service}/metrics")
    assert metrics.status_code == 200 and "bentoml" in metrics.text
    spec = httpx.get(f"{service}/docs.json").json()
    assert "/var" in spec["paths"]
    schema = str(spec["components"])
    assert "Daily simple returns per symbol" in schema and "VaR level" in schema


def test_schemathesis_finds_no_server_error(service: str, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [str(st), "run", f"{service}/docs.json", "--checks", "not_a_server_error", "--max-examples", "60",
         "--generation-deterministic", "--request-timeout", "20"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "generated" in run.stdout


def test_a_body_that_is_not_json_is_refused_before_parsing(service: str) -> None:
    # found by schemathesis: BentoML answered a boundary-less multipart body with a 500
    response = httpx.post(f"{service}/var", content=b"{}", headers={"content-type": "multipart/form-data"})
    assert response.status_code == 415 and "must be JSON" in response.text


def test_bearer_token_from_config_protects_the_api(tmp_path: Path) -> None:
    (tmp_path / "bifrost.toml").write_text('[keys]\nrisk_service_token = "s3cret"\n')
    env = {"BIFROST_CONFIG": str(tmp_path / "bifrost.toml"), "BENTOML_HOME": str(tmp_path / "bentoml")}
    with serving(env, tmp_path / "server.log") as url:
        assert httpx.post(f"{url}/var", json=_body()).status_code == 401
        wrong = httpx.post(f"{url}/var", json=_body(), headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "bearer token" in wrong.text
        ok = httpx.post(f"{url}/var", json=_body(confidence=0.5), headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["var"] >= 0
        assert httpx.get(f"{url}/livez").status_code == 200  # health stays open
