"""The monitoring job: `python -m retrain_job.monitor` (see `job` for its steps and exit codes)."""

from retrain_job.common import EXIT_FAILED, EXIT_INVALID_INPUT
from retrain_job.monitor.job import EXIT_CHECKED
from retrain_job.monitor.modes import main

__all__ = ["EXIT_CHECKED", "EXIT_FAILED", "EXIT_INVALID_INPUT", "main"]
