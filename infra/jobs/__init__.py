"""The scheduled retrain, monitor and quality jobs on AWS Batch: compute, definitions, schedules, roles."""
