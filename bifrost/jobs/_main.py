"""The main job, what ``make run`` (``bifrost run``) runs: the ``daily`` pipeline job."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from bifrost.data import IngestReport, QualityReport, Store, SyntheticMarket, check_quality, ingest
from bifrost.jobs._runner import run_job
from bifrost.jobs._spec import JobSpec, load_jobs

if TYPE_CHECKING:  # the pipeline steps import bifrost.strategy (numba): loaded when the daily job runs
    from bifrost.jobs._pipelines import DailySummary

__all__ = ["DAILY_JOB", "MainJobReport", "run_daily", "run_main_job"]

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


# -- before issue 13 `bifrost run` only ingested the demo market: kept until bifrost.jobs stops exporting it --


@dataclass(frozen=True, slots=True, kw_only=True)
class MainJobReport:
    """What the main job did and found."""

    store: dict[str, str]
    ingest: IngestReport
    symbols: pd.DataFrame
    quality: QualityReport

    def summary(self) -> str:
        """Return the job's report as text for a terminal."""
        first, last = self.symbols["first"].min(), self.symbols["last"].max()
        synthetic = int(self.symbols["synthetic"].sum())
        sectors = self.symbols["sector"].value_counts()
        lines = [
            f"store      : {self.store['backend']} ({self.store['mode']}) at {self.store['location']}",
            f"ingest     : {self.ingest.summary()}",
            f"symbols    : {len(self.symbols)} ({synthetic} synthetic), "
            f"{', '.join(f'{k} {v}' for k, v in sectors.items())}",
            f"date range : {first:%Y-%m-%d} … {last:%Y-%m-%d}",
            f"rows       : {int(self.symbols['rows'].sum())}",
            f"quality    : {self.quality.summary()}",
        ]
        return "\n".join(lines)


def run_main_job(store: Store, *, n_symbols: int = 50, n_days: int = 1260, seed: int = 7) -> MainJobReport:
    """Ingest the built-in synthetic demo market into ``store`` and check its quality."""
    market = SyntheticMarket(n_symbols=n_symbols, n_days=n_days, seed=seed)
    report = ingest(store.bars, market)
    listing = store.list_symbols()
    listing = listing[listing["symbol"].isin(market.symbols)]
    quality = check_quality(store.bars, list(market.symbols))
    return MainJobReport(store=store.describe(), ingest=report, symbols=listing, quality=quality)
