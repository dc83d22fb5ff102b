"""Job specs: what ``papermill_jobs/jobs.toml`` declares, and the parameters a run may take.

A job is a parameterised notebook (one cell tagged ``parameters``) with its defaults, a cron
schedule in a time zone, a timeout for the whole run and retries with a backoff::

    [jobs.daily_ingest]
    notebook = "daily_ingest.ipynb"        # relative to the jobs.toml folder
    description = "Ingest bars and report their quality"
    schedule = "30 6 * * 1-5"              # cron (croniter), in `timezone`
    timezone = "America/New_York"          # IANA name
    timeout_s = 600                        # the whole run; past it the kernel is killed
    retries = 1                            # extra attempts after failed / timed_out / kernel_died
    retry_backoff_s = 60                   # wait before attempt k+1: retry_backoff_s * 2**(k-1)
    [jobs.daily_ingest.parameters]         # defaults (names the notebook's parameters cell declares)
    source = "synthetic"

A job may name ``steps`` (other jobs, run in order as a chain) and its ``config``: a class
exported by `bifrost.jobs` whose ``from_parameters(**parameters)`` the notebook builds its
config with (``config = "DailyIngestConfig"``), so that a value the config refuses
(``-p n_days=1``) is refused before a kernel starts, as the notebook would refuse it. Everything is checked when the
file is read: an unknown key, a bad cron expression or time zone, a missing notebook or an
unknown step is an `InvalidInputError` naming the file, the job and the key.

Parameters are checked before a kernel starts (`validate_parameters`): the notebook's
declared names, their types (an annotation in the parameters cell, ``n_days: int = 5``, or
the type of the default), dates (a parameter named like a date, or whose default is one) and
the names the runner fills itself (``run_id``, ``output_dir``), which a caller may not give.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from bifrost.errors import InvalidInputError, NotFoundError

__all__ = [
    "JOBS_DIR_ENV",
    "RUNNER_PARAMETERS",
    "DeclaredParameter",
    "JobSpec",
    "checked_parameters",
    "declared_parameters",
    "jobs_dir",
    "load_jobs",
    "validate_parameters",
]

JOBS_DIR_ENV: Final = "BIFROST_JOBS_DIR"
RUNNER_PARAMETERS: Final = frozenset({"run_id", "output_dir"})  # filled by the runner, never by a caller
DEFAULT_TIMEOUT_S: Final = 3600.0
DEFAULT_BACKOFF_S: Final = 60.0
MAX_RETRIES: Final = 10

ParameterKind = Literal["int", "float", "bool", "str", "list", "dict", "any"]

_JOB_KEYS: Final = frozenset(
    {
        "notebook",
        "description",
        "schedule",
        "timezone",
        "timeout_s",
        "retries",
        "retry_backoff_s",
        "parameters",
        "steps",
        "config",
    }
)
_NAME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")
_DATE_NAME_RE: Final = re.compile(r"(^|_)(date|start|end|since|until|as_of)($|_)|date")
_DATE_TEXT_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """One job of ``jobs.toml``: its notebook, defaults, schedule, timeout and retries.

    Attributes
    ----------
    name
        The job's name (its table in ``jobs.toml``).
    notebook
        The notebook's absolute path.
    parameters
        The defaults ``jobs.toml`` gives (injected into the notebook on every run).
    schedule
        A cron expression (five fields) read in ``timezone``; None: run on demand only.
    timeout_s
        Seconds the whole run may take; past it the kernel is killed (``timed_out``).
    retries
        Extra attempts after a ``failed``, ``timed_out`` or ``kernel_died`` attempt.
    retry_backoff_s
        The wait before attempt ``k + 1`` is ``retry_backoff_s * 2 ** (k - 1)``.
    steps
        Other jobs this one chains, in order (the ``daily`` job); empty for a plain job.
    config
        The name of the config class (exported by `bifrost.jobs`) the notebook builds from its
        parameters; checked with it before a run starts. None: the parameters' types only.
    source
        The ``jobs.toml`` the spec was read from (None for a spec built in code).
    """

    name: str
    notebook: Path
    description: str = ""
    parameters: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    schedule: str | None = None
    timezone: str = "UTC"
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = 0
    retry_backoff_s: float = DEFAULT_BACKOFF_S
    steps: tuple[str, ...] = ()
    config: str | None = None
    source: Path | None = None

    def __post_init__(self) -> None:
        where = f"job {self.name!r}" if self.source is None else f"{self.source}: job {self.name!r}"
        if not isinstance(self.name, str) or _NAME_RE.fullmatch(self.name) is None:
            raise InvalidInputError(
                f"{where}: a job's name is a letter then letters, digits, '_' or '-' (at most 64), got {self.name!r}"
            )
        object.__setattr__(self, "notebook", Path(self.notebook))
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        object.__setattr__(self, "steps", tuple(self.steps))
        if self.schedule is not None:
            _check_cron(self.schedule, f"{where}: schedule")
        _check_timezone(self.timezone, f"{where}: timezone")
        if not _is_real(self.timeout_s) or not 0 < float(self.timeout_s) < math.inf:
            raise InvalidInputError(f"{where}: timeout_s must be a positive number of seconds, got {self.timeout_s!r}")
        object.__setattr__(self, "timeout_s", float(self.timeout_s))
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= MAX_RETRIES:
            raise InvalidInputError(f"{where}: retries must be an integer in 0..{MAX_RETRIES}, got {self.retries!r}")
        if not _is_real(self.retry_backoff_s) or not 0 <= float(self.retry_backoff_s) < math.inf:
            raise InvalidInputError(
                f"{where}: retry_backoff_s must be a number of seconds >= 0, got {self.retry_backoff_s!r}"
            )
        object.__setattr__(self, "retry_backoff_s", float(self.retry_backoff_s))
        if self.config is not None and (not isinstance(self.config, str) or not self.config.isidentifier()):
            raise InvalidInputError(
                f"{where}: config must name a config class of bifrost.jobs (e.g. 'DailyIngestConfig'), "
                f"got {self.config!r}"
            )
        for name in self.parameters:
            if name in RUNNER_PARAMETERS:
                raise InvalidInputError(f"{where}: parameter {name!r} is filled by the runner; remove it")

    def backoff_s(self, attempt: int) -> float:
        """Return the wait after attempt ``attempt`` (1-based) before the next one."""
        return float(self.retry_backoff_s * 2 ** (attempt - 1))

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as JSON-ready data (what ``bifrost jobs list --json`` prints)."""
        return {
            "name": self.name,
            "notebook": str(self.notebook),
            "description": self.description,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "timeout_s": self.timeout_s,
            "retries": self.retries,
            "retry_backoff_s": self.retry_backoff_s,
            "parameters": dict(self.parameters),
            "steps": list(self.steps),
            "config": self.config,
        }


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_cron(expression: object, where: str) -> None:
    from croniter import croniter

    if not isinstance(expression, str) or len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise InvalidInputError(
            f"{where}: expected a cron expression of five fields (minute hour day month weekday, "
            f"e.g. '30 6 * * 1-5'), got {expression!r}"
        )


def _check_timezone(name: object, where: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"{where}: expected an IANA time zone name such as 'America/New_York', got {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"{where}: unknown time zone {name!r}; expected an IANA name such as 'America/New_York' or 'UTC'"
        ) from None


def jobs_dir(folder: str | os.PathLike[str] | None = None) -> Path:
    """Return the jobs folder: ``folder``, else ``BIFROST_JOBS_DIR``, else the checkout's ``papermill_jobs/``."""
    if folder is not None:
        return Path(folder)
    env = os.environ.get(JOBS_DIR_ENV)
    if env:
        return Path(env)
    import bifrost

    return Path(bifrost.__file__).resolve().parents[1] / "papermill_jobs"


def load_jobs(dir: str | os.PathLike[str] | None = None) -> Mapping[str, JobSpec]:
    """Read the jobs that ``jobs.toml`` declares.

    Parameters
    ----------
    dir
        The folder holding ``jobs.toml`` (notebooks are relative to it). Default: the
        ``BIFROST_JOBS_DIR`` environment variable, else ``papermill_jobs/`` of the checkout.

    Returns
    -------
    Mapping[str, JobSpec]
        The jobs by name, in the file's order (read-only).

    Raises
    ------
    NotFoundError
        If the folder has no ``jobs.toml``.
    InvalidInputError
        If the file is not TOML, or a job has an unknown key, a bad value, a missing
        notebook or an unknown step; the message names the file, the job and the key.
    """
    folder = jobs_dir(dir)
    path = folder / "jobs.toml"
    if not path.is_file():
        hint = f"set {JOBS_DIR_ENV} to a folder with one" if dir is None else "give a folder with one"
        raise NotFoundError(f"no jobs.toml in {folder}: {hint}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"jobs"})
    if unknown:
        raise InvalidInputError(f"{path}: unknown top-level key(s) {unknown}; jobs are tables [jobs.NAME]")
    tables = data.get("jobs", {})
    if not isinstance(tables, dict):
        raise InvalidInputError(f"{path}: 'jobs' must be tables [jobs.NAME], got {type(tables).__name__}")
    specs: dict[str, JobSpec] = {}
    for name, table in tables.items():
        specs[name] = _spec(path, name, table)
    for spec in specs.values():
        for step in spec.steps:
            if step not in specs:
                raise InvalidInputError(
                    f"{path}: job {spec.name!r}: key 'steps': unknown job {step!r}; known: {sorted(specs)}"
                )
            if step == spec.name or specs[step].steps:
                raise InvalidInputError(
                    f"{path}: job {spec.name!r}: key 'steps': step {step!r} is itself a chain; steps are plain jobs"
                )
    return MappingProxyType(specs)


def _spec(path: Path, name: str, table: object) -> JobSpec:
    where = f"{path}: job {name!r}"
    if not isinstance(table, dict):
        raise InvalidInputError(f"{where}: expected a table [jobs.{name}], got {type(table).__name__}")
    unknown = sorted(set(table) - _JOB_KEYS)
    if unknown:
        raise InvalidInputError(f"{where}: unknown key {unknown[0]!r}; known keys: {sorted(_JOB_KEYS)}")
    if "notebook" not in table:
        raise InvalidInputError(f"{where}: key 'notebook' is missing (the notebook's file, relative to {path.parent})")
    notebook = table["notebook"]
    if not isinstance(notebook, str) or not notebook.endswith(".ipynb"):
        raise InvalidInputError(f"{where}: key 'notebook': expected a .ipynb file name, got {notebook!r}")
    notebook_path = (path.parent / notebook).resolve()
    if not notebook_path.is_file():
        raise InvalidInputError(f"{where}: key 'notebook': no notebook at {notebook_path}")
    for key, kind in (("description", str), ("schedule", str), ("timezone", str), ("config", str)):
        if key in table and not isinstance(table[key], kind):
            raise InvalidInputError(f"{where}: key {key!r}: expected text, got {table[key]!r}")
    parameters = table.get("parameters", {})
    if not isinstance(parameters, dict):
        raise InvalidInputError(f"{where}: key 'parameters': expected a table [jobs.{name}.parameters]")
    steps = table.get("steps", [])
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise InvalidInputError(f"{where}: key 'steps': expected a list of job names, got {steps!r}")
    return JobSpec(
        name=name,
        notebook=notebook_path,
        description=table.get("description", ""),
        parameters=parameters,
        schedule=table.get("schedule"),
        timezone=table.get("timezone", "UTC"),
        timeout_s=table.get("timeout_s", DEFAULT_TIMEOUT_S),
        retries=table.get("retries", 0),
        retry_backoff_s=table.get("retry_backoff_s", DEFAULT_BACKOFF_S),
        steps=tuple(steps),
        config=table.get("config"),
        source=path,
    )


# -- parameters --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclaredParameter:
    """One name the notebook's ``parameters`` cell assigns: its default, type and whether None is allowed."""

    name: str
    default: object
    kind: ParameterKind
    nullable: bool
    is_date: bool
    literal: bool = True  # False: the default is an expression (``default`` holds its text)


def declared_parameters(notebook: str | os.PathLike[str]) -> dict[str, DeclaredParameter]:
    """Return the parameters a notebook declares (papermill's inspection), with their types.

    A type comes from the cell's annotation (``n_days: int = 5``, ``path: str | None = None``),
    else from the default's literal (``5`` is an int); a default of None without annotation
    takes text (or a JSON list / object). A parameter is a date if its name says so
    (``start``, ``end``, ``as_of``, ``*date*``) or its default is an ISO date.

    Raises
    ------
    InvalidInputError
        If the notebook cannot be read or has no cell tagged ``parameters``.
    """
    import papermill
    from papermill.exceptions import PapermillException

    path = Path(notebook)
    try:
        found = papermill.inspect_notebook(str(path))
    except (OSError, ValueError, PapermillException) as exc:
        raise InvalidInputError(f"{path}: cannot read the notebook's parameters: {exc}") from None
    out: dict[str, DeclaredParameter] = {}
    for name, info in found.items():
        text = str(info.get("default", "None"))
        literal = True
        try:
            default: object = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            default, literal = text, False  # an expression (not a literal): its text
        kind, nullable = _kind(str(info.get("inferred_type_name", "None")), default)
        is_date = kind in ("str", "any") and (
            _DATE_NAME_RE.search(name) is not None or (isinstance(default, str) and _looks_like_date(default))
        )
        out[name] = DeclaredParameter(
            name=name, default=default, kind=kind, nullable=nullable, is_date=is_date, literal=literal
        )
    return out


def _kind(annotation: str, default: object) -> tuple[ParameterKind, bool]:
    text = annotation.replace(" ", "")
    if text and text != "None":
        nullable = "None" in text.split("|") or text.startswith("Optional[")
        for token, kind in (
            ("bool", "bool"), ("int", "int"), ("float", "float"), ("str", "str"), ("list", "list"),
            ("tuple", "list"), ("dict", "dict"),
        ):  # fmt: skip
            if re.search(rf"(^|[\[|,]){token}($|[\]|,\[])", text.replace("Optional[", "[")):
                return kind, nullable  # type: ignore[return-value]
        return "any", True
    match default:
        case None:
            return "any", True
        case bool():
            return "bool", False
        case int():
            return "int", False
        case float():
            return "float", False
        case str():
            return "str", False
        case list() | tuple():
            return "list", False
        case dict():
            return "dict", False
    return "any", True


def _looks_like_date(text: str) -> bool:
    return _DATE_TEXT_RE.fullmatch(text.strip()) is not None


def validate_parameters(spec: JobSpec, given: Mapping[str, object] | None = None) -> dict[str, object]:
    """Check a run's parameters against the notebook's declared ones; return what the run injects.

    ``jobs.toml``'s defaults come first, then ``given`` (a caller's values; text from the
    command line, ``-p n_days=5``, is read as the declared type). Nothing here starts a kernel.

    Parameters
    ----------
    spec
        The job.
    given
        The caller's values by name.

    Returns
    -------
    dict[str, object]
        The defaults of ``jobs.toml`` updated with ``given``, each converted to its declared type.

    Raises
    ------
    InvalidInputError
        Naming the job and the parameter: an unknown name, a name the runner fills
        (``run_id``, ``output_dir``), a value of the wrong type, a date that does not parse.
    """
    if not isinstance(spec, JobSpec):
        raise InvalidInputError(f"spec must be a JobSpec (load_jobs() gives them), got {type(spec).__name__}")
    if given is not None and not isinstance(given, Mapping):
        raise InvalidInputError(f"job {spec.name!r}: parameters must be a mapping of name to value, got {given!r}")
    return checked_parameters(spec, given, declared_parameters(spec.notebook))


def checked_parameters(
    spec: JobSpec, given: Mapping[str, object] | None, declared: Mapping[str, DeclaredParameter]
) -> dict[str, object]:
    """`validate_parameters` against parameters already read off the notebook (`declared_parameters`)."""
    out: dict[str, object] = {}
    for origin, values in (("jobs.toml", spec.parameters), ("given", given or {})):
        for name, value in values.items():
            where = f"job {spec.name!r}: parameter {name!r}" + (
                f" ({spec.source})" if origin == "jobs.toml" and spec.source else ""
            )
            if not isinstance(name, str):
                raise InvalidInputError(f"job {spec.name!r}: a parameter's name is text, got {name!r}")
            if name in RUNNER_PARAMETERS:
                raise InvalidInputError(f"{where} is filled by the runner (the run's own); do not give it")
            if name not in declared:
                known = ", ".join(sorted(set(declared) - RUNNER_PARAMETERS)) or "none"
                raise InvalidInputError(f"{where} is not declared by {spec.notebook.name}; it declares: {known}")
            out[name] = _coerce(declared[name], value, where)
    if spec.config is not None:
        _check_config(spec, out, declared)
    return out


def _check_config(spec: JobSpec, values: Mapping[str, object], declared: Mapping[str, DeclaredParameter]) -> None:
    # what the notebook's config cell will do with these values, done here before a kernel starts:
    # the notebook's literal defaults, then the run's values, given to the config's from_parameters
    import inspect

    import bifrost.jobs

    where = f"{spec.source}: job {spec.name!r}: key 'config'" if spec.source else f"job {spec.name!r}: config"
    factory = getattr(getattr(bifrost.jobs, spec.config or "", None), "from_parameters", None)
    if not callable(factory):
        raise InvalidInputError(f"{where}: bifrost.jobs has no config class {spec.config!r} with from_parameters")
    merged = {n: p.default for n, p in declared.items() if p.literal and n not in RUNNER_PARAMETERS}
    merged.update(values)
    accepted = inspect.signature(factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        merged = {n: v for n, v in merged.items() if n in accepted}
    try:
        factory(**merged)
    except InvalidInputError as exc:
        message = str(exc)
        raise InvalidInputError(message if message.startswith(spec.name) else f"job {spec.name!r}: {message}") from None


_TRUE: Final = frozenset({"true", "yes", "1", "on"})
_FALSE: Final = frozenset({"false", "no", "0", "off"})


def _coerce(param: DeclaredParameter, value: object, where: str) -> object:
    expected = param.kind + (" or None" if param.nullable else "")
    if isinstance(value, str):
        value = _from_text(param, value, where)
    if value is None:
        if param.nullable:
            return None
        raise InvalidInputError(f"{where}: expected {expected}, got None")
    match param.kind:
        case "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        case "float":
            ok = _is_real(value) and math.isfinite(float(value))  # type: ignore[arg-type]
            value = float(value) if ok else value  # type: ignore[arg-type]
        case "bool":
            ok = isinstance(value, bool)
        case "str":
            ok = isinstance(value, str)
        case "list":
            ok = isinstance(value, list | tuple)
            value = list(value) if ok else value  # type: ignore[call-overload]
        case "dict":
            ok = isinstance(value, dict)
        case _:
            ok = _is_plain(value)
    if not ok:
        raise InvalidInputError(f"{where}: expected {expected}, got {value!r} ({type(value).__name__})")
    if param.is_date and isinstance(value, str):
        _check_date(value, where)
    return value


def _from_text(param: DeclaredParameter, text: str, where: str) -> object:
    stripped = text.strip()
    if param.nullable and stripped.lower() in ("none", "null") and param.kind != "str":
        return None
    match param.kind:
        case "str":
            return text
        case "int":
            if re.fullmatch(r"[+-]?\d+", stripped) is None:
                raise InvalidInputError(f"{where}: expected an integer (digits), got {text!r}")
            return int(stripped)
        case "float":
            try:
                number = float(stripped)
            except ValueError:
                raise InvalidInputError(f"{where}: expected a number, got {text!r}") from None
            if "_" in stripped or not math.isfinite(number):
                raise InvalidInputError(f"{where}: expected a finite number written as digits, got {text!r}")
            return number
        case "bool":
            if stripped.lower() in _TRUE:
                return True
            if stripped.lower() in _FALSE:
                return False
            raise InvalidInputError(f"{where}: expected true or false, got {text!r}")
        case "list" | "dict":
            return _literal(text, where, param.kind, comma_list=param.kind == "list")
    # no declared type (a default of None): JSON lists and objects are read, anything else is text
    if stripped[:1] in ("[", "{"):
        return _literal(text, where, "list or object", comma_list=False)
    return text


def _literal(text: str, where: str, what: str, *, comma_list: bool) -> object:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    if comma_list and text.strip() and not text.strip().startswith("["):
        return [part.strip() for part in text.split(",") if part.strip()]  # AAPL,MSFT
    raise InvalidInputError(f'{where}: expected a {what} (JSON, e.g. ["AAPL", "MSFT"]), got {text!r}')


def _is_plain(value: object) -> bool:
    # what papermill can write into a parameters cell
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _check_date(text: str, where: str) -> None:
    from bifrost._checks import as_utc_timestamp

    try:
        as_utc_timestamp(text, "date")
    except InvalidInputError:
        raise InvalidInputError(f"{where}: expected a date such as 2014-06-02, got {text!r}") from None
