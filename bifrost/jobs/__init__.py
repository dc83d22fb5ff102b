"""Jobs: the platform's scheduled pipelines. Only the surfaces import this package."""

from bifrost.jobs._main import MainJobReport, run_main_job

__all__ = ["MainJobReport", "run_main_job"]
