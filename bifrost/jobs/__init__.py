"""Jobs: the platform's scheduled pipelines. Only the surfaces import this package.

A job is a parameterised notebook declared in ``papermill_jobs/jobs.toml`` (`load_jobs`);
`run_job` executes it with papermill and records the run in the store's history
(`job_history`, `get_run`, `runs_marker`); `run_chain` runs jobs as the steps of one run;
a job notebook attaches headline numbers to its run with `record_result`.
"""

from bifrost.jobs._history import (
    ABANDON_AFTER_S,
    HEARTBEAT_S,
    JOBS_SCHEMA,
    JobHistory,
    Lease,
    RunRecord,
    RunStatus,
    get_run,
    job_history,
    runs_marker,
)
from bifrost.jobs._logging import LOG_FORMAT_ENV, LogFormat, configure_logging, current_run_id, run_context
from bifrost.jobs._main import MainJobReport, run_main_job
from bifrost.jobs._runner import new_run_id, record_result, run_chain, run_job
from bifrost.jobs._spec import (
    JOBS_DIR_ENV,
    DeclaredParameter,
    JobSpec,
    declared_parameters,
    jobs_dir,
    load_jobs,
    validate_parameters,
)

__all__ = [
    "ABANDON_AFTER_S",
    "HEARTBEAT_S",
    "JOBS_DIR_ENV",
    "JOBS_SCHEMA",
    "LOG_FORMAT_ENV",
    "DeclaredParameter",
    "JobHistory",
    "JobSpec",
    "Lease",
    "LogFormat",
    "MainJobReport",
    "RunRecord",
    "RunStatus",
    "configure_logging",
    "current_run_id",
    "declared_parameters",
    "get_run",
    "job_history",
    "jobs_dir",
    "load_jobs",
    "new_run_id",
    "record_result",
    "run_chain",
    "run_context",
    "run_job",
    "run_main_job",
    "runs_marker",
    "validate_parameters",
]
