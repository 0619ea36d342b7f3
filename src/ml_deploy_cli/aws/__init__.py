"""The AWS backend: ECS for what runs, CodePipeline for executions and approvals, S3 for bundles,
decisions and drift reports."""

from ml_deploy_cli.aws.clients import ClientFactory, session_clients
from ml_deploy_cli.aws.delivery import AwsDelivery

__all__ = ["AwsDelivery", "ClientFactory", "session_clients"]
