"""Where the stack keeps things in its buckets, and what its metrics are called: written once.

The Pulumi program scopes IAM and sets task and job environments from this layout, the service
and the jobs read and write by it, and the demo builds its local account from it; a key moved
here moves everywhere at once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

BUNDLE_FILE = "model-bundle.zip"
"""The file name of a model bundle wherever one is stored (S3 keys, the image, the build)."""

SERVICE_CONTAINER = "model-server"
"""The model server's container name: in the task definition, imagedefinitions.json and the CLI."""

METRICS_NAMESPACE = "MlDeploy"
"""CloudWatch namespace of every custom metric the jobs publish (and the dashboard and alarms read)."""


class ObjectLayout(BaseModel):
    """The keys and prefixes of the model bucket and the prediction-log bucket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_key: str = Field(
        f"bundles/current/{BUNDLE_FILE}",
        description="Key of the bundle that triggers a deploy (the champion).",
    )
    model_archive_prefix: str = Field(
        "bundles/archive/", description="Where every accepted bundle is kept by version."
    )
    decisions_prefix: str = Field(
        "retrain/decisions/", description="Retrain gate decision records (model bucket)."
    )
    training_data_prefix: str = Field("training/", description="Prefix of the training data files.")
    prediction_log_prefix: str = Field(
        "predictions/", description="Prefix of the service's payload logs, one folder per environment."
    )
    outcomes_prefix: str = Field(
        "outcomes/",
        description="Observed outcomes of scored records (log bucket), by day observed: dt=YYYY-MM-DD/.",
    )
    reports_prefix: str = Field("reports/", description="Drift reports (log bucket).")
    summaries_prefix: str = Field(
        "monitor/summaries/",
        description="The monitor's per-hour summaries of closed log partitions (log bucket).",
    )
    query_results_prefix: str = Field(
        "athena-results/",
        description="Athena's query results (log bucket): kept a week, then expired.",
    )
    cooldown_key: str = Field(
        "monitor/cooldown.json",
        description="Where the monitor remembers its last drift-triggered retrain (log bucket).",
    )

    @field_validator("model_key")
    @classmethod
    def _zip_key(cls, value: str) -> str:
        if value.startswith("/") or not value.endswith(".zip"):
            raise ValueError("must be an S3 key without a leading '/' that ends in .zip")
        return value

    @field_validator(
        "model_archive_prefix",
        "decisions_prefix",
        "training_data_prefix",
        "prediction_log_prefix",
        "outcomes_prefix",
        "reports_prefix",
        "summaries_prefix",
        "query_results_prefix",
    )
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value.startswith("/") or not value.endswith("/"):
            raise ValueError("must be an S3 prefix without a leading '/' that ends in '/'")
        return value

    def prediction_logs(self, environment: str) -> str:
        """``predictions/stage/``: each environment logs under a folder of its own."""
        return environment_logs(self.prediction_log_prefix, environment)

    def archived_bundle_key(self, bundle_version: str) -> str:
        """``bundles/archive/<version>/model-bundle.zip``: one immutable key per bundle."""
        return archived_bundle_key(self.model_archive_prefix, bundle_version)

    def smoke_test_key(self, environment: str, bundle_version: str) -> str:
        """``reports/smoke-tests/<environment>/<version>.json``: a deployment smoke test's verdict."""
        return f"{self.reports_prefix}smoke-tests/{environment}/{bundle_version}.json"

    def latest_report_prefix(self, environment: str) -> str:
        """Where the newest drift report of an environment is always found."""
        return f"{self.reports_prefix}latest/{environment}/"


def environment_logs(prediction_log_prefix: str, environment: str) -> str:
    """The folder of one environment's prediction logs under the log prefix."""
    return f"{folder(prediction_log_prefix)}{environment}/"


def archived_bundle_key(archive_prefix: str, bundle_version: str) -> str:
    """The immutable key of one bundle version under the archive prefix."""
    return f"{folder(archive_prefix)}{bundle_version}/{BUNDLE_FILE}"


def folder(prefix: str) -> str:
    """A prefix that ends in '/' (an empty prefix stays empty: the bucket's root)."""
    return prefix if not prefix or prefix.endswith("/") else f"{prefix}/"


DEFAULT_LAYOUT = ObjectLayout()
