"""What both Batch jobs share: exit codes, the entry-point error rule, AWS clients, metrics, alerts.

Exit codes (both jobs): 0 the job did its work, 1 a failure worth retrying (AWS), 2 unusable input
(settings, data, bundle), printed as one line without a traceback. The retrain job adds 3 for a
challenger the gate rejected, which the Batch retry strategy must not retry.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ml_deploy.bundle import BundleError
from ml_deploy.schema import SchemaError
from ml_deploy.settings import JobSettings, SettingsError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID_INPUT = 2

METRICS_PER_CALL = 1000  # PutMetricData accepts at most 1000 metrics per request
SUBJECT_LIMIT = 100  # SNS rejects longer email subjects


class JobInputError(ValueError):
    """Input a job cannot use; the message names the input and what was expected (exit 2)."""


class JobFailure(RuntimeError):
    """A failure worth retrying that is not an AWS error, e.g. an upload that reads back wrong."""


def run_job(job: str, steps: Callable[[], int]) -> int:
    """Run a job's steps; user errors are caught here, once, and printed without a traceback."""
    try:
        return steps()
    except (SettingsError, JobInputError, SchemaError, BundleError) as error:
        print(f"{job}: invalid input: {error}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except (BotoCoreError, ClientError, JobFailure) as error:
        print(f"{job}: failed, safe to retry: {error}", file=sys.stderr)
        return EXIT_FAILED


class JobClients:
    """boto3 clients of one run, each made on first use (never at import) so moto can wrap them.

    The region comes from the settings, else from boto3's own configuration; AWS_ENDPOINT_URL
    (a local stand-in for AWS) is honoured by boto3 itself.
    """

    def __init__(self, settings: JobSettings) -> None:
        import boto3

        self._session = boto3.session.Session(region_name=settings.aws_region)
        if self._session.region_name is None:
            raise JobInputError(
                f"no AWS region: set {settings.variable('aws_region')} (or --aws-region), "
                "or a default region in the AWS configuration"
            )

    @cached_property
    def s3(self) -> Any:
        return self._session.client("s3")

    @cached_property
    def cloudwatch(self) -> Any:
        return self._session.client("cloudwatch")

    @cached_property
    def sns(self) -> Any:
        return self._session.client("sns")

    @cached_property
    def batch(self) -> Any:
        return self._session.client("batch")

    @cached_property
    def codepipeline(self) -> Any:
        return self._session.client("codepipeline")


def metric(name: str, value: float, *, dimensions: Mapping[str, str], unit: str = "None") -> dict[str, Any]:
    """One CloudWatch datum."""
    return {
        "MetricName": name,
        "Value": float(value),
        "Unit": unit,
        "Dimensions": [{"Name": key, "Value": str(val)} for key, val in dimensions.items()],
    }


def put_metrics(cloudwatch: Any, *, namespace: str, metrics: Sequence[dict[str, Any]]) -> int:
    """`put_metric_data` in batches of at most METRICS_PER_CALL; the number of calls made."""
    calls = 0
    for start in range(0, len(metrics), METRICS_PER_CALL):
        cloudwatch.put_metric_data(
            Namespace=namespace, MetricData=list(metrics[start : start + METRICS_PER_CALL])
        )
        calls += 1
    return calls


def alert_subject(job: str, summary: str) -> str:
    """``ml-deploy <job>: <summary>``, cut to the SNS limit with an ellipsis rather than rejected."""
    subject = f"ml-deploy {job}: {summary}"
    return subject if len(subject) <= SUBJECT_LIMIT else subject[: SUBJECT_LIMIT - 3] + "..."


def send_alert(
    clients: JobClients, settings: JobSettings, *, job: str, summary: str, body: str
) -> str | None:
    """Publish to the alerts topic when one is set; the message id, or None without a topic."""
    if not settings.alerts_topic_arn:
        return None
    response = clients.sns.publish(
        TopicArn=settings.alerts_topic_arn, Subject=alert_subject(job, summary), Message=body
    )
    return str(response["MessageId"])
