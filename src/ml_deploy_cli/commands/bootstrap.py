"""`ml-deploy bootstrap`: a fresh stack (after its first `pulumi up`) to stage and prod serving a first model.

Before anything is shipped, a preflight reads the account's CodeBuild concurrency and Fargate vCPU
quotas (Service Quotas) and stops with one line saying which to raise and how
(`ml_deploy_cli/aws/quotas.py`; `--no-preflight` skips it). Each step looks at the stack before it
acts, so running the command again after a stop (an approval left to a person, a failed run fixed
and released) goes on from where the stack stands:

1. a bundle at the model key: `--bundle` ships one (verified as `upload-model` verifies it),
   else the retrain job trains one from the training data (as `first-model`); none if one is there;
2. the pipeline execution that upload starts: Build pushes the images, DeployStage and DeployProd
   deploy onto services that run no task yet (the smoke hook passes a revision with no task), and
   at Approve, while prod runs nothing, this approves with a comment saying so (`--no-approve`
   leaves the answer to a person);
3. `pulumi up` (`--no-pulumi-up` leaves it to CI): the program sees the pushed images, raises
   both services' autoscaling floors and enables the job schedules; nothing is written to the
   stack's config, so the next `pulumi up` from CI keeps it so;
4. waits until both services run their tasks and answer `/version` with the model, and prints
   their URLs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ml_deploy.bundle import BundleError, Manifest, verify_bundle
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.arguments import positive_number
from ml_deploy_cli.commands.first_model import RETRAIN_MODULE
from ml_deploy_cli.delivery import (
    ENVIRONMENTS,
    Delivery,
    Deployment,
    Environment,
    ExecutionRecord,
    PendingApproval,
)
from ml_deploy_cli.errors import CliError

APPROVAL_COMMENT = (
    "ml-deploy bootstrap: first deploy, prod runs no task yet; approved on the build's evidence"
)
ENDED = ("Failed", "Stopped", "Stopping", "Superseded", "Cancelled")
HISTORY_LIMIT = 20  # executions a new upload's execution is told apart from
FOLLOW_LIMIT = 5  # the followed execution is among the newest few (each one costs a ListActionExecutions)
DEFAULT_TIMEOUT_MINUTES = 90.0
DEFAULT_POLL_SECONDS = 15.0

Found = TypeVar("Found")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "bootstrap",
        help="first deploy: a fresh stack to stage and prod serving a first model, schedules on",
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        metavar="BUNDLE",
        help="ship this bundle (default: train one from the training data)",
    )
    parser.add_argument(
        "--code-version", default="first-model", help="recorded in a trained bundle's manifest (first-model)"
    )
    parser.add_argument(
        "--no-approve",
        action="store_true",
        help="leave the first approval to a person, then run bootstrap again",
    )
    parser.add_argument(
        "--no-pulumi-up",
        action="store_true",
        help="stop after the pipeline run; a later `pulumi up` starts the tasks",
    )
    parser.add_argument(
        "--no-preflight",
        action="store_true",
        help="do not check the account's CodeBuild and Fargate quotas first",
    )
    parser.add_argument(
        "--timeout-minutes",
        type=positive_number,
        default=DEFAULT_TIMEOUT_MINUTES,
        metavar="N",
        help=f"how long each step may wait (default {DEFAULT_TIMEOUT_MINUTES:g})",
    )
    parser.add_argument(
        "--poll-seconds",
        type=positive_number,
        default=DEFAULT_POLL_SECONDS,
        metavar="N",
        help=f"how often a waiting step looks (default {DEFAULT_POLL_SECONDS:g})",
    )
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class Patience:
    """How long a step may wait, and how often it looks."""

    seconds: float
    poll: float

    def until(self, probe: Callable[[], Found | None], *, what: str) -> Found:
        deadline = time.monotonic() + self.seconds
        while True:
            found = probe()
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise CliError(
                    f"{what}: not there within {self.seconds / 60:g} minutes; "
                    "run `ml-deploy bootstrap` again to go on waiting"
                )
            time.sleep(self.poll)


def run(args: argparse.Namespace, connect: Connect) -> int:
    manifest = _verified(args.bundle) if args.bundle else None
    delivery = connect()
    if not args.no_preflight:
        preflight(delivery)
    patience = Patience(seconds=args.timeout_minutes * 60, poll=args.poll_seconds)
    execution_id = first_execution(
        delivery, bundle=args.bundle, manifest=manifest, code_version=args.code_version, patience=patience
    )
    record = follow(delivery, execution_id, approve=not args.no_approve, patience=patience)
    print(f"execution {execution_id} succeeded: model {record.facts.model_version or '-'} is deployed")
    if args.no_pulumi_up:
        print(
            "next: `pulumi up` sees the pushed images and starts both services' tasks and the job schedules"
        )
        return 0
    print(delivery.apply_program(stack=args.stack))
    serving = wait_until_serving(delivery, model_version=record.facts.model_version, patience=patience)
    for environment, (deployment, url) in serving.items():
        print(f"{environment}: {url} serves model {record.facts.model_version or '-'} "
              f"({deployment.running}/{deployment.desired} tasks)")  # fmt: skip
    print("from now on every model upload and code push goes through the pipeline")
    return 0


def preflight(delivery: Delivery) -> None:
    """Stop before the first run when a quota would fail it (StartBuild refused, tasks never placed)."""
    lines = delivery.quota_shortfalls()
    if lines is None:
        print("preflight: Service Quotas is not readable with these credentials; quotas not checked")
        return
    if lines:
        raise CliError(
            f"the account's quotas are below what the first run uses: {'; '.join(lines)}; "
            "then run `ml-deploy bootstrap` again (`--no-preflight` goes on regardless)"
        )
    print("preflight: CodeBuild concurrency and Fargate vCPU quotas are enough for the first run")


def _verified(bundle: Path) -> Manifest:
    try:
        return verify_bundle(bundle)
    except BundleError as error:
        raise CliError(f"refusing to upload: {error}") from None


def first_execution(
    delivery: Delivery,
    *,
    bundle: Path | None,
    manifest: Manifest | None,
    code_version: str,
    patience: Patience,
) -> str:
    """The execution that deploys the first model: the one a new upload starts, or the newest one."""
    where = delivery.model_at_key()
    if where is not None:
        newest = delivery.history(1)
        if not newest:
            raise CliError(
                f"{where} holds a model but the pipeline never ran: release a change (`aws codepipeline "
                "start-pipeline-execution --name <pipelineName>`), then run `ml-deploy bootstrap` again"
            )
        print(f"{where} holds a model already: following execution {newest[0].execution_id}")
        return newest[0].execution_id
    known = {record.execution_id for record in delivery.history(HISTORY_LIMIT)}
    if bundle is not None and manifest is not None:
        uploaded = delivery.upload_bundle(bundle, manifest=manifest)
        print(f"uploaded bundle {manifest.bundle_version} to s3://{uploaded.bucket}/{uploaded.key}")
    else:
        _train(delivery, code_version=code_version)

    def started() -> str | None:
        return next((r.execution_id for r in delivery.history(5) if r.execution_id not in known), None)

    execution_id = patience.until(started, what="the pipeline execution the model upload starts")
    print(f"the upload started execution {execution_id}")
    return execution_id


def _train(delivery: Delivery, *, code_version: str) -> None:
    """The retrain job, run here with the environment its job definition gives it (no champion yet)."""
    variables = delivery.first_model_environment(code_version=code_version)
    print("no model at the model key: training a first bundle with the retrain job")
    done = subprocess.run(
        [sys.executable, "-m", RETRAIN_MODULE], env={**os.environ, **variables}, check=False
    )
    if done.returncode != 0:
        raise CliError(f"the retrain job exited {done.returncode}; its output above says why")


def follow(delivery: Delivery, execution_id: str, *, approve: bool, patience: Patience) -> ExecutionRecord:
    """Wait for the execution to succeed, answering its approval when nothing runs in prod yet."""
    shown: list[str] = []

    def succeeded() -> ExecutionRecord | None:
        record = _record(delivery, execution_id)
        if record.status == "Succeeded":
            return record
        if record.status in ENDED:
            raise CliError(
                f"execution {execution_id} ended {record.status} (`ml-deploy history` says where): "
                "fix it, release a change, then run `ml-deploy bootstrap` again"
            )
        state = delivery.pipeline_state()
        stages = [run.stage for run in state.in_flight if run.execution_id == execution_id]
        if stages and stages != shown[-1:]:
            shown.append(stages[0])
            print(f"execution {execution_id}: {stages[0]}")
        for approval in (a for a in state.approvals if a.execution_id == execution_id):
            answer_first_approval(delivery, approval, approve=approve)
        return None

    return patience.until(succeeded, what=f"pipeline execution {execution_id}")


def _record(delivery: Delivery, execution_id: str) -> ExecutionRecord:
    for record in delivery.history(FOLLOW_LIMIT):
        if record.execution_id == execution_id:
            return record
    raise CliError(
        f"execution {execution_id} is no longer among the pipeline's {FOLLOW_LIMIT} newest: "
        "see `ml-deploy history`, then run `ml-deploy bootstrap` again"
    )


def answer_first_approval(delivery: Delivery, approval: PendingApproval, *, approve: bool) -> None:
    """Approve only a first deploy: while prod runs no task there is nothing the approval protects."""
    prod = delivery.deployment("prod")
    if not approve or prod.desired > 0:
        why = (
            "--no-approve" if not approve else f"prod already runs {prod.desired} task(s): not a first deploy"
        )
        raise CliError(
            f"execution {approval.execution_id} waits for approval ({why}): answer it with "
            f'`ml-deploy approve --execution {approval.execution_id} --comment "..."`, '
            "then run `ml-deploy bootstrap` again"
        )
    delivery.answer_approval(approve=True, comment=APPROVAL_COMMENT, execution_id=approval.execution_id)
    print(f'approved execution {approval.execution_id}: "{APPROVAL_COMMENT}"')


def wait_until_serving(
    delivery: Delivery, *, model_version: str | None, patience: Patience
) -> dict[Environment, tuple[Deployment, str]]:
    """Both environments run all their tasks on the model's image, and answer /version with the
    model wherever this machine can reach them.

    The load balancers are internal unless the stack sets `publicEndpoint` (and then they ask for a
    client certificate), so from outside the VPC /version may not answer at all: ECS's view (every
    task running, the rollout complete, the image tagged with the model) is then the verdict, and
    the URL is printed for a check from inside.
    """
    urls = delivery.urls()

    def serving() -> dict[Environment, tuple[Deployment, str]] | None:
        found: dict[Environment, tuple[Deployment, str]] = {}
        for environment in ENVIRONMENTS:
            deployment = delivery.deployment(environment)
            if deployment.desired < 1 or deployment.running < deployment.desired:
                return None
            if deployment.rollout not in (None, "COMPLETED"):
                return None
            if model_version and deployment.image.model_version not in (None, model_version):
                return None
            reached, served = probe_version(urls[environment])
            if reached and served != (model_version or served):
                return None
            note = "" if reached else " (its /version is not reachable from here: check it from the VPC)"
            found[environment] = (deployment, urls[environment] + note)
        return found

    return patience.until(serving, what="stage and prod serving the model")


def probe_version(url: str) -> tuple[bool, str | None]:
    """Whether `url` answered at all, and the model version its /version names.

    A connection that fails (an internal load balancer seen from outside, a TLS handshake that
    wants a client certificate) is "not reached"; any HTTP answer is reached. The standard
    library's client: the lean installs of the CLI carry no HTTP library.
    """
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/version", timeout=5.0) as response:
            body = response.read()
    except urllib.error.HTTPError:
        return True, None
    except (urllib.error.URLError, TimeoutError, OSError):
        return False, None
    try:
        version = json.loads(body).get("model_version")
    except (ValueError, AttributeError):
        return True, None
    return True, version if isinstance(version, str) else None
