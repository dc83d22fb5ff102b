"""Shared service code: settings, the request guard, errors as HTTP statuses, and the server runner.

Imports nothing of BentoML at import time: a service (``bentos/*/service.py``) reads its
`ServiceSettings` once at start-up, installs `Guard` as ASGI middleware and wraps each
endpoint in `answers_errors`; the command line starts a service by its name with
`serve_service`, which finds it through the installed package and owns the server's
processes for as long as it runs.

**Statuses** (`http_status`, the one mapping every service uses). Bad input is the
caller's: `InvalidInputError` and any other `BifrostError` are 400 with their message;
`NotFoundError` (a portfolio, a symbol, ...) is 404; `TransactionRejected` (a refused
transaction, later a refused order: well-formed, but the ledger's state does not allow it)
is 409 Conflict. A store that cannot be opened, read or written (`StoreError`), settings
that are wrong (`ConfigError`) or a data source that is down (`DataSourceError`) are the
service's and temporary as far as the caller can tell: 503 with ``Retry-After``. An
unexpected exception is a bug: 500, logged with its request id, and the answer says
nothing of it but that id.

**Request ids.** An incoming ``X-Request-ID`` of at most 64 safe characters
(``A-Z a-z 0-9 . _ : -``) is kept, any other is replaced by a new one; every answer carries
it in ``X-Request-ID`` (errors too) and the service's log lines for the request name it.

**Overload is answered, not queued.** `Guard` admits at most ``max_concurrency`` API calls
at a time per worker and lets ``max_queue`` more wait at most ``queue_timeout_s``; beyond
that a call is answered at once with 503 and ``Retry-After: 1``, so a burst costs its
excess a fast refusal instead of every caller a growing queue. Health, metrics and docs are
never limited.

**One error shape.** Every answer of status 400 or more is ``{"error": message, "detail":
[{"field": ..., "message": ...}, ...], "request_id": id}``: ``detail`` lists the fields a
request got wrong (empty when the error is not about one field), whatever BentoML or
pydantic answered underneath.

**Docs.** ``GET /docs`` is the Swagger page of the service's OpenAPI (``/docs.json``), served
from files installed with BentoML and no other address (a ``Content-Security-Policy`` of
``'self'`` keeps the browser from asking anywhere else: BentoML's own page at ``/`` asks
Google Tag Manager for a script, so ``/`` sends the browser to ``/docs``).

**Processes.** ``bentoml serve`` runs an arbiter that starts its workers in sessions of
their own, so signalling the command that launched it reaches neither. `run_server`
starts the server in a new session (its own process group), forwards SIGTERM, SIGINT and
SIGHUP to that group, waits ``grace_seconds`` for it to stop, then kills the group and
every process it ever started: found through their parent chain, remembered while the
server runs, each checked by its start time so a reused pid is never touched. On Linux
the runner is a child subreaper while the server runs, so a worker orphaned by its arbiter
is re-parented to the runner (not to init) and stopped when the server ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
import hmac
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final, ParamSpec, TypeVar

from bifrost._checks import is_number
from bifrost.config import Settings, load_settings
from bifrost.errors import (
    BifrostError,
    ConfigError,
    DataSourceError,
    InvalidInputError,
    NotFoundError,
    StoreError,
    TransactionRejected,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "MAX_BODY_BYTES",
    "OPEN_PATHS",
    "REQUEST_ID_HEADER",
    "Guard",
    "ServiceSettings",
    "answers_errors",
    "default_workers",
    "find_service",
    "http_status",
    "request_id",
    "run_server",
    "serve_bento",
    "serve_service",
    "service_settings",
    "settle_heap",
]

MAX_BODY_BYTES: Final = 64 * 1024 * 1024  # 64 MiB: 500 symbols × 5,000 days of returns is about 50 MB of JSON
OPEN_PATHS: Final = ("/livez", "/readyz", "/healthz", "/metrics", "/docs", "/static_content/")
REQUEST_ID_HEADER: Final = "x-request-id"
ENTRY_POINT_GROUP: Final = "bifrost.services"  # name -> "module:Class" of a BentoML service (pyproject.toml)
RETRY_AFTER_S: Final = 1

_log = logging.getLogger("bifrost.serving")
_REQUEST_ID_OK: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("bifrost_request_id", default="-")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def http_status(exc: BaseException) -> int:
    """Return the HTTP status that answers ``exc``: 4xx for the caller's errors, 503 for ours, 500 for a bug.

    Examples
    --------
    >>> http_status(InvalidInputError("horizon_days must be ..."))
    400
    >>> http_status(NotFoundError("no portfolio 'x'"))
    404
    >>> http_status(TransactionRejected("not enough cash"))
    409
    >>> http_status(StoreError("the store is damaged"))
    503
    >>> http_status(KeyError("a bug"))
    500
    """
    if isinstance(exc, StoreError | ConfigError | DataSourceError):
        return 503
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, TransactionRejected):
        return 409
    if isinstance(exc, BifrostError):
        return 400
    return 500


def request_id() -> str:
    """Return the id of the request being answered (``"-"`` outside one), for log lines."""
    return _request_id.get()


def _given_request_id(headers: Mapping[str, str]) -> str:
    given = headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID_OK.fullmatch(given) else uuid.uuid4().hex


class _RequestIdFilter(logging.Filter):
    # appends the request id to each line a handler writes while a request is answered
    def filter(self, record: logging.LogRecord) -> bool:
        rid = _request_id.get()
        if rid != "-" and not getattr(record, "bifrost_request_id", None):
            record.bifrost_request_id = rid
            if hasattr(record, "trace_msg"):  # BentoML's server format ends with %(trace_msg)s
                record.trace_msg = f"{record.trace_msg} (request_id={rid})"
            else:
                record.msg, record.args = f"{record.getMessage()} (request_id={rid})", None
        return True


def _name_request_ids_in_logs() -> None:
    # on the handlers of the server's loggers (BentoML's and the root), once per process
    for logger in (logging.getLogger("bentoml"), logging.getLogger()):
        for handler in logger.handlers:
            if not any(isinstance(f, _RequestIdFilter) for f in handler.filters):
                handler.addFilter(_RequestIdFilter())
    errors = logging.getLogger(_BENTOML_ERROR_LOGGER)
    if not any(isinstance(f, _ClientErrorFilter) for f in errors.filters):
        errors.addFilter(_ClientErrorFilter())


_BENTOML_ERROR_LOGGER: Final = "bentoml._internal.server.http_app"  # its log_exception: "Exception on /var [POST]"


class _ClientErrorFilter(logging.Filter):
    # BentoML logs every refused request at ERROR with a traceback; a caller's mistake (a 4xx:
    # pydantic's validation, a BifrostError mapped below 500) becomes one INFO line saying why,
    # so that a traceback in the log means a bug or an outage
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _client_error(exc):
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {_cut(' '.join(str(exc).split()))}"
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _client_error(exc: BaseException) -> bool:
    from pydantic import ValidationError as PydanticValidationError

    if isinstance(exc, PydanticValidationError):
        return True
    code = getattr(exc, "error_code", None)  # BentoMLException's HTTP status
    return isinstance(code, int) and 400 <= int(code) < 500


def answers_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wrap an endpoint so that each error is answered with its `http_status`, never BentoML's own 500.

    A `BifrostError` becomes BentoML's ``BentoMLException`` with the mapped status and its
    message (4xx show it; `Guard` replaces a 5xx body by one that names only the request
    id); any other exception is logged with its traceback and request id and answered 500.

    The first call of each endpoint ends by moving everything alive into the garbage
    collector's permanent generation (`settle_heap`): what that call imported and cached lives
    as long as the worker, and full collections over it otherwise pause later calls.
    """
    settled = False

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        from bentoml.exceptions import BentoMLException

        nonlocal settled
        try:
            return fn(*args, **kwargs)
        except BifrostError as exc:
            status = http_status(exc)
            if status >= 500:
                _log.warning("request %s: %s: %s", request_id(), type(exc).__name__, exc)
            raise BentoMLException(str(exc), error_code=HTTPStatus(status)) from None
        except Exception as exc:
            _log.exception("request %s: unexpected %s in %s", request_id(), type(exc).__name__, fn.__qualname__)
            raise BentoMLException("internal error", error_code=HTTPStatus.INTERNAL_SERVER_ERROR) from None
        finally:
            if not settled:
                settled = True
                settle_heap()

    return wrapper


