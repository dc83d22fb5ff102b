"""Logging for job runs: the ``bifrost`` logger, every line of a run tagged with its run id.

Log records get ``run_id`` and ``job`` attributes from the run they belong to: the runner
enters `run_context` around a run (a context variable, so that threads and tasks of other
runs keep their own); inside a job's kernel the runner's ``BIFROST_RUN_ID`` and
``BIFROST_JOB`` environment variables say it. `configure_logging` installs one handler on
the ``bifrost`` logger: text (``2026-12-01T18:15:00Z INFO bifrost.jobs [20261201T181500Z-1a2b3c]
...``) or, with ``BIFROST_LOG_FORMAT=json`` (or ``format="json"``), one JSON object per line
for log shippers: ``ts``, ``level``, ``logger``, ``message``, ``run_id``, ``job`` (and
``exc`` with the traceback).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, Final, Literal, get_args

from bifrost.errors import InvalidInputError

__all__ = [
    "LOG_FORMAT_ENV",
    "JsonFormatter",
    "LogFormat",
    "RunContextFilter",
    "configure_logging",
    "current_run_id",
    "run_context",
]

LogFormat = Literal["text", "json"]
LOG_FORMAT_ENV: Final = "BIFROST_LOG_FORMAT"
RUN_ID_ENV: Final = "BIFROST_RUN_ID"
JOB_ENV: Final = "BIFROST_JOB"

_RUN: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("bifrost_run", default=None)


@contextlib.contextmanager
def run_context(run_id: str, job: str) -> Iterator[None]:
    """Tag every log record made inside the block (this thread or task) with ``run_id`` and ``job``."""
    token = _RUN.set((run_id, job))
    try:
        yield
    finally:
        _RUN.reset(token)


def current_run_id() -> str | None:
    """Return the run id of the run this code runs in: the runner's context, else a job kernel's environment."""
    found = _RUN.get()
    return found[0] if found is not None else os.environ.get(RUN_ID_ENV) or None


def _current() -> tuple[str | None, str | None]:
    found = _RUN.get()
    if found is not None:
        return found
    return os.environ.get(RUN_ID_ENV) or None, os.environ.get(JOB_ENV) or None


class RunContextFilter(logging.Filter):
    """Give each record ``run_id`` and ``job`` (its own ``extra``, else the current run's, else None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        run_id, job = _current()
        if getattr(record, "run_id", None) is None:
            record.run_id = run_id
        if getattr(record, "job", None) is None:
            record.job = job
        return True


class _TextFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime(datefmt or "%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(run_tag)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")

    def format(self, record: logging.LogRecord) -> str:
        run_id = getattr(record, "run_id", None)
        record.run_tag = f" [{run_id}]" if run_id else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts`` (UTC ISO 8601), ``level``, ``logger``, ``message``, ``run_id``, ``job``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", None),
            "job": getattr(record, "job", None),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(
    format: LogFormat | None = None,
    *,
    level: int | str = logging.INFO,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send the ``bifrost`` logger's records to ``stream`` (default stderr) as text or JSON.

    Calling it again replaces the handler it installed before (never a second copy of each line).

    Parameters
    ----------
    format
        ``text`` or ``json``; default: ``BIFROST_LOG_FORMAT``, else text.
    level
        The ``bifrost`` logger's level.
    stream
        Where lines go.

    Returns
    -------
    logging.Handler
        The installed handler.

    Raises
    ------
    InvalidInputError
        If the format (or ``BIFROST_LOG_FORMAT``) is neither text nor json.
    """
    chosen = format if format is not None else (os.environ.get(LOG_FORMAT_ENV) or "text").strip().lower()
    if chosen not in get_args(LogFormat):
        source = "format" if format is not None else LOG_FORMAT_ENV
        raise InvalidInputError(f"{source} must be one of {list(get_args(LogFormat))}, got {chosen!r}")
    logger = logging.getLogger("bifrost")
    for old in [h for h in logger.handlers if getattr(h, "_bifrost_jobs", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._bifrost_jobs = True  # type: ignore[attr-defined]
    handler.addFilter(RunContextFilter())
    handler.setFormatter(JsonFormatter() if chosen == "json" else _TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler
