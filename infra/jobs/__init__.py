"""The scheduled retrain, monitor and quality jobs on AWS Batch: compute, job definitions, schedules and roles."""
