"""``bifrost jobs``: list the jobs of ``jobs.toml``, run one, read the run history, schedule them.

``bifrost jobs run NAME -p key=value ... [--key K] [--json]`` exits 0 when the run succeeded
(or, asked again with the key of a run still going, when that run is queued or running),
1 when it failed, timed out, its kernel died or it was abandoned, and 2 when it was refused
before starting (an unknown job, a bad parameter, a key naming another request: one line
naming it, no run recorded). Stopped by SIGINT or SIGTERM mid-run, it kills the kernel,
records the run ``canceled`` ("stopped by SIGTERM") and exits 130 or 143.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from bifrost.cli._common import JsonOpt, echo_json, store
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.jobs._logging import LogFormat
from bifrost.jobs._scheduler import MissedPolicy

NAME = "jobs"
app = typer.Typer(help="Papermill jobs: list, run, history, schedule (papermill_jobs/jobs.toml).")

ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", help="A notebook parameter as NAME=VALUE (repeat for each); text is read as the declared type."
    ),
]
LogFormatOpt = Annotated[
    LogFormat | None,
    typer.Option(
        "--log-format", help="text or json (one JSON object per line); default BIFROST_LOG_FORMAT, else text."
    ),
]


def _parameters(texts: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for text in texts or []:
        name, eq, value = text.partition("=")
        name = name.strip()
        if not eq or not name:
            raise InvalidInputError(f"--param takes NAME=VALUE (e.g. -p n_days=20), got {text!r}")
        if name in out:
            raise InvalidInputError(f"--param {name} is given twice; give each parameter once")
        out[name] = value
    return out


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


@app.command("list")
def jobs_list(json_out: JsonOpt = False) -> None:
    """List the jobs that jobs.toml declares: notebook, schedule, time zone."""
    from bifrost.jobs import load_jobs

    jobs = load_jobs()
    if json_out:
        echo_json([spec.to_dict() for spec in jobs.values()])
        return
    rows = [
        (s.name, s.schedule or "(on demand)", s.timezone, f"{s.timeout_s:g} s", s.notebook.name, s.description)
        for s in jobs.values()
    ]
    _table(("job", "schedule", "timezone", "timeout", "notebook", "description"), rows)


@app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The job's name (bifrost jobs list).")],
    param: ParamOpt = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: asked again, the run it named is returned, not rerun.")
    ] = None,
    log_format: LogFormatOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only (no per-cell progress).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log the notebook's outputs too.")] = False,
    json_out: JsonOpt = False,
) -> int:
    """Run a job now and record it; exit 0 if it succeeded, 1 if not, 2 if refused."""
    import logging
    import signal

    from bifrost.jobs import RunStatus, configure_logging, load_jobs, run_job, validate_parameters
    from bifrost.jobs._runner import RunInterrupted

    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = configure_logging(log_format, level=level)

    def stop(signum: int, frame: Any) -> None:
        raise RunInterrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        jobs = load_jobs()
        if name not in jobs:
            raise NotFoundError(f"no job {name!r}; known jobs: {', '.join(jobs) or 'none'} (bifrost jobs list)")
        parameters = _parameters(param)
        validate_parameters(jobs[name], parameters)  # refused before a store is opened or created
        with store(create=True) as bars:
            record = run_job(bars, name, parameters, jobs=jobs, idempotency_key=key)
    except RunInterrupted as exc:
        # stopped mid-run: the kernel was killed and the run recorded canceled; 128 + the signal, as a shell says
        if exc.record is not None and json_out:
            echo_json(exc.record.to_dict())
        run = f"run {exc.record.run_id} of {name}" if exc.record is not None else f"job {name}"
        typer.echo(f"bifrost: {run} stopped by {exc.signal_name}: recorded canceled", err=True)
        return 128 + int(getattr(signal, exc.signal_name, signal.SIGINT))
    finally:
        signal.signal(signal.SIGTERM, previous)
        logging.getLogger("bifrost").removeHandler(handler)  # an in-process caller runs many commands
    if json_out:
        echo_json(record.to_dict())
    else:
        _show(record.to_dict())
    ok = record.status is RunStatus.SUCCEEDED or not record.status.terminal
    return 0 if ok else 1


@app.command("history")
def jobs_history(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Only this job's runs.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many runs.", min=1, max=100_000)] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Show recorded runs, newest first: status, start, duration, error (a chain's steps indented)."""
    from bifrost.jobs import job_history, load_jobs

    with store() as bars:
        runs = job_history(bars, name, limit=limit)
        if name is not None and not runs and name not in _known(load_jobs):
            raise NotFoundError(f"no job {name!r} and no runs of it; known jobs: {', '.join(_known(load_jobs))}")
    if json_out:
        echo_json([r.to_dict() for r in runs])
        return
    if not runs:
        typer.echo("no runs recorded yet (bifrost jobs run NAME)")
        return
    rows = [
        (
            r.run_id, ("  " if r.parent_run_id else "") + r.job, str(r.status), str(r.attempt),
            _when(r.started or r.queued), _seconds(r.duration_s),
            (r.error or "")[:80],
        )
        for r in runs
    ]  # fmt: skip
    _table(("run", "job", "status", "try", "started", "duration", "error"), rows)