def settle_heap() -> int:
    """Collect garbage once, then freeze what is left out of the cyclic collector; return how many objects it holds.

    A server's modules, settings and caches live as long as its process. Frozen (`gc.freeze`),
    they are never scanned again, so a full collection costs what requests left behind, not
    the whole heap: on the risk service a full pass over the unfrozen heap took 30–130 ms,
    every few seconds under load (objects a frozen heap still frees by reference counting
    are freed as before). Full collections then run every 100 middle-generation ones instead
    of every 10.
    """
    gc.collect()
    gc.freeze()
    # and what requests leave alive for a while (BentoML's request-timeout timers hold each
    # request's context for 30 s) is scanned by a full collection every 100 middle ones, not 10
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _FULL_COLLECTION_EVERY)
    return gc.get_freeze_count()


_FULL_COLLECTION_EVERY: Final = 100


# -- settings -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSettings:
    """A service's settings, read once at start-up (`service_settings`).

    ``max_concurrency`` API calls run at once in each worker, ``max_queue`` more wait at most
    ``queue_timeout_s``; the rest are refused at once with 503. ``workers`` is the number of
    server processes.
    """

    name: str
    settings: Settings
    token: str | None
    workers: int
    max_concurrency: int
    max_queue: int
    queue_timeout_s: float
    tracing: bool = False
    timeout_s: int = 30

    def bento_options(self) -> dict[str, Any]:
        """Return the keyword arguments of ``bentoml.service`` these settings give: workers, timeout, tracing.

        BentoML traces every request with OpenTelemetry even when nothing exports the spans
        (its default ``sample_rate`` is 0), and under keep-alive each span stays alive in the
        request's context until the request timeout's timer fires: on the risk service 24
        objects per request kept for 30 s, 3.2 ms of worker CPU per request instead of about
        2, and full collections over them. So requests are not traced unless
        ``BIFROST_SERVE_TRACING=1`` (then BentoML's ``tracing`` settings apply).
        """
        options: dict[str, Any] = {"workers": self.workers, "traffic": {"timeout": self.timeout_s}}
        if not self.tracing:
            options["tracing"] = {"excluded_urls": ".*"}  # a regular expression every URL matches
        return options


