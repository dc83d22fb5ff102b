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
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest, load_bars
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, record_transactions
from bifrost.risk import (
    Limit,
    MarketData,
    book_from_positions,
    check_limits,
    portfolio_risk,
    read_alerts,
    stress_positions,
)
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


T0 = pd.Timestamp("2014-01-02", tz="UTC")
HOLDINGS = {"ORCL": 1000, "NVDA": 500, "YHOO": 300}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with ORCL, NVDA and YHOO, and a stored portfolio "book" holding them."""
    path = tmp_path_factory.mktemp("risk-service-store")
    with EmbeddedStore(path) as store:
        for symbol, file in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO)):
            ingest(store, CsvSource(file, symbol=symbol))
        txns: list[Any] = [CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(100_000))]
        txns += [
            Fill(txn_id=f"f{i}", ts=T0, symbol=s, side=Side.BUY, quantity=Decimal(q), price=Decimal("30"))
            for i, (s, q) in enumerate(HOLDINGS.items())
        ]
        record_transactions(store, "book", txns, create=True)
    return path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Iterator[str]:
    bentoml_home = tmp_path_factory.mktemp("bentoml-home")
    env = {"BENTOML_HOME": str(bentoml_home), "BIFROST_HOME": str(home)}
    with serving(env, bentoml_home / "server.log") as url:
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
        ({"weights": {"A": 1.0}}, "weights need returns"),
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


@pytest.mark.parametrize("method", ["historical", "parametric"])
def test_var_of_posted_positions_priced_from_the_store(service: str, home: Path, method: str) -> None:
    positions = {"ORCL": 200.0, "NVDA": 100.0}
    body = {"positions": positions, "cash": 1000.0, "confidence": 0.975, "lookback_days": 250, "method": method}
    response = httpx.post(f"{service}/var", json=body, timeout=30)
    assert response.status_code == 200, response.text
    got = response.json()
    with EmbeddedStore(home) as store:
        book = book_from_positions(positions, market=MarketData(store), cash=1000.0, lookback_days=250)
    expected = portfolio_risk(book.returns, book.weights.to_dict(), confidence=0.975, method=method)
    assert got["var"] == pytest.approx(expected.var, rel=1e-12) and got["observations"] == 250
    assert got["equity"] == pytest.approx(book.equity) and got["var_money"] == pytest.approx(expected.var * book.equity)
    # posted prices and history need no store at all
    posted = {"positions": {"X": 10}, "prices": {"X": 20.0}, "returns": {"X": [0.01, -0.03, 0.02, -0.01]}}
    answer = httpx.post(f"{service}/var", json=posted | {"confidence": 0.5}, timeout=30).json()
    assert answer["equity"] == 200.0 and answer["var"] == pytest.approx(portfolio_risk(
        {"X": [0.01, -0.03, 0.02, -0.01]}, {"X": 1.0}, confidence=0.5).var)  # fmt: skip


def test_stress_endpoint_answers_what_the_library_computes(service: str, home: Path) -> None:
    positions = {"ORCL": 1000.0, "YHOO": 300.0}
    body = {
        "positions": positions, "window_days": [1, 20], "worst": 2,
        "periods": {"GFC": ["2008-09-01", "2009-03-09"]}, "shocks": {"crash": {"market": -0.2, "YHOO": -0.5}},
    }  # fmt: skip
    response = httpx.post(f"{service}/stress", json=body, timeout=30)
    assert response.status_code == 200, response.text
    got = response.json()
    with EmbeddedStore(home) as store:
        book = book_from_positions(positions, market=MarketData(store), lookback_days=5000)
    values = book.values.to_dict()
    expected = stress_positions(
        values, book.returns, window_days=(1, 20), worst=2, named={"GFC": ("2008-09-01", "2009-03-09")},
        shocks={"crash": {"market": -0.2, "YHOO": -0.5}},
    ).records(book.equity)  # fmt: skip
    assert [s["name"] for s in got["scenarios"]] == ["worst 1d #1", "worst 1d #2", "worst 20d #1", "worst 20d #2",
                                                     "GFC", "crash"]  # fmt: skip
    for answer, reference in zip(got["scenarios"], expected, strict=True):
        assert answer["start"] == reference["start"] and answer["total"] == pytest.approx(reference["total"])
        np.testing.assert_allclose(list(answer["pnl"].values()), list(reference["pnl"].values()), rtol=1e-12)
    assert got["scenarios"][-1]["total"] == pytest.approx(-0.2 * values["ORCL"] - 0.5 * values["YHOO"])


def test_limits_endpoint_on_a_stored_portfolio_and_on_posted_positions(service: str, home: Path) -> None:
    limits = [{"name": "names", "metric": "single_name", "threshold": 0.2}, {"name": "v", "metric": "var",
              "threshold": 0.5, "method": "parametric"}]  # fmt: skip
    response = httpx.post(f"{service}/limits", json={"portfolio": "book", "limits": limits, "record": True})
    assert response.status_code == 200, response.text
    got = response.json()
    with EmbeddedStore(home) as store:
        expected = check_limits(store, "book", limits=[Limit(**x) for x in limits], record=False)
        recorded = read_alerts(store, "book")
    assert got["breached"] == expected.breached and [a["subject"] for a in got["alerts"]] == list(
        expected.alerts["subject"]
    )
    assert len(recorded) == len(got["alerts"]) > 0  # the service recorded them in the store
    worst = {row["limit_name"]: row["value"] for row in got["limits"]}
    assert worst["v"] == pytest.approx(expected.summary().set_index("limit_name").loc["v", "value"], rel=1e-12)
    posted = httpx.post(f"{service}/limits", json={"positions": {"ORCL": 10.0}, "cash": 0.0, "drawdown": 0.05})
    assert posted.status_code == 200, posted.text
    checks = {row["limit_name"]: row for row in posted.json()["limits"]}
    assert checks["single_name"]["value"] == pytest.approx(1.0) and checks["single_name"]["severity"] == "breach"
    assert checks["drawdown"]["value"] == 0.05 and checks["sector"]["severity"] == "n/a"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/var", {"positions": {"ORCL": -5.0}}, "negative quantity for ['ORCL']"),
        ("/var", {"positions": {"ORCL": 5.0, "ZZZZ": 1.0}}, "unknown symbol(s) ['ZZZZ']: not in the store"),
        ("/var", {"positions": {"ORCL": 5.0}, "weights": {"ORCL": 1.0}}, "not both or neither"),
        ("/var", {"positions": {"ORCL": 5.0}, "cash": -1e9}, "risk as a fraction of it is undefined"),
        ("/stress", {"positions": {"ORCL": 5.0}, "window_days": [0]}, "window_days must be integers"),
        ("/stress", {"positions": {"ORCL": 5.0}, "periods": {"X": ["1990-01-01", "1990-02-01"]}}, "no returns between"),
        ("/stress", {"positions": {"ORCL": 5.0}, "periods": {"X": ["soon", "later"]}}, "dates must be ISO dates"),
        (
            "/stress",
            {"positions": {"X": 1.0}, "prices": {"X": 1.0}, "returns": {"X": [0.1, 0.2]}},
            "historical scenarios need returns on dates",
        ),
        (
            "/stress",
            {"positions": {"ORCL": 5.0}, "window_days": [], "shocks": {"c": {"market": -2.0}}},
            "must be a return >= -1",
        ),
        ("/limits", {"portfolio": "nope"}, "no portfolio 'nope'"),
        ("/limits", {"positions": {"ORCL": 5.0}, "record": True}, "only a stored portfolio's alerts"),
        (
            "/limits",
            {"portfolio": "book", "limits": [{"name": "x", "metric": "var", "threshold": -1}]},
            "threshold must be a positive",
        ),
        ("/limits", {}, "not both or neither"),
    ],
)
def test_bad_portfolio_requests_get_a_400_that_says_what_was_wrong(
    service: str, path: str, body: dict[str, Any], message: str
) -> None:
    response = httpx.post(f"{service}{path}", json=body, timeout=30)
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
    assert {"/var", "/stress", "/limits"} <= set(spec["paths"])
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
