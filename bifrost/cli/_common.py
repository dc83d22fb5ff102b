"""What every verb group of the ``bifrost`` command shares: the store, output, options, errors.

Conventions (README, "The command line"): ``--json`` prints data as JSON on every verb that
prints data (``--format json`` is kept as an alias where it existed); ``--out FILE`` (``-o``)
names a written file; a quantity's option is the library's name for it (``--horizon-days``);
an option given twice is refused, never silently last-wins.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import typer

from bifrost._json import dumps
from bifrost.config import load_settings, mask_secrets
from bifrost.data import BarStore, IngestReport

Format = Literal["table", "json"]
"""What ``--format`` takes: the old spelling of ``--json``."""

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (machine output).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="table or json (json: the same as --json).")]

MESSAGE_LIMIT = 2000  # characters of one error line: a hostile argument is not echoed whole
_DATE_ONLY = re.compile(r"\s*\d{4}-?\d{2}-?\d{2}\s*")


def store(*, create: bool = False) -> BarStore:
    # only the commands that bring data in create a store: a read (or a change to what is
    # stored) on a mistyped BIFROST_HOME is "no store at ...", not a new empty store there
    from bifrost.data import open_store

    return open_store(load_settings(), create=create)


def wants_json(json_out: bool, fmt: Format) -> bool:
    return json_out or fmt == "json"


def echo_json(value: Any) -> None:
    # every JSON the command prints: non-finite numbers as null, never NaN or Infinity
    typer.echo(dumps(value))


def iso(value: Any) -> Any:
    # a timestamp as ISO 8601 (a daily bar's too: 2014-12-31T00:00:00+00:00), anything else as is
    return value.isoformat() if isinstance(value, pd.Timestamp) else value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # whatever columns the frame has, as JSON-ready rows: timestamps in ISO 8601, numpy
    # scalars as Python ones (a column a store adds is printed without an edit here)
    rows: list[dict[str, Any]] = frame.astype(object).to_dict(orient="records")  # type: ignore[assignment]
    return [{str(k): iso(_plain(v)) for k, v in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    item = getattr(value, "item", None)  # numpy scalars
    return item() if callable(item) and not isinstance(value, pd.Timestamp) else value


def ingest_record(report: IngestReport) -> dict[str, Any]:
    # an ingest's counts and provenance as JSON (the quarantine report's path as text)
    fields = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
    return {k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def finite(value: float | None) -> float | None:
    # a number on the command line is one a market produces: never inf or nan
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"expected a finite number, got {value!r}")
    return value


def end_bound(end: str | None, name: str = "--end") -> pd.Timestamp | None:
    """Return the exclusive upper bound of ``--end``: the next day for a date, the instant for a time.

    ``--end 2014-12-30`` includes that whole day; ``--end "2014-12-30 12:00"`` stops just
    before noon (a daily bar stamped at the next midnight is not in it).
    """
    from bifrost._checks import as_utc_timestamp

    if end is None:
        return None
    ts = as_utc_timestamp(end, name)
    if _DATE_ONLY.fullmatch(end) is not None:
        return ts + pd.Timedelta(days=1)
    return ts


def one_line(text: str) -> str:
    # one line, capped, and no credential (a URL or DSN quoted by an error)
    line = mask_secrets(" ".join(text.split()))
    if len(line) > MESSAGE_LIMIT:
        line = f"{line[:MESSAGE_LIMIT]}… ({len(line) - MESSAGE_LIMIT} more characters)"
    return line


def quote(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def usage_line(exc: typer.TyperException) -> str:
    # a usage error of typer's own click (typer >= 0.20 vendors it as typer._click, so the
    # separate click package's exceptions never match): one line with the usage hint
    message = exc.format_message().replace("Value error, ", "")
    errors_of = getattr(exc.__cause__, "errors", None)
    if callable(errors_of):  # typer coerces with pydantic, whose error holds what arrived
        errors = errors_of()
        given = errors[0].get("input") if errors else None
        if isinstance(given, str | int | float) and repr(given) not in message:
            message = f"{message.rstrip('.')}, got {quote(given)}"
    if not message.endswith((".", "?", ")")):
        message += "."
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return f"bifrost: error: {one_line(message)}"
    path = ctx.command_path
    if message.startswith("Missing command") and hasattr(ctx.command, "list_commands"):
        message = f"Missing command (one of: {', '.join(ctx.command.list_commands(ctx))})."
    return f"{path}: {one_line(message)} Try '{path} --help'."


def show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    # a warning (a repaired row, a derived field) is one line too, not the source line that raised it
    print(f"bifrost: warning: {one_line(str(message))}", file=sys.stderr)