def default_workers(cpus: int | None = None) -> int:
    """Return the worker processes for a machine of ``cpus`` cores: half of them, at least one.

    Each worker's numpy kernels and threadpool use more than one core, and a caller on the same
    machine (a load test, a notebook) needs one: on 2 cores one worker, on 16 eight.

    >>> default_workers(2), default_workers(16)
    (1, 8)
    """
    return max(1, (cpus if cpus is not None else (os.cpu_count() or 1)) // 2)


def service_settings(name: str, environ: Mapping[str, str] | None = None) -> ServiceSettings:
    """Read the settings of the service ``name`` once: bifrost's own, its bearer token, and its limits.

    The token is ``BIFROST_<NAME>_SERVICE_TOKEN`` or ``[keys] <name>_service_token``; the limits
    come from ``BIFROST_SERVE_WORKERS`` (default: `default_workers`), ``BIFROST_SERVE_MAX_CONCURRENCY``
    (4 per worker), ``BIFROST_SERVE_MAX_QUEUE`` (16) and ``BIFROST_SERVE_QUEUE_TIMEOUT_MS`` (100);
    ``BIFROST_SERVE_TIMEOUT_S`` (30) is the longest a call may take to start answering (504 after),
    and ``BIFROST_SERVE_TRACING=1`` turns BentoML's OpenTelemetry request spans on.

    Raises
    ------
    ConfigError
        If a limit is not a whole number in its range, or bifrost's settings are wrong.
    """
    env = os.environ if environ is None else environ
    settings = load_settings(env)
    return ServiceSettings(
        name=name,
        settings=settings,
        token=settings.keys.get(f"{name}_service_token") or None,
        workers=_env_int(env, "BIFROST_SERVE_WORKERS", default_workers(), 1, 256),
        max_concurrency=_env_int(env, "BIFROST_SERVE_MAX_CONCURRENCY", 4, 1, 10_000),
        max_queue=_env_int(env, "BIFROST_SERVE_MAX_QUEUE", 16, 0, 100_000),
        queue_timeout_s=_env_int(env, "BIFROST_SERVE_QUEUE_TIMEOUT_MS", 100, 1, 60_000) / 1000,
        tracing=_env_int(env, "BIFROST_SERVE_TRACING", 0, 0, 1) == 1,
        timeout_s=_env_int(env, "BIFROST_SERVE_TIMEOUT_S", 30, 1, 3600),
    )


def _env_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high:,}, got {raw[:40]!r}")
    return int(raw)


