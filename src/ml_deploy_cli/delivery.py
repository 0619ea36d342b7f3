"""What the commands need from a deployed stack, whatever runs it.

`Delivery` is the seam between the commands and a backend: the AWS one (`ml_deploy_cli.aws`)
reads ECS, CodePipeline and S3; a local backend (a pipeline run on this machine) can implement the
same methods and every command works unchanged. The records are plain data the commands print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ml_deploy_cli.images import ImageRef

if TYPE_CHECKING:  # only the protocol's signatures name them: every command imports this module
    from ml_deploy.bundle import Manifest
    from ml_deploy.tracking import ReleaseEvent

Environment = Literal["stage", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("stage", "prod")


@dataclass(frozen=True)
class Deployment:
    """What one environment runs now: its task-definition revision, image and rollout."""

    environment: Environment
    service: str
    revision: str  # family:revision
    image: ImageRef
    running: int
    desired: int
    rollout: str | None  # rolloutState of the primary deployment (IN_PROGRESS, COMPLETED, FAILED)
    container_environment: dict[str, str] = field(default_factory=dict)
    cpu: str | None = None  # the task definition's, in CPU units (`512`); None where a backend has none
    memory: str | None = None  # MiB


@dataclass(frozen=True)
class ExecutionFacts:
    """What one pipeline execution carries: commit, model and, once answered, its approval."""

    commit: str | None = None
    model_version: str | None = None
    model_object_version: str | None = None
    image_tag: str | None = None
    approval: ApprovalOutcome | None = None


@dataclass(frozen=True)
class ApprovalOutcome:
    status: str  # Succeeded (approved), Failed (rejected), InProgress (waiting), Abandoned
    by: str | None
    summary: str | None


@dataclass(frozen=True)
class StageRun:
    """The latest execution a stage saw."""

    stage: str
    execution_id: str
    status: str


@dataclass(frozen=True)
class PendingApproval:
    """An approval that waits for an answer, and what it would let through."""

    execution_id: str
    stage: str
    action: str
    token: str
    since: datetime | None
    facts: ExecutionFacts


@dataclass(frozen=True)
class PipelineState:
    pipeline: str
    stages: Sequence[StageRun]
    approvals: Sequence[PendingApproval]

    @property
    def in_flight(self) -> list[StageRun]:
        return [run for run in self.stages if run.status == "InProgress"]


@dataclass(frozen=True)
class ApprovalAnswer:
    execution_id: str
    approved: bool
    facts: ExecutionFacts
    answered_at: datetime | None


@dataclass(frozen=True)
class UploadedBundle:
    bucket: str
    key: str
    version_id: str | None
    encryption: str | None


@dataclass(frozen=True)
class Rollback:
    environment: Environment
    service: str
    from_revision: str
    from_image: ImageRef
    to_revision: str
    to_image: ImageRef


@dataclass(frozen=True)
class ExecutionRecord:
    execution_id: str
    status: str
    started: datetime | None
    trigger: str
    facts: ExecutionFacts


@dataclass(frozen=True)
class RetrainDecision:
    """The newest record the retrain job's gate wrote (promoted, rejected or unchanged)."""

    location: str
    decision: str
    decided_at: str | None
    challenger_version: str | None
    champion_version: str | None
    reasons: Sequence[str]


@dataclass(frozen=True)
class DriftReport:
    """The newest drift report the monitor wrote for an environment."""

    location: str
    status: str
    window_end: str | None
    rows_seen: int | None
    drifted_features: Sequence[str]


@dataclass(frozen=True)
class LogLine:
    """One line a task wrote: when (None where the backend does not say), which task, what."""

    at: datetime | None
    source: str
    message: str


@dataclass(frozen=True)
class LogPage:
    """The lines since the last read, and where the next read goes on (`--follow`)."""

    lines: Sequence[LogLine]
    cursor: str


class Delivery(Protocol):
    """A deployed stack as the commands see it."""

    def deployment(self, environment: Environment) -> Deployment: ...

    def pipeline_state(self) -> PipelineState: ...

    def answer_approval(self, *, approve: bool, comment: str, execution_id: str | None) -> ApprovalAnswer:
        """Answer the waiting approval (of `execution_id` when given); CliError when none waits."""
        ...

    def upload_bundle(self, path: Path, *, manifest: Manifest) -> UploadedBundle:
        """Ship a verified bundle to the key whose upload starts the pipeline."""
        ...

    def upload_outcomes(self, objects: Sequence[tuple[str, bytes]]) -> list[str]:
        """Write outcome objects (key, gzip body) into the prediction-log bucket, all or none; their URLs."""
        ...

    def roll_back(self, environment: Environment) -> Rollback: ...

    def history(self, limit: int) -> list[ExecutionRecord]: ...

    def last_decision(self) -> RetrainDecision | None: ...

    def drift_report(self, environment: Environment) -> DriftReport | None: ...

    def dashboard(self, environment: Environment, *, expires_in: int) -> str:
        """Where to open the environment's model-tracking dashboard: a presigned URL, or locally a file."""
        ...

    def record_release(self, event: ReleaseEvent) -> str:
        """Keep a release event for the dashboard's timeline; where it was written."""
        ...

    # What `ml-deploy bootstrap` needs beyond the other commands (a first deploy).

    def model_at_key(self) -> str | None:
        """Where the bundle at the model key is (`s3://bucket/key (object version ...)`); None if none."""
        ...

    def first_model_environment(self, *, code_version: str) -> dict[str, str]:
        """The environment the retrain job needs to train a first bundle and put it at the model key."""
        ...

    def apply_program(self, *, stack: str | None) -> str:
        """Make the stack follow what the registry now holds (AWS: `pulumi up`); what was done."""
        ...

    def urls(self) -> dict[Environment, str]:
        """Each environment's address (its load balancer's URL)."""
        ...

    def retry(self, execution_id: str | None) -> StageRun:
        """Retry the failed actions of a failed stage; the stage and execution retried."""
        ...

    def release(self) -> str:
        """Start a new pipeline execution from the current sources; its id."""
        ...

    def service_logs(self, environment: Environment, *, since: datetime, cursor: str | None) -> LogPage:
        """What the environment's model server logged since `since` (or after `cursor`), oldest first."""
        ...

    def links(self) -> dict[str, str]:
        """Where an operator looks next, by name (`stage`, `prod`, `pipeline`, `dashboard`); what the
        backend knows of them, none required."""
        ...

    def quota_shortfalls(self) -> list[str] | None:
        """One line per account quota below what a first run uses, saying what to raise; None when
        the quotas cannot be read."""
        ...


@runtime_checkable
class BundleEvidence(Protocol):
    """What a backend may say beyond `Delivery` about a model version and an image (`diff` shows
    it when the backend in use implements this): the archived bundle's manifest, the image digest."""

    def bundle_manifest(self, model_version: str) -> Manifest | None:
        """The manifest of the archived bundle of that version; None when it is not archived."""
        ...

    def image_digest(self, image: str) -> str | None:
        """The digest the image reference names; None when the registry does not say."""
        ...
