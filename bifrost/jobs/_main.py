"""The main job, what ``make run`` (``bifrost run``) runs: the ``daily`` pipeline job."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bifrost.data import Store
from bifrost.jobs._runner import run_job
from bifrost.jobs._spec import JobSpec, load_jobs

if TYPE_CHECKING:  # the pipeline steps import bifrost.strategy (numba): loaded when the daily job runs
    from bifrost.jobs._pipelines import DailySummary

__all__ = ["DAILY_JOB", "run_daily"]

DAILY_JOB = "daily"


def run_daily(
    store: Store,
    *,
    parameters: Mapping[str, Mapping[str, object]] | None = None,
    jobs: Mapping[str, JobSpec] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> DailySummary:
    """Run the ``daily`` job on ``store`` and return its summary: each step's run and the headline numbers.

    Parameters
    ----------
    store
        The store the pipeline runs on and records its runs in (an empty embedded
        store works: the demo market is ingested first).
    parameters
        Per-step overrides by job name, e.g. ``{"daily_ingest": {"n_symbols": 10}}``
        (the ``daily`` notebook's ``parameters``).
    jobs, home
        As for `bifrost.jobs.run_job` (default: ``papermill_jobs/jobs.toml``; the store's home).

    Raises
    ------
    InvalidInputError
        If a step's parameters are refused (before any kernel starts).
    """
    from bifrost.jobs._pipelines import daily_summary

    specs = load_jobs() if jobs is None else jobs
    given = {"parameters": {k: dict(v) for k, v in parameters.items()}} if parameters else None
    run = run_job(store, DAILY_JOB, given, jobs=specs, home=home)
    steps = specs[DAILY_JOB].steps if DAILY_JOB in specs else ()
    return daily_summary(store, run, steps)