# -- the guard ------------------------------------------------------------------------------------


class Guard:
    """ASGI middleware in front of an API: request ids, admission, JSON bodies of a bounded size, the token.

    Every answer carries ``X-Request-ID``. API calls (not `OPEN_PATHS`) need the bearer token
    if one is set (401), and a POST a JSON body that says its length and is at most
    ``max_body_bytes`` (415, 411, 413: BentoML answers a ``multipart/form-data`` body without
    a boundary with a 500). At most ``max_concurrency`` calls run at once and ``max_queue``
    wait at most ``queue_timeout_s``; any other is a 503 with ``Retry-After`` at once. Every
    4xx has one shape, ``{"error": message}`` (BentoML wraps its own in a list); a 5xx says
    only what kind of failure it was and the request id (the detail is in the server log).
    """

    def __init__(
        self,
        app: Any,
        token: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        *,
        max_concurrency: int = 4,
        max_queue: int = 16,
        queue_timeout_s: float = 0.1,
        description: str = "",
    ) -> None:
        self.app = app
        self.description = description
        self.token = token or None
        self.max_body_bytes = max_body_bytes
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop, on the first call
        self._waiting = 0
        _name_request_ids_in_logs()

    @classmethod
    def options(cls, settings: ServiceSettings, *, description: str = "") -> dict[str, Any]:
        """Return the keyword arguments of a guard for ``settings`` (for ``add_asgi_middleware``).

        ``description`` is the text of the service's OpenAPI document (``/docs.json``, shown at ``/docs``).
        """
        return {
            "token": settings.token, "max_concurrency": settings.max_concurrency, "max_queue": settings.max_queue,
            "queue_timeout_s": settings.queue_timeout_s, "description": description,
        }  # fmt: skip

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = _given_request_id(headers)
        # not reset on the way out: the server's access log, written by a middleware outside this one in
        # the same task, names the id too; each request runs in a task (a context) of its own
        _request_id.set(rid)
        docs = _docs_answer(scope)
        if docs is not None:
            await _send_whole(_answered(send, rid), *docs)
            return
        send = _answered(send, rid)
        if scope["path"] == "/docs.json":
            send = _described(send, self.description)
        if scope["path"].startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        problem = self._request_problem(scope, headers)
        if problem is not None:
            await _reply(send, *problem)
            return
        await self._admitted(scope, receive, send)

    def _request_problem(self, scope: Any, headers: Mapping[str, str]) -> tuple[int, str] | None:
        if self.token is not None:
            given = headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return 401, "missing or wrong bearer token"
        if scope["method"] == "POST":
            return self._body_problem(headers)
        return None

    async def _admitted(self, scope: Any, receive: Any, send: Any) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrency)
        slots = self._slots
        if slots.locked():
            if self._waiting >= self.max_queue:
                await _reply(send, 503, f"overloaded: {self.max_concurrency} calls running, {self._waiting} waiting")
                return
            self._waiting += 1
            try:
                await asyncio.wait_for(slots.acquire(), self.queue_timeout_s)
            except TimeoutError:
                await _reply(send, 503, f"overloaded: no call finished within {self.queue_timeout_s:g} s")
                return
            finally:
                self._waiting -= 1
        else:
            await slots.acquire()
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()

    def _body_problem(self, headers: Mapping[str, str]) -> tuple[int, str] | None:
        if not headers.get("content-type", "").startswith("application/json"):
            return 415, "the body must be JSON (Content-Type: application/json)"
        length = headers.get("content-length")
        if length is None:
            return 411, "say the body's length (Content-Length); chunked bodies are not accepted"
        if not length.isdigit():
            return 400, f"Content-Length must be a number of bytes, got {length[:40]!r}"
        if len(length) > 18 or int(length) > self.max_body_bytes:
            shown = f"{int(length):,} bytes" if len(length) <= 18 else "larger than an exabyte"
            return 413, f"the body is {shown}; at most {self.max_body_bytes:,} bytes are accepted"
        return None


