"""Jobs: the platform's scheduled pipelines. Only the surfaces import this package.

A job is a parameterised notebook declared in ``papermill_jobs/jobs.toml`` (`load_jobs`);
`run_job` executes it with papermill and records the run in the store's history
(`job_history`, `get_run`, `runs_marker`); `run_chain` runs jobs as the steps of one run;
a job notebook attaches headline numbers to its run with `record_result`.
"""

from typing import TYPE_CHECKING, Any

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
from bifrost.jobs._main import DAILY_JOB, run_daily
from bifrost.jobs._runner import new_run_id, record_result, run_chain, run_job
from bifrost.jobs._scheduler import (
    SCHEDULER_SCHEMA,
    MissedPolicy,
    ScheduledRun,
    ScheduleOutcome,
    Scheduler,
    SchedulerLockedError,
    due_times,
)
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
    "DAILY_JOB",
    "DEMO_PORTFOLIO",
    "HEARTBEAT_S",
    "JOBS_DIR_ENV",
    "JOBS_SCHEMA",
    "LOG_FORMAT_ENV",
    "PAPER_PORTFOLIO",
    "SCHEDULER_SCHEMA",
    "BacktestStep",
    "ChainFailedError",
    "ComplianceSurveillanceConfig",
    "DailyIngestConfig",
    "DailySummary",
    "DeclaredParameter",
    "IngestSourceName",
    "IngestStep",
    "JobHistory",
    "JobSpec",
    "Lease",
    "LogFormat",
    "MissedPolicy",
    "NightlyBacktestConfig",
    "PaperRebalanceConfig",
    "PortfolioRisk",
    "PortfolioSurveillance",
    "PortfolioSync",
    "RebalanceStep",
    "RiskReportConfig",
    "RiskStep",
    "RunRecord",
    "RunStatus",
    "ScheduleOutcome",
    "ScheduledRun",
    "Scheduler",
    "SchedulerLockedError",
    "StrategyRun",
    "SurveillanceStep",
    "backtest_step",
    "chain_summary",
    "configure_logging",
    "current_run_id",
    "daily_summary",
    "declared_parameters",
    "due_times",
    "get_run",
    "ingest_step",
    "job_history",
    "jobs_dir",
    "load_jobs",
    "new_run_id",
    "rebalance_step",
    "record_result",
    "risk_step",
    "run_chain",
    "run_context",
    "run_daily",
    "run_job",
    "runs_marker",
    "surveillance_step",
    "sync_demo_portfolio",
    "target_weights",
    "validate_parameters",
]

# the pipelines' steps import the backtest engine (numba): loaded on first use, so that
# `bifrost jobs list` and the rest of the command line start without compiling anything
_PIPELINES = frozenset(
    {
        "DEMO_PORTFOLIO",
        "BacktestStep",
        "ChainFailedError",
        "DailyIngestConfig",
        "DailySummary",
        "IngestSourceName",
        "IngestStep",
        "NightlyBacktestConfig",
        "PAPER_PORTFOLIO",
        "PaperRebalanceConfig",
        "PortfolioRisk",
        "PortfolioSync",
        "RebalanceStep",
        "RiskReportConfig",
        "RiskStep",
        "StrategyRun",
        "backtest_step",
        "chain_summary",
        "daily_summary",
        "ingest_step",
        "rebalance_step",
        "risk_step",
        "sync_demo_portfolio",
        "target_weights",
    }
)
# the compliance surveillance step (bifrost.compliance): loaded on first use too
_COMPLIANCE = frozenset(
    {"ComplianceSurveillanceConfig", "PortfolioSurveillance", "SurveillanceStep", "surveillance_step"}
)

if TYPE_CHECKING:
    from bifrost.jobs._compliance_job import (
        ComplianceSurveillanceConfig,
        PortfolioSurveillance,
        SurveillanceStep,
        surveillance_step,
    )
    from bifrost.jobs._pipelines import (
        DEMO_PORTFOLIO,
        PAPER_PORTFOLIO,
        BacktestStep,
        ChainFailedError,
        DailyIngestConfig,
        DailySummary,
        IngestSourceName,
        IngestStep,
        NightlyBacktestConfig,
        PaperRebalanceConfig,
        PortfolioRisk,
        PortfolioSync,
        RebalanceStep,
        RiskReportConfig,
        RiskStep,
        StrategyRun,
        backtest_step,
        chain_summary,
        daily_summary,
        ingest_step,
        rebalance_step,
        risk_step,
        sync_demo_portfolio,
        target_weights,
    )


def __getattr__(name: str) -> Any:
    if name in _PIPELINES:
        from bifrost.jobs import _pipelines

        value = getattr(_pipelines, name)
        globals()[name] = value
        return value
    if name in _COMPLIANCE:
        from bifrost.jobs import _compliance_job

        value = getattr(_compliance_job, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bifrost.jobs' has no attribute {name!r}")
