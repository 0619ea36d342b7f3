"""The retrain job: `python -m retrain_job.retrain` (see `job` for its steps and exit codes)."""

from retrain_job.common import EXIT_FAILED, EXIT_INVALID_INPUT
from retrain_job.retrain.job import EXIT_PROMOTED, EXIT_REJECTED, main

__all__ = ["EXIT_FAILED", "EXIT_INVALID_INPUT", "EXIT_PROMOTED", "EXIT_REJECTED", "main"]