_SERVER_ERRORS: Final = {
    503: "the service cannot answer now (its store, settings or a data source is unavailable); retry later",
    500: "internal error",
}


def _answered(send: Any, rid: str) -> Any:
    # every answer gets the request id; a 4xx gets one shape ([{"error": ...}] from BentoML becomes
    # {"error": ...}); a 5xx body is replaced by one that tells nothing internal; a 503 says when to retry
    held: dict[str, Any] = {}
    rid_header = (REQUEST_ID_HEADER.encode(), rid.encode())

    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER.encode()]
            message = {**message, "headers": [*headers, rid_header]}
            if message["status"] >= 400:
                held["start"], held["body"] = message, b""
                return
        if message["type"] == "http.response.body" and "start" in held:
            held["body"] += message.get("body", b"")
            if message.get("more_body"):
                return
            start = held.pop("start")
            status = start["status"]
            body = _unwrapped(held["body"], rid) if status < 500 else _server_error(status, held["body"], rid)
            dropped = (b"content-length", b"content-type")
            headers = [(k, v) for k, v in start["headers"] if k.lower() not in dropped]
            headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(body)).encode()))
            if status == 503 and not any(k.lower() == b"retry-after" for k, _ in headers):
                headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return wrapped


def _described(send: Any, description: str) -> Any:
    # the OpenAPI document describes the service, not BentoML (its default text links its Slack
    # and badges the docs page may not load)
    held: dict[str, Any] = {}

    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            held["start"], held["body"] = message, b""
            return
        if message["type"] == "http.response.body" and "start" in held:
            held["body"] += message.get("body", b"")
            if message.get("more_body"):
                return
            start, body = held.pop("start"), held.pop("body")
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                spec = json.loads(body)
                spec["info"]["description"] = description
                body = json.dumps(spec).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await _send_whole(send, start["status"], headers, body)
            return
        await send(message)

    return wrapped


def _server_error(status: int, body: bytes, rid: str) -> bytes:
    # our own 503s (overload) say so; every other 5xx says only its kind and the request id
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        message = json.loads(body)["error"]
        if status == 503 and message.startswith("overloaded"):
            return _error_body(f"{message}; retry in {RETRY_AFTER_S} s", rid)
    kind = _SERVER_ERRORS.get(status, "server error")
    return _error_body(f"{kind} (request id {rid}; the detail is in the server log)", rid)


def _error_body(message: str, rid: str, detail: Sequence[Mapping[str, str]] = ()) -> bytes:
    return json.dumps({"error": message, "detail": list(detail), "request_id": rid}).encode()


