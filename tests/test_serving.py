"""bifrost._serving: errors as HTTP statuses, the request guard, and the server runner's processes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import psutil
import pytest

from bifrost._serving import (
    Guard,
    answers_errors,
    default_workers,
    find_service,
    http_status,
    request_id,
    run_server,
    serve_bento,
    serve_service,
    service_settings,
    settle_heap,
)
from bifrost.errors import (
    BifrostError,
    ConfigError,
    DataError,
    DataSourceError,
    InsufficientDataError,
    InvalidInputError,
    LookaheadError,
    NotFoundError,
    SchemaError,
    SchemaVersionError,
    StoreError,
    SymbolNotFoundError,
    TransactionRejected,
    ValidationError,
)
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (InvalidInputError("x"), 400),
        (InsufficientDataError("x"), 400),
        (TransactionRejected("x"), 409),
        (DataError("x"), 400),
        (SchemaError("x"), 400),
        (ValidationError("x"), 400),
        (LookaheadError("x"), 400),
        (BifrostError("x"), 400),
        (NotFoundError("x"), 404),
        (SymbolNotFoundError("x"), 404),
        (StoreError("x"), 503),
        (SchemaVersionError("x"), 503),
        (ConfigError("x"), 503),
        (DataSourceError("x"), 503),
        (KeyError("x"), 500),
        (TypeError("x"), 500),
    ],
)
def test_http_status_of_an_error_is_4xx_for_the_caller_503_for_the_service_500_for_a_bug(
    exc: BaseException, status: int
) -> None:
    assert http_status(exc) == status


def _every_error_class(root: type[BaseException]) -> set[type[BaseException]]:
    return {root} | {c for sub in root.__subclasses__() for c in _every_error_class(sub)}


def test_http_status_maps_every_kind_of_bifrost_error_to_a_4xx_or_503_never_a_500() -> None:
    import bifrost.errors

    kinds = {c for c in _every_error_class(BifrostError) if c.__module__ == bifrost.errors.__name__}
    assert len(kinds) >= 14  # the whole tree, as errors.py draws it
    for kind in kinds:
        assert http_status(kind("x")) in (400, 404, 409, 503), kind


@pytest.mark.parametrize(
    ("exc", "status", "message"),
    [
        (InvalidInputError("confidence must be in (0, 1)"), 400, "confidence must be in (0, 1)"),
        (NotFoundError("no portfolio 'x'"), 404, "no portfolio 'x'"),
        (TransactionRejected("not enough cash"), 409, "not enough cash"),
        (StoreError("/secret/path is damaged"), 503, "/secret/path is damaged"),
        (KeyError("internal detail"), 500, "internal error"),
    ],
)
def test_answers_errors_raises_bentoml_exceptions_with_the_mapped_status(
    exc: BaseException, status: int, message: str
) -> None:
    from bentoml.exceptions import BentoMLException

    @answers_errors
    def endpoint() -> None:
        raise exc

    with pytest.raises(BentoMLException, match=re.escape(message)) as raised:
        endpoint()
    assert raised.value.error_code == status
    assert raised.value.__cause__ is None  # the library's traceback is not chained into the answer


def test_service_settings_are_read_once_from_the_environment_and_refuse_nonsense(tmp_path: Path) -> None:
    env = {"BIFROST_HOME": str(tmp_path), "BIFROST_RISK_SERVICE_TOKEN": "t0k", "BIFROST_SERVE_MAX_QUEUE": "0"}
    got = service_settings("risk", env)
    assert (got.token, got.max_queue, got.max_concurrency, got.queue_timeout_s) == ("t0k", 0, 4, 0.1)
    assert got.workers == default_workers() and got.settings.home == tmp_path
    assert Guard.options(got, description="d") == {
        "token": "t0k", "max_concurrency": 4, "max_queue": 0, "queue_timeout_s": 0.1, "description": "d"
    }
    # requests are not traced unless asked: BentoML's spans otherwise live for the request timeout
    assert got.bento_options() == {
        "workers": default_workers(), "traffic": {"timeout": 30}, "tracing": {"excluded_urls": ".*"}
    }
    traced = service_settings("risk", {**env, "BIFROST_SERVE_TRACING": "1", "BIFROST_SERVE_TIMEOUT_S": "90"})
    assert traced.bento_options() == {"workers": default_workers(), "traffic": {"timeout": 90}}
    for name, value in (("BIFROST_SERVE_WORKERS", "0"), ("BIFROST_SERVE_MAX_CONCURRENCY", "lots"),
                        ("BIFROST_SERVE_QUEUE_TIMEOUT_MS", "-5"), ("BIFROST_SERVE_TRACING", "yes"),
                        ("BIFROST_SERVE_TIMEOUT_S", "0"), ("BIFROST_SERVE_TIMEOUT_S", "1e308")):  # fmt: skip
        with pytest.raises(ConfigError, match=f"{name} must be a whole number from"):
            service_settings("risk", {"BIFROST_HOME": str(tmp_path), name: value})


def test_settle_heap_freezes_what_lives_and_makes_full_collections_rarer() -> None:
    threshold = gc.get_threshold()
    try:
        kept = [[i] for i in range(1000)]  # lives on, as a server's caches do
        frozen = settle_heap()
        assert frozen == gc.get_freeze_count() >= 1000
        scanned = {id(x) for x in gc.get_objects()}  # what a collection still looks at
        assert not any(id(x) in scanned for x in kept)
        assert gc.get_threshold()[2] == 100 and gc.get_threshold()[:2] == threshold[:2]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


# -- the guard ------------------------------------------------------------------------------------


async def _app(scope: Any, receive: Any, send: Any) -> None:
    # the API behind the guard: answers 200 "ok"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _answer(
    guard: Guard, path: str, headers: dict[str, str], method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    # status, headers and body of one call through the guard
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "method": method,
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}  # fmt: skip
    asyncio.run(guard(scope, receive, send))
    start = sent[0]
    got = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], got, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _call(guard: Guard, path: str, headers: dict[str, str], method: str = "POST") -> tuple[int, bytes]:
    status, _, body = _answer(guard, path, headers, method)
    return status, body


JSON = {"content-type": "application/json", "content-length": "2"}
RID = "rid-1"


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        (JSON, 200, "ok"),
        ({"content-type": "multipart/form-data", "content-length": "2"}, 415, "must be JSON"),
        ({"content-type": "application/json"}, 411, "Content-Length"),
        ({"content-type": "application/json", "content-length": "-1"}, 400, "Content-Length must be a number"),
        ({"content-type": "application/json", "content-length": "12abc" * 100}, 400, "Content-Length must be a number"),
        ({"content-type": "application/json", "content-length": str(2**40)}, 413, "at most 1,000 bytes are accepted"),
        ({"content-type": "application/json", "content-length": "9" * 500}, 413, "larger than an exabyte"),
    ],
)
def test_guard_refuses_bodies_that_are_not_bounded_json(headers: dict[str, str], status: int, message: str) -> None:
    got, body = _call(Guard(_app, max_body_bytes=1000), "/var", headers)
    assert got == status and message in body.decode()
    if status != 200:
        assert len(json.loads(body)["error"]) < 200  # a hostile header is never echoed whole


def _answering(status: int, body: bytes, chunks: int = 1) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        step = max(1, len(body) // chunks)
        parts = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})

    return app


@pytest.mark.parametrize("chunks", [1, 3])
def test_guard_gives_every_client_error_one_shape(chunks: int) -> None:
    # BentoML answers an InvalidArgument as [{"error": ...}]
    wrapped = json.dumps([{"error": "horizon_days must be ..."}]).encode()
    status, body = _call(Guard(_answering(400, wrapped, chunks)), "/var", {**JSON, "x-request-id": RID})
    assert status == 400 and json.loads(body) == {"error": "horizon_days must be ...", "detail": [], "request_id": RID}
    # found by QA: pydantic's shape named its model and docs URL, and a 404/405 was plain text
    pydantic = {
        "error": "2 validation errors for Input",
        "detail": [
            {"type": "less_than_equal", "loc": ["confidence"], "msg": "Input should be less than or equal to 1",
             "url": "https://errors.pydantic.dev/2.14/v/less_than_equal"},
            {"type": "json_invalid", "loc": [], "msg": "Invalid JSON: EOF while parsing an object"},
        ],
    }  # fmt: skip
    problems = [
        {"field": "confidence", "message": "Input should be less than or equal to 1"},
        {"field": "body", "message": "Invalid JSON: EOF while parsing an object"},
    ]
    reshaped = {
        json.dumps(pydantic).encode(): ("invalid request: confidence: Input should be less than or equal to 1; "
                                        "body: Invalid JSON: EOF while parsing an object", problems),
        b'{"error": "x", "detail": []}': ("x", []),
        b'{"error": "x", "detail": "a string"}': ("x", []),
        b"Not Found": ("Not Found", []),
        b'[{"a": 1}, {"b": 2}]': ('[{"a": 1}, {"b": 2}]', []),
        b'[{"error": "x"}, {"error": "y"}]': ('[{"error": "x"}, {"error": "y"}]', []),
    }  # fmt: skip
    for sent, (message, detail) in reshaped.items():
        status, body = _call(Guard(_answering(422, sent)), "/var", {**JSON, "x-request-id": RID})
        assert status == 422 and json.loads(body) == {"error": message, "detail": detail, "request_id": RID}
    ok = b'[{"error": "a result that looks like one"}]'
    assert _call(Guard(_answering(200, ok)), "/var", JSON)[1] == ok  # only errors are reshaped


def test_guard_checks_the_token_and_leaves_health_and_docs_open() -> None:
    guard = Guard(_app, token="s3cret")
    assert _call(guard, "/var", JSON)[0] == 401
    assert _call(guard, "/var", {**JSON, "authorization": "Bearer nope"})[0] == 401
    assert _call(guard, "/var", {**JSON, "authorization": "Bearer s3cret"})[0] == 200
    assert _call(guard, "/readyz", {}, method="GET")[0] == 200
    assert _call(guard, "/docs.json", {}, method="GET")[0] == 200
    assert _call(guard, "/static_content/swagger-ui.css", {}, method="GET")[0] == 200  # the docs page's files


def test_guard_serves_the_docs_page_that_asks_no_other_address() -> None:
    guard = Guard(_app, token="s3cret")  # the docs are open, as health is
    status, headers, page = _answer(guard, "/docs", {}, "GET")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in headers["content-security-policy"]
    assert b"googletagmanager" not in page and b"http" not in page  # every address is the service's own
    assert re.findall(rb'(?:src|href)="([^"]+)"', page) == [
        b"/static_content/swagger-ui.css", b"/static_content/swagger-ui-bundle.js", b"/docs/swagger-initializer.js",
    ]  # fmt: skip
    status, _, script = _answer(guard, "/docs/swagger-initializer.js", {}, "GET")
    assert status == 200 and b'url: "/docs.json"' in script and b"validatorUrl: null" in script
    for path in ("/", "/docs/"):  # BentoML's own page at / asks Google Tag Manager for a script
        status, headers, _ = _answer(guard, path, {}, "GET")
        assert status == 307 and headers["location"] == "/docs"
    assert _call(guard, "/docs", JSON, method="POST")[1] == b"ok"  # only a read gets the page
    assert _call(Guard(_app, token=""), "/var", JSON)[0] == 200  # an empty token is no token


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc-123", True), ("a.b_c:d", True), ("x" * 64, True), ("x" * 65, False), ("bad id", False),
     ("évil", False), ("a\r\nset-cookie: x", False), ("", False)],
)  # fmt: skip
def test_guard_keeps_a_safe_request_id_or_makes_one_and_answers_it_on_every_status(given: str, kept: bool) -> None:
    for app, path, headers in ((_app, "/var", JSON), (_app, "/livez", {}), (_app, "/var", {}),
                               (_answering(400, b'[{"error": "x"}]'), "/var", JSON)):  # fmt: skip
        status, got, _ = _answer(Guard(app), path, {**headers, "x-request-id": given})
        rid = got["x-request-id"]
        assert (rid == given) if kept else re.fullmatch(r"[0-9a-f]{32}", rid), (status, rid)


def test_guard_answers_a_server_error_with_its_kind_and_request_id_only() -> None:
    secret = b'{"error": "An unexpected error has occurred: /home/secret/store.db is locked"}'
    for status, kind in ((500, "internal error"), (503, "cannot answer now")):
        got, headers, body = _answer(Guard(_answering(status, secret)), "/var", {**JSON, "x-request-id": "r1"})
        answer = json.loads(body)
        assert got == status and kind in answer["error"] and answer["request_id"] == "r1"
        assert set(answer) == {"error", "detail", "request_id"} and answer["detail"] == []
        assert b"secret" not in body and headers["content-length"] == str(len(body))
        assert ("retry-after" in headers) == (status == 503)


def test_request_id_is_known_inside_the_request_for_its_log_lines() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(request_id())
        await _app(scope, receive, send)

    _answer(Guard(app), "/var", {**JSON, "x-request-id": "trace-me"})
    assert seen == ["trace-me"]


def test_guard_runs_at_most_max_concurrency_lets_max_queue_wait_and_refuses_the_rest_at_once() -> None:
    running: list[int] = []
    peak: list[int] = [0]

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        running.append(1)
        peak[0] = max(peak[0], len(running))
        await asyncio.sleep(0.2)
        running.pop()
        await _app(scope, receive, send)

    async def one(guard: Guard) -> tuple[int, float, dict[str, str]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        t0 = time.perf_counter()
        scope = {"type": "http", "path": "/var", "method": "POST",
                 "headers": [(k.encode(), v.encode()) for k, v in JSON.items()]}  # fmt: skip
        await guard(scope, receive, send)
        return sent[0]["status"], time.perf_counter() - t0, {k.decode(): v.decode() for k, v in sent[0]["headers"]}

    async def burst(guard: Guard) -> list[tuple[int, float, dict[str, str]]]:
        return list(await asyncio.gather(*(one(guard) for _ in range(10))))

    answers = asyncio.run(burst(Guard(slow, max_concurrency=2, max_queue=3, queue_timeout_s=5.0)))
    ok = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 503]
    assert len(ok) == 5 and len(refused) == 5 and peak[0] == 2  # 2 running + 3 waiting; 5 refused
    assert all(t < 0.05 and h["retry-after"] == "1" for _, t, h in refused)  # at once, not after a wait
    statuses = sorted(
        a[0] for a in asyncio.run(burst(Guard(slow, max_concurrency=1, max_queue=5, queue_timeout_s=0.05)))
    )
    assert statuses.count(200) == 1 and statuses.count(503) == 9  # waited 50 ms, then refused
    assert _call(Guard(slow, max_concurrency=1, max_queue=0), "/livez", {}, method="GET")[0] == 200


# -- the server runner -----------------------------------------------------------------------------

# A server shaped like `bentoml serve`: it starts a worker in a session of its own (as circus does),
# writes both pids, and on SIGTERM stops the worker and exits, unless told to ignore SIGTERM.
SERVER = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    out, mode = sys.argv[1], sys.argv[2]
    forever = [sys.executable, "-c", "import time\\nwhile True: time.sleep(0.1)"]
    worker = subprocess.Popen(forever, start_new_session=True)
    def stop(signum, frame):
        if mode == "stubborn":
            return
        if mode == "orphan":  # a worker started as the server exits: no snapshot of the runner ever saw it
            late = subprocess.Popen(forever, start_new_session=True)
            with open(out + ".late", "w") as f:
                f.write(str(late.pid))
            os._exit(0)
        worker.terminate(); worker.wait(); sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with open(out + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {worker.pid}")
    os.rename(out + ".tmp", out)
    while True:
        time.sleep(0.1)
    """
)

