"""The Batch jobs: `retrain/` and `monitor/`, one folder per job, sharing `common.py`.

Nothing is imported here: CodeBuild runs `python3 -m retrain_job.job_revision` with the standard
library only.
"""