def _unwrapped(body: bytes, rid: str) -> bytes:
    # every client error in one shape: BentoML's [{"error": ...}], pydantic's
    # {"error": "1 validation error for Input", "detail": [...]} (its model name, docs URLs and
    # version stay out: each problem as a field and a message), and plain-text 404/405 answers
    try:
        value = json.loads(body)
    except ValueError:
        return _error_body(_cut(body.decode("utf-8", "replace").strip() or "request refused"), rid)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and "error" in value[0]:
        value = value[0]
    if isinstance(value, dict) and isinstance(value.get("detail"), list) and value["detail"]:
        problems = [_problem(d) for d in value["detail"][:_SHOWN_PROBLEMS]]
        more = len(value["detail"]) - len(problems)
        shown = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        message = "invalid request: " + shown + (f" (and {more} more)" if more > 0 else "")
        return _error_body(message, rid, problems)
    if isinstance(value, dict) and isinstance(value.get("error"), str):
        return _error_body(value["error"], rid)
    return _error_body(_cut(body.decode("utf-8", "replace")), rid)


_SHOWN_PROBLEMS: Final = 5


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _problem(detail: object) -> dict[str, str]:
    if not isinstance(detail, dict):
        return {"field": "body", "message": _cut(str(detail))}
    where = ".".join(str(part) for part in detail.get("loc", ()) if part != "body") or "body"
    return {"field": _cut(where, 80), "message": _cut(str(detail.get("msg", "invalid")))}


async def _reply(send: Any, status: int, message: str) -> None:
    # through `_answered`, which gives the body the one error shape and the request id
    await _send_whole(send, status, [(b"content-type", b"application/json")], json.dumps({"error": message}).encode())


