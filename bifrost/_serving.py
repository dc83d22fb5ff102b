"""Shared service code: the request guard, errors as HTTP statuses, and the server runner.

Imports nothing of BentoML: a service (``bentos/*/service.py``) installs `Guard` as ASGI
middleware and answers a `BifrostError` with `http_status`; the command line starts a
server with `serve_bento`, which owns the server's processes for as long as it runs.

**Statuses.** Bad input is the caller's: `InvalidInputError` and every `DataError` are 400
(`SymbolNotFoundError` 404: the store has no such symbol). A store that cannot be opened,
read or written (`StoreError`), settings that are wrong (`ConfigError`) or a data source
that is down (`DataSourceError`) are the service's and temporary as far as the caller can
tell: 503. Only a bug is a 500.

**Processes.** ``bentoml serve`` runs an arbiter that starts one worker per CPU in
sessions of their own, so signalling the command that launched it reaches neither.
`run_server` starts the server in a new session (its own process group), forwards SIGTERM,
SIGINT and SIGHUP to that group, waits ``grace_seconds`` for it to stop, then kills the
group and every process it ever started: found through their parent chain, remembered
while the server runs, each checked by its start time so a reused pid is never touched.
On Linux the runner is a child subreaper while the server runs, so a worker orphaned by
its arbiter is re-parented to the runner (not to init) and stopped when the server ends.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from bifrost.errors import (
    BifrostError,
    ConfigError,
    DataSourceError,
    InvalidInputError,
    StoreError,
    SymbolNotFoundError,
)

__all__ = ["MAX_BODY_BYTES", "OPEN_PATHS", "Guard", "http_status", "run_server", "serve_bento"]

MAX_BODY_BYTES: Final = 64 * 1024 * 1024  # 64 MiB: 500 symbols × 5,000 days of returns is about 50 MB of JSON
OPEN_PATHS: Final = ("/livez", "/readyz", "/healthz", "/metrics", "/docs", "/docs.json")


def http_status(exc: BaseException) -> int:
    """Return the HTTP status that answers ``exc``: 4xx for the caller's errors, 503 for ours.

    Examples
    --------
    >>> http_status(InvalidInputError("horizon_days must be ..."))
    400
    >>> http_status(StoreError("the store is damaged"))
    503
    >>> http_status(KeyError("a bug"))
    500
    """
    if isinstance(exc, StoreError | ConfigError | DataSourceError):
        return 503
    if isinstance(exc, SymbolNotFoundError):
        return 404
    if isinstance(exc, BifrostError):
        return 400
    return 500


class Guard:
    """ASGI middleware in front of an API: JSON bodies of a bounded size, and the bearer token if set.

    BentoML answers a POST with a malformed content type (``multipart/form-data`` without a
    boundary) with a 500; this answers 415. A body over ``max_body_bytes`` is a 413 before a
    byte of it is read, and a POST must say its length (411) so that the limit holds. Every
    4xx of the API has one shape, ``{"error": message}`` (BentoML wraps its own in a list).
    Health, metrics and docs (``OPEN_PATHS``) stay open.
    """

    def __init__(self, app: Any, token: str | None = None, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.token = token or None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(OPEN_PATHS):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if self.token is not None:
                given = headers.get("authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                    await _reply(send, 401, "missing or wrong bearer token")
                    return
            if scope["method"] == "POST":
                problem = self._body_problem(headers)
                if problem is not None:
                    await _reply(send, *problem)
                    return
            await self.app(scope, receive, _one_error_shape(send))
            return
        await self.app(scope, receive, send)

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


def _one_error_shape(send: Any) -> Any:
    # BentoML answers its 4xx as [{"error": ...}] (a tuple it serialises); every error here is {"error": ...}
    held: dict[str, Any] = {}

    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
            held["start"], held["body"] = message, b""
            return
        if message["type"] == "http.response.body" and "start" in held:
            held["body"] += message.get("body", b"")
            if message.get("more_body"):
                return
            body = _unwrapped(held["body"])
            headers = [(k, v) for k, v in held["start"].get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**held.pop("start"), "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return wrapped


def _unwrapped(body: bytes) -> bytes:
    try:
        value = json.loads(body)
    except ValueError:
        return body
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and "error" in value[0]:
        return json.dumps(value[0]).encode()
    return body


async def _reply(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
    if isinstance(grace_seconds, bool) or not isinstance(grace_seconds, int | float) or not 0 < grace_seconds <= 3600:
        raise InvalidInputError(f"grace_seconds must be in (0, 3600], got {grace_seconds!r}")
    before = set(_descendants(os.getpid()))
    reaper = _subreaper(True)  # orphans of the server become our children, not init's: found after it exits
    proc = subprocess.Popen(list(command), cwd=cwd, env=None if env is None else dict(env), start_new_session=True)
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

    The port is checked first (a port in use is an `InvalidInputError`, not a traceback from
    the server); then ``banner`` goes to stderr and the server runs under `run_server`:
    stopping this process stops all of it.

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
        raise ConfigError(f"no service {service!r} in {folder}; run from a bifrost checkout")
    bentoml = Path(sys.executable).with_name("bentoml")
    if not bentoml.is_file():
        raise ConfigError(f"bentoml is not installed beside {sys.executable}: pip install 'bifrost[ml]'")
    _check_port(host, port)
    command = [str(bentoml), "serve", service, "--host", host, "--port", str(port)]
    if banner:
        print(banner, file=sys.stderr)

    def stopping(signum: int) -> None:
        print(f"bifrost: {signal.Signals(signum).name}: stopping the server on {host}:{port}", file=sys.stderr)

    return run_server(command, cwd=folder, env=env, grace_seconds=grace_seconds, on_signal=stopping)
