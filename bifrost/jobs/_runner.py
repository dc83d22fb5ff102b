"""Run a job: its notebook executed by papermill, recorded in the store's run history.

One attempt, step by step (`run_job`):

1. The parameters are checked against the notebook (`validate_parameters`) before anything
   is recorded or started: a refused run has no row and no kernel.
2. A row is recorded (``queued``, then ``running``) under a new id, ``20261201T181500Z-1a2b3c``;
   the run's folder is ``<home>/runs/<job>/<run id>/`` (``home``: the store's own).
3. papermill executes the notebook with the ``python3`` kernel. The kernel's environment
   names the store the run is recorded in (``BIFROST_HOME``, ``BIFROST_DATABASE_URL``,
   ``BIFROST_DATABASE_SCHEMA``) and the run (``BIFROST_RUN_ID``, ``BIFROST_JOB``,
   ``BIFROST_RUN_DIR``); a notebook declaring ``run_id`` or ``output_dir`` gets them as
   parameters. The kernel works in the caller's folder (a relative path given as a parameter
   is the caller's file) and writes its own stdout and stderr to ``kernel.log`` in the folder
   and is asked to die with the runner (Linux ``PR_SET_PDEATHSIG``), so that a killed runner
   leaves no kernel behind; the history's reaper also kills a kernel it finds alive.
4. A heartbeat thread tells the history the runner is alive; a watchdog kills the kernel
   when the whole run passes the job's ``timeout_s``.
5. The status is read off the executed notebook, not off the absence of a Python exception:
   ``succeeded`` only if papermill recorded no exception and no cell has an error output
   (a cell tagged ``raises-exception`` may). A cell that raised makes the run ``failed``
   with the cell's index in the job's notebook (0-based, not counting papermill's injected
   cells), the exception's name and message; the watchdog or a cell timeout makes it
   ``timed_out``; a kernel that died under it, ``kernel_died``. The executed notebook is
   written in every case and exported to HTML (nbconvert's lab template, no CDN script).
6. What the notebook recorded with `record_result` becomes the run's ``result``.

A job with ``retries`` tries again after a ``failed``, ``timed_out`` or ``kernel_died``
attempt, waiting ``retry_backoff_s * 2 ** (k - 1)`` after attempt ``k``; each attempt is its
own row (``attempt`` k, ``retry_of`` the first's id). An idempotency key names a request:
asked again, it returns the run it already started (its latest attempt), never a second run.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pandas as pd

from bifrost._json import dumps
from bifrost.data import Store
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.jobs._history import HEARTBEAT_S, JobHistory, RunRecord, RunStatus
from bifrost.jobs._logging import JOB_ENV, RUN_ID_ENV, run_context
from bifrost.jobs._spec import (
    DeclaredParameter,
    JobSpec,
    checked_parameters,
    declared_parameters,
    load_jobs,
    validate_parameters,
)

__all__ = ["RESULT_FILE", "RUN_DIR_ENV", "new_run_id", "record_result", "run_chain", "run_job"]

log = logging.getLogger("bifrost.jobs")

RUN_DIR_ENV: Final = "BIFROST_RUN_DIR"
RESULT_FILE: Final = "result.json"
KERNEL_NAME: Final = "python3"
_INJECTED_TAGS: Final = frozenset({"injected-parameters", "papermill-error-cell-tag"})
_CDN: Final = (
    re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I),
    re.compile(
        r"<script\b[^>]*>(?:(?!</script>).)*?import\(\s*[\"']https?://(?:(?!</script>).)*</script>", re.I | re.S
    ),
    re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.I),
)
# papermill's own progress lines (not the notebook's output): debug, not info
_PAPERMILL_CHATTER: Final = re.compile(
    r"(Input|Output) Notebook:.*|Working directory:.*|Executing notebook with kernel:.*"
)
_CELL_STEP: Final = re.compile(r"(Executing|Ending) Cell (\d+)-*")


def new_run_id(now: pd.Timestamp | None = None) -> str:
    """Return a new run id: the UTC time to the second and 6 random hex digits (``20261201T181500Z-1a2b3c``)."""
    ts = pd.Timestamp.now(tz="UTC") if now is None else now.tz_convert("UTC")
    return f"{ts:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


# -- inside a job's kernel ---------------------------------------------------------


def record_result(result: Mapping[str, object]) -> dict[str, object]:
    """Attach headline numbers to the run this notebook is executed in; return them.

    Call it in a job notebook (``record_result({"sharpe": 1.2, "var_99": 0.031})``): the
    values are merged into ``result.json`` in the run's folder, which the runner reads into
    the run's ``result`` when the notebook ends (``bifrost jobs history --json`` shows it).
    Outside a run (a notebook opened in JupyterLab) nothing is written.

    Raises
    ------
    InvalidInputError
        If ``result`` is not a mapping of text to JSON values (numbers, text, lists, mappings).
    """
    if not isinstance(result, Mapping) or not all(isinstance(k, str) for k in result):
        raise InvalidInputError(f"record_result takes a mapping of names (text) to values, got {result!r}")
    values = {str(k): _plain(v, k) for k, v in result.items()}
    folder = os.environ.get(RUN_DIR_ENV)
    if folder:
        path = Path(folder) / RESULT_FILE
        merged = {**_read_result(path), **values}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(dumps(merged), encoding="utf-8")
        tmp.replace(path)
    return values


def _plain(value: object, name: str) -> object:
    # numpy scalars and tuples to plain JSON; anything else JSON cannot say is refused here,
    # in the cell that recorded it
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        value = item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_plain(v, name) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, name) for k, v in value.items()}
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise InvalidInputError(
        f"record_result: {name!r} is a {type(value).__name__}; record numbers, text, lists or mappings"
    )


def _read_result(path: Path) -> dict[str, object]:
    import json

    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


# -- running -----------------------------------------------------------------------


def run_job(
    store: Store,
    job: str | JobSpec,
    parameters: Mapping[str, object] | None = None,
    *,
    jobs: Mapping[str, JobSpec] | None = None,
    home: str | os.PathLike[str] | None = None,
    idempotency_key: str | None = None,
    parent_run_id: str | None = None,
    queued_run_id: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    log_output: bool = True,
) -> RunRecord:
    """Run a job's notebook once (and again per its ``retries``); return the last attempt's record.

    Parameters
    ----------
    store
        The store whose history records the run; the kernel opens the same store.
    job
        The job's name in ``jobs`` (or ``jobs.toml``), or its `JobSpec`.
    parameters
        Values for the notebook's parameters, over ``jobs.toml``'s defaults; text (from a
        command line) is read as the declared type.
    jobs
        The jobs by name; default `load_jobs()`.
    home
        Where ``runs/<job>/<run id>/`` goes; default the store's home (``BIFROST_HOME``).
    idempotency_key
        Names the request: if a run was already requested with this key, it is returned
        and nothing runs.
    parent_run_id
        The run this one is a step of (a chain).
    queued_run_id
        Run this already ``queued`` run (recorded by the scheduler) instead of recording a new one.
    sleep
        Waits between attempts (injected by tests).
    log_output
        Log the notebook's outputs as they arrive (the ``bifrost.jobs.output`` logger).

    Returns
    -------
    RunRecord
        The run as recorded: ``status`` is terminal (``succeeded``, ``failed``, ``timed_out``,
        ``kernel_died``), or whatever the earlier run of ``idempotency_key`` is.

    Raises
    ------
    NotFoundError
        If the job is unknown.
    InvalidInputError
        If a parameter is refused (before anything is recorded or started).
    """
    spec = _resolve(job, jobs)
    values, declared = _validated(spec, parameters)
    history = store.part(JobHistory)
    folder_home = Path(home) if home is not None else _store_home(store)
    version = _version()
    if queued_run_id is not None:
        first = history.get(queued_run_id)
        if first.status is not RunStatus.QUEUED:
            raise InvalidInputError(f"run {queued_run_id} is {first.status}, not queued: it cannot be started")
    else:
        if idempotency_key is not None:
            earlier = history.by_key(idempotency_key)
            if earlier is not None:
                _same_request(earlier, spec, values, idempotency_key)
                log.info(
                    "run %s of %s already requested with key %r", earlier.run_id, earlier.job, idempotency_key,
                    extra={"run_id": earlier.run_id, "job": earlier.job},
                )  # fmt: skip
                return earlier
        first, created = history.create(
            run_id=new_run_id(),
            job=spec.name,
            parameters=values,
            version=version,
            parent_run_id=parent_run_id,
            idempotency_key=idempotency_key,
        )
        if not created:  # another process made the request meanwhile
            _same_request(first, spec, values, idempotency_key)
            return first
    record = _attempt(store, spec, values, declared, first, folder_home, log_output)
    attempt = 1
    while record.status.retryable and attempt <= spec.retries:
        wait = spec.backoff_s(attempt)
        log.info(
            "%s: attempt %d %s; attempt %d in %g s", spec.name, attempt, record.status, attempt + 1, wait,
            extra={"run_id": record.run_id, "job": spec.name},
        )  # fmt: skip
        sleep(wait)
        attempt += 1
        queued, _ = history.create(
            run_id=new_run_id(),
            job=spec.name,
            parameters=values,
            version=version,
            attempt=attempt,
            parent_run_id=first.parent_run_id,
            retry_of=first.run_id,
        )
        record = _attempt(store, spec, values, declared, queued, folder_home, log_output)
    return record


def run_chain(
    store: Store,
    steps: Sequence[str | JobSpec],
    *,
    parent_run_id: str | None,
    parameters: Mapping[str, Mapping[str, object]] | None = None,
    jobs: Mapping[str, JobSpec] | None = None,
    home: str | os.PathLike[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RunRecord]:
    """Run jobs in order as steps of ``parent_run_id``; stop at the first that does not succeed.

    Every step's parameters are checked before the first step starts. The steps after a
    failed one are recorded ``canceled`` (they never started).

    Parameters
    ----------
    store
        The store recording the runs.
    steps
        Job names (or specs), in order.
    parent_run_id
        The chain's own run (the ``daily`` notebook passes its ``run_id``).
    parameters
        Each step's parameters by job name.
    jobs, home, sleep
        As for `run_job`.

    Returns
    -------
    list[RunRecord]
        One record per step, in order.

    Raises
    ------
    NotFoundError, InvalidInputError
        If a step is unknown or its parameters are refused (nothing has run).
    """
    if isinstance(steps, str) or not isinstance(steps, Sequence) or not steps:
        raise InvalidInputError(f"steps must be a non-empty list of job names, got {steps!r}")
    known = jobs if jobs is not None else (None if all(isinstance(s, JobSpec) for s in steps) else load_jobs())
    specs = [_resolve(step, known) for step in steps]
    given = dict(parameters or {})
    unknown = sorted(set(given) - {s.name for s in specs})
    if unknown:
        raise InvalidInputError(f"parameters name job(s) {unknown} that are not steps of this chain")
    for spec in specs:
        _validated(spec, given.get(spec.name))
    history = store.part(JobHistory)
    out: list[RunRecord] = []
    for i, spec in enumerate(specs):
        record = run_job(store, spec, given.get(spec.name), home=home, parent_run_id=parent_run_id, sleep=sleep)
        out.append(record)
        if record.status is not RunStatus.SUCCEEDED:
            for later in specs[i + 1 :]:
                queued, _ = history.create(
                    run_id=new_run_id(),
                    job=later.name,
                    parameters=validate_parameters(later, given.get(later.name)),
                    version=_version(),
                    parent_run_id=parent_run_id,
                )
                out.append(history.cancel(queued.run_id, f"not started: step {spec.name} ended {record.status}"))
            break
    return out


def _same_request(earlier: RunRecord, spec: JobSpec, values: Mapping[str, object], key: str | None) -> None:
    # a key names one request: the same job with the same parameters, never another
    if earlier.job != spec.name or dict(earlier.parameters) != dict(values):
        raise InvalidInputError(
            f"idempotency key {key!r} already names run {earlier.run_id} of job {earlier.job!r} with parameters "
            f"{dict(earlier.parameters)!r}; this request is job {spec.name!r} with {dict(values)!r}: use another key"
        )


class RunInterrupted(KeyboardInterrupt):
    """The runner was stopped by a signal (SIGINT, SIGTERM) mid-run; ``record`` is the run, recorded ``canceled``."""

    def __init__(self, signal_name: str, record: RunRecord | None = None) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.record = record


def _resolve(job: str | JobSpec, jobs: Mapping[str, JobSpec] | None) -> JobSpec:
    if isinstance(job, JobSpec):
        return job
    if not isinstance(job, str):
        raise InvalidInputError(f"job must be a job's name or a JobSpec, got {type(job).__name__}")
    known = load_jobs() if jobs is None else jobs
    if job not in known:
        raise NotFoundError(f"no job {job!r}; known jobs: {', '.join(known) or 'none'}")
    return known[job]


def _validated(
    spec: JobSpec, given: Mapping[str, object] | None
) -> tuple[dict[str, object], dict[str, DeclaredParameter]]:
    # the notebook's parameters are read once per request
    if not isinstance(spec, JobSpec):
        raise InvalidInputError(f"job must be a JobSpec, got {type(spec).__name__}")
    if given is not None and not isinstance(given, Mapping):
        raise InvalidInputError(f"job {spec.name!r}: parameters must be a mapping of name to value, got {given!r}")
    declared = declared_parameters(spec.notebook)
    return checked_parameters(spec, given, declared), declared


def _version() -> str:
    import bifrost

    return str(bifrost.__version__)


def _store_home(store: Store) -> Path:
    # where runs/ goes: the store's own home (a PostgreSQL store's settings' home)
    return Path(store.environment()["BIFROST_HOME"])


def _store_env(store: Store) -> dict[str, str]:
    # how the kernel opens this very store (BIFROST_HOME, BIFROST_DATABASE_URL, BIFROST_DATABASE_SCHEMA)
    return dict(store.environment())


# -- one attempt -------------------------------------------------------------------


@dataclass(slots=True)
class _Kernel:
    # what the kernel manager tells the runner, and what the watchdog did
    pid: int | None = None
    timed_out: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kill(self) -> None:
        with self.lock:
            pid = self.pid
        if pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # the kernel leads its own session


def _attempt(
    store: Store,
    spec: JobSpec,
    values: dict[str, object],
    declared: Mapping[str, DeclaredParameter],
    queued: RunRecord,
    home: Path,
    log_output: bool,
) -> RunRecord:
    history = store.part(JobHistory)
    run_id = queued.run_id
    folder = home / "runs" / spec.name / run_id
    output = folder / spec.notebook.name
    html = output.with_suffix(".html")
    with run_context(run_id, spec.name):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return history.finish(run_id, RunStatus.FAILED, error_name="OSError", error_message=f"{folder}: {exc}")
        injected = dict(values)
        if "run_id" in declared:
            injected["run_id"] = run_id
        if "output_dir" in declared:
            injected["output_dir"] = str(folder)
        env = {
            **_store_env(store), RUN_ID_ENV: run_id, JOB_ENV: spec.name, RUN_DIR_ENV: str(folder),
            "PYTHONUNBUFFERED": "1",
        }  # fmt: skip
        kernel = _Kernel()

        def on_pid(pid: int) -> None:
            with kernel.lock:
                kernel.pid = pid
            if kernel.timed_out:
                kernel.kill()
            with contextlib.suppress(Exception):  # a heartbeat is best effort; the next one retries
                history.beat(run_id, kernel_pid=pid)

        history.start(run_id, notebook=output)
        log.info("run %s of %s started (attempt %d): %s", run_id, spec.name, queued.attempt, output)
        stop = threading.Event()
        beats = threading.Thread(target=_heartbeat, args=(history, run_id, kernel, stop), daemon=True)
        watchdog = threading.Timer(spec.timeout_s, _time_out, args=(kernel, spec, run_id))
        watchdog.daemon = True
        beats.start()
        watchdog.start()
        failure: BaseException | None = None
        try:
            cells = _cell_count(spec) + (1 if injected else 0)  # papermill injects a cell of parameters
            with _forward_papermill(run_id, spec.name, enabled=log_output, cells=cells):
                _execute(spec, output, injected, env, folder / "kernel.log", on_pid, log_output)
        except BaseException as exc:
            failure = exc
        finally:
            watchdog.cancel()
            stop.set()
            beats.join(timeout=HEARTBEAT_S + 5)
            if isinstance(failure, KeyboardInterrupt):
                kernel.kill()  # stopped mid-run: the kernel goes now, not when this process exits
        status, cell, name, message = _outcome(output, failure, kernel, spec)
        exported = _export_html(output, html) if output.is_file() else None
        record = history.finish(
            run_id,
            status,
            error_cell=cell,
            error_name=name,
            error_message=message,
            notebook=output if output.is_file() else None,
            html=exported,
            result=_read_result(folder / RESULT_FILE),
        )
        level = logging.INFO if status is RunStatus.SUCCEEDED else logging.WARNING
        log.log(level, "run %s of %s %s in %.1f s%s", run_id, spec.name, status, record.duration_s or 0.0,
                f": {record.error}" if record.error else "")  # fmt: skip
        if isinstance(failure, KeyboardInterrupt):
            name = failure.signal_name if isinstance(failure, RunInterrupted) else "SIGINT"
            raise RunInterrupted(name, record) from failure
        return record


def _heartbeat(history: JobHistory, run_id: str, kernel: _Kernel, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            history.beat(run_id, kernel_pid=kernel.pid)
        except Exception as exc:
            log.warning("run %s: heartbeat not recorded: %s", run_id, exc)


def _time_out(kernel: _Kernel, spec: JobSpec, run_id: str) -> None:
    log.warning(
        "run %s of %s passed its timeout of %g s: killing the kernel", run_id, spec.name, spec.timeout_s,
        extra={"run_id": run_id, "job": spec.name},
    )  # fmt: skip
    kernel.timed_out = True
    kernel.kill()


@contextlib.contextmanager
def _forward_papermill(run_id: str, job: str, *, enabled: bool, cells: int) -> Iterator[None]:
    # papermill logs each cell's start and end, and the notebook's outputs, on its own logger:
    # they reach ours, tagged with the run; a cell's end is one INFO line (cell k/n, its
    # duration), the outputs are DEBUG (`--verbose` shows them)
    if not enabled:
        yield
        return
    target = logging.getLogger("bifrost.jobs.output")
    extra = {"run_id": run_id, "job": job}
    started: dict[int, float] = {}

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage().rstrip()
            step = _CELL_STEP.fullmatch(message)
            if step is not None:
                number = int(step.group(2))
                if step.group(1) == "Executing":
                    started[number] = time.monotonic()
                else:
                    took = time.monotonic() - started.pop(number, time.monotonic())
                    target.info("cell %d/%d done in %.1f s", number, cells, took, extra=extra)
            elif message and _PAPERMILL_CHATTER.fullmatch(message) is None:
                level = logging.DEBUG if record.levelno <= logging.INFO else record.levelno
                target.log(level, "%s", message, extra=extra)

    source = logging.getLogger("papermill")
    handler = Forward()
    source.addHandler(handler)
    previous = source.level
    source.setLevel(logging.INFO)
    try:
        yield
    finally:
        source.removeHandler(handler)
        source.setLevel(previous)


def _death_signal() -> Callable[[], None] | None:
    # Linux: the kernel gets SIGKILL when the thread that started it dies (a killed runner
    # leaves no kernel); built here, not in the child, which must not import between fork and exec
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def ask() -> None:
        prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the runner died before the request took
            os._exit(1)

    return ask


def _kernel_manager(env: Mapping[str, str], log_path: Path, on_pid: Callable[[int], None]) -> type:
    from jupyter_client.manager import AsyncKernelManager

    death = _death_signal()

    class JobKernelManager(AsyncKernelManager):
        # the job's kernel: the run's environment, its output in kernel.log, dies with the runner
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["env"] = {**kw.get("env", os.environ), **env}
            sink = open(log_path, "ab")  # noqa: SIM115 (the kernel holds it; closed below once it is passed)
            kw["stdout"] = kw["stderr"] = sink
            if death is not None:
                kw["preexec_fn"] = death
            try:
                await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                sink.close()
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                on_pid(int(process.pid))

    return JobKernelManager


def _execute(
    spec: JobSpec,
    output: Path,
    parameters: Mapping[str, object],
    env: Mapping[str, str],
    log_path: Path,
    on_pid: Callable[[int], None],
    log_output: bool,
) -> None:
    import papermill

    papermill.execute_notebook(
        str(spec.notebook),
        str(output),
        parameters=dict(parameters),
        kernel_name=KERNEL_NAME,
        progress_bar=False,
        log_output=log_output,
        cwd=_working_folder(spec),
        start_timeout=int(min(60, max(10, spec.timeout_s))),
        execution_timeout=math.ceil(spec.timeout_s) + 5,  # the watchdog's backup
        kernel_manager_class=_kernel_manager(env, log_path, on_pid),
    )


def _cell_count(spec: JobSpec) -> int:
    try:
        return len(_read_notebook(spec.notebook).cells)
    except (OSError, ValueError):
        return 0


def _working_folder(spec: JobSpec) -> str:
    # the kernel works where the run was asked for, so that `-p path=bars.csv` is the caller's file
    try:
        return os.getcwd()
    except OSError:  # the caller's folder is gone
        return str(spec.notebook.parent)


def _outcome(
    output: Path, failure: BaseException | None, kernel: _Kernel, spec: JobSpec
) -> tuple[RunStatus, int | None, str | None, str | None]:
    # the status from the executed notebook first, then from what papermill raised
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    cells = _cells(output)
    errored = [(i, o) for i, cell, o in cells if o is not None]
    running = [i for i, cell, _ in cells if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    current = running[-1] if running else None
    if isinstance(failure, KeyboardInterrupt):
        name = failure.signal_name if isinstance(failure, RunInterrupted) else "SIGINT"
        return RunStatus.CANCELED, current, "RunInterrupted", f"stopped by {name}"
    if kernel.timed_out or isinstance(failure, CellTimeoutError | TimeoutError):
        return (
            RunStatus.TIMED_OUT, current, "TimeoutError",
            f"the run passed its timeout of {spec.timeout_s:g} s; the kernel was killed",
        )  # fmt: skip
    if isinstance(failure, DeadKernelError):
        return RunStatus.KERNEL_DIED, current, "DeadKernelError", f"the kernel died while running cell {current}"
    if errored:
        index, error = errored[0]
        return RunStatus.FAILED, index, str(error.get("ename", "Error")), _clean(str(error.get("evalue", "")))
    if failure is not None:
        from papermill.exceptions import PapermillExecutionError

        if isinstance(failure, PapermillExecutionError):
            return RunStatus.FAILED, None, str(failure.ename), _clean(str(failure.evalue))

        return RunStatus.FAILED, None, type(failure).__name__, _clean(str(failure))
    if not output.is_file():
        return RunStatus.FAILED, None, "MissingOutput", f"papermill wrote no executed notebook at {output}"
    if _papermill_exception(output):
        return RunStatus.FAILED, None, "PapermillExecutionError", "papermill recorded an exception in the notebook"
    return RunStatus.SUCCEEDED, None, None, None


def _cells(output: Path) -> list[tuple[int, dict[str, Any], dict[str, Any] | None]]:
    # (index in the job's own notebook, cell, its first error output) for each of its code cells
    if not output.is_file():
        return []
    try:
        nb = _read_notebook(output)
    except (OSError, ValueError) as exc:
        log.warning("cannot read the executed notebook %s: %s", output, exc)
        return []
    out = []
    index = -1
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & _INJECTED_TAGS:
            continue
        index += 1
        if cell.get("cell_type") != "code":
            continue
        error = None
        if "raises-exception" not in tags:
            error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        out.append((index, cell, error))
    return out


def _read_notebook(path: Path) -> Any:
    import nbformat

    return nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]


def _papermill_exception(output: Path) -> bool:
    try:
        nb = _read_notebook(output)
    except (OSError, ValueError):
        return True
    return bool(nb.metadata.get("papermill", {}).get("exception"))


_ANSI: Final = re.compile(r"\x1b\[[0-9;]*m")


def _clean(text: str) -> str:
    return " ".join(_ANSI.sub("", text).split())[:2000]


def _export_html(notebook: Path, html: Path) -> Path | None:
    # nbconvert's lab template, its CDN scripts (require.js, MathJax) removed: these machines are offline
    try:
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(template_name="lab")  # type: ignore[no-untyped-call]
        body, _ = exporter.from_notebook_node(_read_notebook(notebook))
        for pattern in _CDN:
            body = pattern.sub("", body)
        html.write_text(body, encoding="utf-8")
    except Exception as exc:
        log.warning("could not export %s to HTML: %s", notebook, exc)
        return None
    return html
