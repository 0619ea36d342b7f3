"""Delivery: the pipeline, its stages, CodeBuild projects, triggers, notifications and roles."""