@app.command("show")
def jobs_show(
    # named `name` like every other verb's identifier (the bad-input sweep knows its kind); it is a run id
    name: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id (bifrost jobs history).")],
    json_out: JsonOpt = False,
) -> None:
    """Show one run: status, parameters, error, the executed notebook and its HTML."""
    from bifrost.jobs import get_run

    with store() as bars:
        record = get_run(bars, name)
    if json_out:
        echo_json(record.to_dict())
    else:
        _show(record.to_dict())


@app.command("schedule")
def jobs_schedule(
    missed: Annotated[
        MissedPolicy, typer.Option("--missed", help="once | skip | all: due times missed while no scheduler ran.")
    ] = "once",
    poll_s: Annotated[float, typer.Option("--poll-s", help="Longest wait between passes, in seconds.")] = 30.0,
    log_format: LogFormatOpt = None,
) -> None:
    """Run due jobs by their cron schedules in the foreground; Ctrl-C stops after the running job."""
    import logging

    from bifrost.jobs import Scheduler, configure_logging, load_jobs

    handler = configure_logging(log_format)
    try:
        jobs = load_jobs()
        with store(create=True) as bars:
            scheduler = Scheduler(bars, jobs, missed=missed, poll_s=poll_s)
            scheduler.start()  # the lease first: a refused second scheduler prints its one error line only
            typer.echo(
                f"scheduler {scheduler.holder}: {len(jobs)} job(s); Ctrl-C stops it after the running job", err=True
            )
            runs = scheduler.serve()
    finally:
        logging.getLogger("bifrost").removeHandler(handler)
    typer.echo(f"scheduler stopped: {sum(r.outcome == 'ran' for r in runs)} run(s) started", err=True)


def _known(load: Any) -> list[str]:
    try:
        return list(load())
    except (NotFoundError, InvalidInputError):
        return []


def _when(ts: Any) -> str:
    return "-" if ts is None else f"{ts:%Y-%m-%d %H:%M:%S}Z"


def _show(run: dict[str, Any]) -> None:
    typer.echo(f"run {run['run_id']} of {run['job']}: {run['status']} (attempt {run['attempt']})")
    fields = [
        ("started", run["started"]), ("ended", run["ended"]), ("duration", _seconds(run["duration_s"])),
        ("error", run["error"]), ("notebook", run["notebook"]), ("html", run["html"]),
        ("parameters", ", ".join(f"{k}={v!r}" for k, v in run["parameters"].items()) or None),
        ("result", ", ".join(f"{k}={v}" for k, v in run["result"].items()) or None),
        ("parent", run["parent_run_id"]), ("retry of", run["retry_of"]),
    ]  # fmt: skip
    for label, value in fields:
        if value is not None:
            typer.echo(f"  {label:<10} {value}")


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    for row in (header, *rows):
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
