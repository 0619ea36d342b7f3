"""The scheduled retrain and monitor jobs on AWS Batch: compute, job definitions, schedules and roles."""