async def _send_whole(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- the docs page ------------------------------------------------------------------------------

# BentoML's Swagger page (at "/") loads a Google Tag Manager script; this one loads only the
# Swagger UI files BentoML installs (served by it at /static_content/) and the service's own
# OpenAPI document, and the Content-Security-Policy keeps the browser from asking anywhere else
_DOCS_PAGE: Final = b"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>API</title>
<link rel="stylesheet" type="text/css" href="/static_content/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
<script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
</body>
</html>
"""
_DOCS_SCRIPT: Final = b"""window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/docs.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
};
"""
_DOCS_POLICY: Final = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"connect-src 'self'; frame-ancestors 'none'"
)


def _docs_answer(scope: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
    if scope.get("method") not in ("GET", "HEAD"):
        return None
    path = scope["path"]
    if path in ("/", "/docs/"):
        return 307, [(b"location", b"/docs"), (b"content-type", b"text/plain")], b"see /docs"
    policy = (b"content-security-policy", _DOCS_POLICY)
    if path == "/docs":
        return 200, [(b"content-type", b"text/html; charset=utf-8"), policy], _DOCS_PAGE
    if path == "/docs/swagger-initializer.js":
        return 200, [(b"content-type", b"text/javascript; charset=utf-8"), policy], _DOCS_SCRIPT
    return None


# -- the server's processes ---------------------------------------------------------------------

_FORWARDED: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _start_time(pid: int) -> int | None:
    # field 22 of /proc/<pid>/stat: when the process started (clock ticks since boot); None if gone
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name (field 2) may hold spaces
    return int(fields[19])


def _descendants(root: int) -> dict[int, int | None]:
    # every process below `root` by its parent chain, with its start time (Linux /proc; empty elsewhere)
    parents: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out: dict[int, int | None] = {}
    todo = list(parents.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in out:
            out[pid] = _start_time(pid)
            todo.extend(parents.get(pid, []))
    return out


def _alive(pids: Mapping[int, int | None]) -> dict[int, int | None]:
    # the processes still running that are the ones remembered (same pid, same start time)
    return {pid: t for pid, t in pids.items() if t is not None and _start_time(pid) == t}


def _signal(pids: Mapping[int, int | None], signum: int) -> None:
    for pid in _alive(pids):  # a pid that is gone, or reused by another process, is never signalled
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def run_server(
    command: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    grace_seconds: float = 10.0,
    poll_seconds: float = 0.5,
    on_signal: Callable[[int], None] | None = None,
) -> int:
    """Run ``command`` as a server in its own session until it exits or this process is told to stop.

    SIGTERM, SIGINT and SIGHUP are forwarded to the server's process group; after
    ``grace_seconds`` the group and every process the server started are killed. Whatever
    the server started is gone when this returns, also if it exits on its own.

    Returns
    -------
    int
        0 if the server stopped when asked; 1 if it had to be killed; otherwise its own
        exit status (a negative signal number if a signal it was not sent killed it).
    """
    if not is_number(grace_seconds) or not 0 < grace_seconds <= 3600:
        raise InvalidInputError(f"grace_seconds must be in (0, 3600], got {grace_seconds!r}")
    before = set(_descendants(os.getpid()))
    reaper = _subreaper(True)  # orphans of the server become our children, not init's: found after it exits
    proc = subprocess.Popen(
        list(command), cwd=cwd, env=None if env is None else dict(env), start_new_session=True,
        preexec_fn=_terminated_with_us(),
    )  # fmt: skip
    known: dict[int, int | None] = {proc.pid: _start_time(proc.pid)}
    asked: list[float] = []

    def forward(signum: int, _frame: Any) -> None:
        if not asked:
            asked.append(time.monotonic())
            if on_signal is not None:
                on_signal(signum)
        known.update(_descendants(proc.pid))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signum)  # the arbiter stops its own workers when it is told to

    previous = {s: signal.signal(s, forward) for s in _FORWARDED}
    killed = False
    try:
        while True:
            try:
                code = proc.wait(timeout=poll_seconds)
                break
            except subprocess.TimeoutExpired:
                known.update(_descendants(proc.pid))  # remembered now: orphans lose their parent chain
                if asked and time.monotonic() - asked[0] > grace_seconds:
                    killed = True
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    _signal(known, signal.SIGKILL)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc.poll() is None:  # an exception in the loop (KeyboardInterrupt before the handler was set)
            killed = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if reaper:
            known.update({p: t for p, t in _descendants(os.getpid()).items() if p not in before})
        _reap(known, grace_seconds)
        if reaper:
            _subreaper(False)
    if killed:
        print(
            f"bifrost: error: the server did not stop within {grace_seconds:g} s of the signal: killed", file=sys.stderr
        )
        return 1
    return 0 if asked else code


def _terminated_with_us() -> Callable[[], None] | None:
    # Linux: the server gets SIGTERM when this process dies, even by SIGKILL, which no handler
    # sees (it kept serving the port); it then stops its workers as on any SIGTERM. Built here,
    # not in the child: between fork and exec the child must not import.
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1  # <sys/prctl.h>

    def ask() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return ask


def _subreaper(on: bool) -> bool:
    # Linux prctl(PR_SET_CHILD_SUBREAPER): a worker whose arbiter died is re-parented to us
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return int(ctypes.CDLL(None, use_errno=True).prctl(36, int(on), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _reap(known: Mapping[int, int | None], grace_seconds: float) -> None:
    # what is left of the server (workers in sessions of their own): asked to stop, then killed
    left = _alive({pid: t for pid, t in known.items() if pid != os.getpid()})
    if left:
        print(f"bifrost: stopping {len(left)} process(es) the server left behind: {sorted(left)}", file=sys.stderr)
        _signal(left, signal.SIGTERM)
        deadline = time.monotonic() + min(grace_seconds, 5.0)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            _collect(left)
            left = _alive(left)
        if left:
            print(
                f"bifrost: killing {sorted(left)}: still running {min(grace_seconds, 5.0):g} s later", file=sys.stderr
            )
        _signal(left, signal.SIGKILL)
        time.sleep(0.1)
    _collect(known)


def _collect(pids: Mapping[int, int | None]) -> None:
    # wait for those that became our children (as a subreaper) so that none is left a zombie
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _check_port(host: str, port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidInputError(f"--port must be a TCP port from 1 to 65535, got {port!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInputError(f"--host {host!r} is not an address this machine can bind: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise InvalidInputError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port or stop what uses it"
            ) from None


def find_service(name: str) -> tuple[Path, str]:
    """Return the folder of the service ``name`` and its ``module:Class`` there, from the installed package.

    A service is registered as an entry point of the group ``bifrost.services``
    (``risk = "bentos.risk.service:RiskService"`` in pyproject.toml), so it is found in an
    installed wheel as in a checkout; a checkout installed before the entry point existed is
    searched by its ``bentos/<name>/bentofile.yaml``.

    Raises
    ------
    InvalidInputError
        If ``name`` is not a service name (lower-case letters, digits, ``_``).
    ConfigError
        If no installed service has that name.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise InvalidInputError(f"a service name is lower-case letters, digits and _, got {str(name)[:60]!r}")
    registered = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name in registered:
        module, _, attr = registered[name].partition(":")
        with contextlib.suppress(ImportError, ValueError):
            spec = importlib.util.find_spec(module)
            if spec is not None and spec.origin is not None:
                origin = Path(spec.origin)
                return origin.parent, f"{origin.stem}:{attr}"
    checkout = Path(__file__).resolve().parents[1] / "bentos" / name / "bentofile.yaml"
    if checkout.is_file():
        declared = re.search(r"^service:\s*[\"']?([\w.]+:\w+)", checkout.read_text(encoding="utf-8"), re.MULTILINE)
        if declared is not None:
            return checkout.parent, declared[1]
    known = sorted(set(registered) | _checkout_services())
    raise ConfigError(f"no service {name!r} is installed; services: {', '.join(known) or 'none'}")


