"""The quality job: `python -m retrain_job.quality` (see `job` for its steps and exit codes)."""

from retrain_job.common import EXIT_FAILED, EXIT_INVALID_INPUT, EXIT_OK
from retrain_job.quality.job import main

__all__ = ["EXIT_FAILED", "EXIT_INVALID_INPUT", "EXIT_OK", "main"]