RUNNER = textwrap.dedent(
    """
    import sys
    from bifrost._serving import run_server
    code = run_server([sys.executable, sys.argv[1], sys.argv[2], sys.argv[3]], grace_seconds=float(sys.argv[4]),
                      poll_seconds=0.1)
    sys.exit(code)
    """
)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[int]]:
    """Pids the test started, killed at the end whatever happened (by pid and start time: never a stranger)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            process.kill()  # psutil checks the start time: a reused pid is not killed
            process.wait(5)


def _run(tmp_path: Path, mode: str, grace: float, started: list[int]) -> tuple[subprocess.Popen[bytes], list[int]]:
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "runner.py").write_text(RUNNER)
    pids_file = tmp_path / "pids"
    with (tmp_path / "stderr").open("w") as err:
        runner = subprocess.Popen(
            [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "server.py"), str(pids_file), mode,
             str(grace)],
            cwd=ROOT, stderr=err,
        )  # fmt: skip
    started.append(runner.pid)  # remembered with their start times below, while they surely run
    deadline = time.monotonic() + 30
    while not pids_file.exists():
        assert runner.poll() is None and time.monotonic() < deadline, "the fake server did not start"
        time.sleep(0.05)
    server = [int(p) for p in pids_file.read_text().split()]
    started.extend(server)
    time.sleep(0.3)  # the runner has seen the worker at least once
    return runner, server


def _gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_server_forwards_the_signal_and_the_worker_in_its_own_session_stops_too(
    tmp_path: Path, started: list[int], signum: int
) -> None:
    runner, server = _run(tmp_path, "polite", 10.0, started)
    assert os.getsid(server[1]) == server[1] != os.getsid(runner.pid)  # the worker is out of the group's reach
    runner.send_signal(signum)
    assert runner.wait(timeout=20) == 0
    assert _gone(server)


def test_run_server_kills_a_server_that_ignores_the_signal_after_the_grace_period(
    tmp_path: Path, started: list[int]
) -> None:
    runner, server = _run(tmp_path, "stubborn", 1.0, started)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=20) == 1
    assert "did not stop within 1 s of the signal: killed" in (tmp_path / "stderr").read_text()
    assert _gone(server)


def test_run_server_reaps_workers_orphaned_by_a_server_that_exits_without_stopping_them(
    tmp_path: Path, started: list[int]
) -> None:
    runner, server = _run(tmp_path, "orphan", 10.0, started)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=20) == 0
    late = int((tmp_path / "pids.late").read_text())
    started.append(late)
    assert _gone([*server, late])
    assert "left behind" in (tmp_path / "stderr").read_text()


def test_run_server_refuses_a_grace_period_that_is_not_a_duration() -> None:
    for grace in (0, -1, float("nan"), float("inf"), True):
        with pytest.raises(InvalidInputError, match="grace_seconds"):
            run_server(["true"], grace_seconds=grace)


def test_serve_bento_refuses_a_port_in_use_out_of_range_or_an_unknown_host(tmp_path: Path) -> None:
    folder = ROOT / "bentos" / "risk"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(InvalidInputError, match=f"cannot listen on 127.0.0.1:{port}: .*choose another --port"):
            serve_bento(folder, "service:RiskService", host="127.0.0.1", port=port, env={})
    for bad in (0, 70000, -1):
        with pytest.raises(InvalidInputError, match="--port must be a TCP port from 1 to 65535"):
            serve_bento(folder, "service:RiskService", host="127.0.0.1", port=bad, env={})
    with pytest.raises(InvalidInputError, match=r"--host 'no such host\.invalid' is not an address"):
        serve_bento(folder, "service:RiskService", host="no such host.invalid", port=3000, env={})
    with pytest.raises(ConfigError, match="no service 'service:RiskService'"):
        serve_bento(tmp_path, "service:RiskService", host="127.0.0.1", port=3000, env={})


def test_find_service_finds_the_risk_service_by_name_and_refuses_others() -> None:
    folder, service = find_service("risk")
    assert (folder / "service.py").is_file() and service == "service:RiskService"
    assert folder.resolve() == (ROOT / "bentos" / "risk").resolve()
    with pytest.raises(ConfigError, match=r"no service 'nosuch' is installed; services: .*risk"):
        find_service("nosuch")
    for bad in ("../risk", "Risk", "", "r" * 41):
        with pytest.raises(InvalidInputError, match="a service name is"):
            find_service(bad)
    with pytest.raises(InvalidInputError, match="--port must be a TCP port"):
        serve_service("risk", host="127.0.0.1", port=0, env={})


def test_a_client_error_is_logged_as_one_info_line_and_a_bug_keeps_its_traceback() -> None:
    # found by QA: every 400 was logged at ERROR with BentoML's traceback
    from bentoml.exceptions import BentoMLException

    from bifrost._serving import _ClientErrorFilter

    def record(exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException:
            info = sys.exc_info()
        return logging.LogRecord("bentoml", logging.ERROR, __file__, 1, "Exception on %s [%s]", ("/var", "POST"), info)

    client = record(BentoMLException("confidence must be in (0, 1)", error_code=HTTPStatus.BAD_REQUEST))
    assert _ClientErrorFilter().filter(client)
    assert client.levelno == logging.INFO and client.exc_info is None
    assert client.getMessage() == "Exception on /var [POST]: BentoMLException: confidence must be in (0, 1)"
    for bug in (KeyError("a bug"), BentoMLException("internal", error_code=HTTPStatus.INTERNAL_SERVER_ERROR)):
        kept = record(bug)
        assert _ClientErrorFilter().filter(kept)
        assert kept.levelno == logging.ERROR and kept.exc_info is not None
