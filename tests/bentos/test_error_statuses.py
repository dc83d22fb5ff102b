"""Every kind of BifrostError sent through a real BentoML service on the shared serving code gets its status.

The risk service cannot be made to raise every kind (nothing it does can refuse a transaction
or find its settings wrong after start-up), so a service of the same build as every bento
(`bifrost._serving.Guard` in front, each endpoint in `answers_errors`) raises the kind it is
asked for, over HTTP; tests/bentos/test_risk_service.py provokes those a request can.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import bifrost.errors
from bifrost._serving import http_status
from bifrost.errors import BifrostError
from bifrost.testing import RunningService, running_service
from tests.analytics.test_tearsheet import CHROMIUM

SERVICE = textwrap.dedent(
    """
    import bentoml

    import bifrost.errors
    from bifrost._serving import Guard, answers_errors, service_settings

    SETTINGS = service_settings("faults")


    @bentoml.service(name="faults", workers=1)
    class Faults:
        @bentoml.api(route="/raise")
        @answers_errors
        def raise_kind(self, kind: str) -> dict[str, str]:
            if kind == "bug":
                raise KeyError("internal detail: /home/secret/store.db")
            raise getattr(bifrost.errors, kind)(f"{kind} raised on purpose")


    Faults.add_asgi_middleware(Guard, **Guard.options(SETTINGS, description="Raises the error it is asked for."))
    """
)


def _kinds(root: type[BaseException]) -> set[type[BaseException]]:
    return {root} | {c for sub in root.__subclasses__() for c in _kinds(sub)}


KINDS = sorted((c for c in _kinds(BifrostError) if c.__module__ == bifrost.errors.__name__), key=lambda c: c.__name__)


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    folder = tmp_path_factory.mktemp("faults")
    (folder / "service.py").write_text(SERVICE)
    env = {"BENTOML_HOME": str(folder / "bentoml"), "BIFROST_HOME": str(folder / "home")}
    command = [sys.executable, "-m", "bentoml", "serve", "service:Faults", "--port", "{port}"]
    with running_service(log=folder / "server.log", env=env, command=command, cwd=folder) as service:
        yield service


@pytest.mark.parametrize("kind", KINDS, ids=lambda c: c.__name__)
def test_every_bifrost_error_through_a_service_gets_its_mapped_status_never_a_500(
    faults: RunningService, kind: type[BifrostError]
) -> None:
    expected = http_status(kind("x"))
    response = httpx.post(f"{faults.url}/raise", json={"kind": kind.__name__}, headers={"x-request-id": "k-1"})
    assert response.status_code == expected != 500, response.text
    assert response.headers["x-request-id"] == "k-1"
    error = response.json()["error"]
    if expected < 500:
        assert error == f"{kind.__name__} raised on purpose"  # the caller's error, with its message
    else:
        assert "raised on purpose" not in error and "k-1" in error  # the service's: the detail stays in the log
        assert response.headers["retry-after"] == "1"


def test_an_unexpected_exception_is_a_500_that_says_nothing_internal_and_is_logged_with_its_request_id(
    faults: RunningService,
) -> None:
    response = httpx.post(f"{faults.url}/raise", json={"kind": "bug"}, headers={"x-request-id": "bug-42"})
    assert response.status_code == 500 and response.headers["x-request-id"] == "bug-42"
    assert response.json() == {
        "error": "internal error (request id bug-42; the detail is in the server log)",
        "detail": [],
        "request_id": "bug-42",
    }
    log = Path(faults.log).read_text()
    assert "request bug-42: unexpected KeyError in Faults.raise_kind" in log
    assert "internal detail: /home/secret/store.db" in log  # the traceback is in the log, not the answer


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/raise", {"kind": 5}, 400, "kind"),  # pydantic's validation error
        ("POST", "/raise", {}, 400, "kind"),  # a missing field
        ("POST", "/raise", {"kind": "TransactionRejected"}, 409, None),
        ("POST", "/raise", {"kind": "StoreError"}, 503, None),
        ("POST", "/raise", {"kind": "bug"}, 500, None),
        ("GET", "/nosuch", None, 404, None),  # Starlette's plain-text answer
        ("GET", "/raise", None, 405, None),
    ],
)
def test_every_error_answer_has_one_shape(
    faults: RunningService, method: str, path: str, body: object, status: int, field: str | None
) -> None:
    response = httpx.request(method, f"{faults.url}{path}", json=body, headers={"x-request-id": "shape-1"})
    answer = response.json()
    assert response.status_code == status and set(answer) == {"error", "detail", "request_id"}, answer
    assert isinstance(answer["error"], str) and answer["error"] and answer["request_id"] == "shape-1"
    assert [d["field"] for d in answer["detail"]] == ([field] if field else [])
    assert all(set(d) == {"field", "message"} for d in answer["detail"])


def test_the_docs_page_renders_the_api_and_asks_no_address_but_the_service(
    faults: RunningService, tmp_path: Path
) -> None:
    # found by QA: the README's /docs was a 404 and BentoML's page at / asks Google Tag Manager for a script
    assert httpx.get(f"{faults.url}/", follow_redirects=False).headers["location"] == "/docs"
    netlog = tmp_path / "netlog.json"
    dom = subprocess.run(
        [*CHROMIUM, f"--user-data-dir={tmp_path / 'profile'}", f"--log-net-log={netlog}",
         "--virtual-time-budget=15000", "--dump-dom", f"{faults.url}/"],
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    assert 'data-path="/raise"' in dom.stdout  # Swagger UI drew the service's endpoint from /docs.json
    assert "Raises the error it is asked for." in dom.stdout and "Slack" not in dom.stdout  # ours, not BentoML's
    # what the page asked for (Chromium's own background requests have no origin as initiator)
    events = json.loads(netlog.read_text())["events"]
    asked = {
        re.sub(r"^([a-z]+://[^/]+).*", r"\1", e["params"]["url"])
        for e in events
        if e.get("params", {}).get("initiator", "not an origin") != "not an origin" and "url" in e["params"]
    }
    assert asked == {faults.url}, asked  # nothing outside: no CDN, no tag manager, no validator badge
