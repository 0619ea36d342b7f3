"""The AWS backend: ECS for what runs, CodePipeline for executions and approvals, S3 for bundles,
decisions and drift reports.

`AwsDelivery` is imported when first asked for (PEP 562): importing any module of this package
runs this file, and a pipeline step or `--help` needs none of the delivery's modules.
"""

from typing import TYPE_CHECKING

from ml_deploy_cli.aws.clients import ClientFactory, session_clients

if TYPE_CHECKING:
    from ml_deploy_cli.aws.delivery import AwsDelivery

__all__ = ["AwsDelivery", "ClientFactory", "session_clients"]


def __getattr__(name: str) -> object:
    if name == "AwsDelivery":
        from ml_deploy_cli.aws.delivery import AwsDelivery

        return AwsDelivery
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