def _checkout_services() -> set[str]:
    bentos = Path(__file__).resolve().parents[1] / "bentos"
    return {p.parent.name for p in bentos.glob("*/bentofile.yaml")} if bentos.is_dir() else set()


def serve_service(
    name: str,
    *,
    host: str,
    port: int,
    env: Mapping[str, str],
    grace_seconds: float = 10.0,
    banner: str | None = None,
) -> int:
    """Serve the installed service ``name`` (`find_service`) on ``host:port`` until stopped.

    The port is checked first (a port in use is an `InvalidInputError`, not a traceback from
    the server); then ``banner`` goes to stderr and the server runs under `run_server`:
    stopping this process stops all of it. Returns the exit status `run_server` gives.

    Raises
    ------
    ConfigError
        If no such service is installed or ``bentoml`` is not installed beside this Python.
    InvalidInputError
        If the name is not a service name, the port is out of range or cannot be bound, or the
        host cannot be resolved.
    """
    folder, service = find_service(name)
    return serve_bento(folder, service, host=host, port=port, env=env, grace_seconds=grace_seconds, banner=banner)


def serve_bento(
    folder: str | Path,
    service: str,
    *,
    host: str,
    port: int,
    env: Mapping[str, str],
    grace_seconds: float = 10.0,
    banner: str | None = None,
) -> int:
    """Serve the BentoML ``service`` (``module:Class``) of ``folder`` on ``host:port`` until stopped.

    `serve_service` finds the folder by the service's name; this serves any folder.

    Raises
    ------
    ConfigError
        If ``folder`` has no service module or ``bentoml`` is not installed beside this Python.
    InvalidInputError
        If the port is out of range or cannot be bound, or the host cannot be resolved.
    """
    folder = Path(folder)
    module = service.partition(":")[0]
    if not (folder / f"{module}.py").is_file():
        raise ConfigError(f"no service {service!r} in {folder}")
    if importlib.util.find_spec("bentoml") is None:
        raise ConfigError(f"bentoml is not installed beside {sys.executable}: pip install 'bifrost[ml]'")
    _check_port(host, port)
    command = [sys.executable, "-m", "bentoml", "serve", service, "--host", host, "--port", str(port)]
    if banner:
        print(banner, file=sys.stderr)

    def stopping(signum: int) -> None:
        print(f"bifrost: {signal.Signals(signum).name}: stopping the server on {host}:{port}", file=sys.stderr)

    return run_server(command, cwd=folder, env=env, grace_seconds=grace_seconds, on_signal=stopping)
