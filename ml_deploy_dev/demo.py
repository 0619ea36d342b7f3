"""`make demo`: the whole model lifecycle on this machine, from a model upload to prod.

It uses what the dev stack defines (Pulumi.dev.yaml read through the stack's own config object,
the program's own model-upload event pattern and pipeline) and runs the real jobs, the real build
and the real service as the cloud runs them: separate processes configured by environment
variables, talking to S3 through `AWS_ENDPOINT_URL`. Approvals are answered with the operator CLI
(`python -m ml_deploy_cli --local ...`) in another process. Everything it starts is stopped
however a step ends; the reports and the delivery's state stay in the work folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Collection, Sequence
from contextlib import ExitStack
from pathlib import Path

from ml_deploy.layout import BUNDLE_FILE
from ml_deploy_cli.commands.bootstrap import APPROVAL_COMMENT
from ml_deploy_dev import sample_data
from ml_deploy_dev.bad_bundles import tampered_bundle, unloadable_bundle
from ml_deploy_dev.delivery.definition import DefinitionError
from ml_deploy_dev.demo_delivery import FAST_TESTS, DeliveryError, DemoDelivery, local_delivery
from ml_deploy_dev.demo_jobs import (
    EXIT_REJECTED,
    DemoError,
    Progress,
    expect,
    model_key_version,
    monitor,
    retrain,
    send_traffic,
    show_decision,
    show_drift_report,
    shuffled_labels,
    upload_training_data,
    wait_for_logs,
)
from ml_deploy_dev.demo_quality import QualityClock, Traffic, customer_keys, quality_clock, quality_drop
from ml_deploy_dev.dev_stack import DevStack, dev_stack
from ml_deploy_dev.local_aws import LocalAws, create_bucket, create_trigger_stand_in
from ml_deploy_dev.local_aws import moto_server as start_moto_server

ROOT = Path(__file__).resolve().parents[1]
# After the first deploy, two independent parts: the model's life (traffic, drift, retrains) and
# the bundles the delivery stops. `make demo` runs both; the tests run each on its own.
PARTS = ("lifecycle", "bad-uploads")
__all__ = ["EXIT_REJECTED", "PARTS", "dev_stack", "main", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_deploy_dev.demo", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".demo", help="where reports are left")
    parser.add_argument("--rows", type=int, default=20_000, help="rows of training data per retrain")
    parser.add_argument("--requests", type=int, default=600, help="prediction requests per traffic phase")
    parser.add_argument(
        "--all-tests", action="store_true", help=f"the build runs the whole suite, not `{FAST_TESTS}`"
    )
    args = parser.parse_args(argv)
    try:
        run(workdir=args.workdir, rows=args.rows, requests=args.requests, all_tests=args.all_tests)
    except (DemoError, DeliveryError, DefinitionError) as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        return 1
    return 0


def run(
    *, workdir: Path, rows: int, requests: int, all_tests: bool = False, parts: Collection[str] = PARTS
) -> list[str]:
    """The lifecycle, step by step (the first deploy, then `parts`); returns the summary lines."""
    progress = Progress()
    stack = dev_stack()
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(workdir / "delivery", ignore_errors=True)  # a fresh registry and state each run
    with ExitStack() as cleanup:
        progress.step("1. Local AWS (moto_server on 127.0.0.1) and the program's pipeline run here")
        aws = cleanup.enter_context(start_moto_server())
        queue_url = provision(aws, stack, progress)
        clock = quality_clock(aws, stack)
        if not all_tests:
            progress.say(f"the build runs a fast subset of the tests (`{FAST_TESTS}`); --all-tests for all")
        delivery = cleanup.enter_context(
            local_delivery(
                aws, stack, workdir=workdir / "delivery", queue_url=queue_url,
                pytest_args=None if all_tests else FAST_TESTS, say=progress.say,
                job_settings={"quality": clock.job_environment()},
            )
        )  # fmt: skip
        first = second = first_model(aws, stack, delivery, rows=rows, progress=progress)
        if "lifecycle" in parts:
            traffic_and_monitor(
                aws, stack, delivery, workdir=workdir, requests=requests, clock=clock, progress=progress
            )
            second = drifted_retrain(aws, stack, delivery, rows=rows, first=first, progress=progress)
            bad_challenger(aws, stack, delivery, rows=rows, progress=progress)
        if "bad-uploads" in parts:
            bad_uploads(aws, stack, delivery, workdir=workdir, serving=(first, second), progress=progress)
        progress.step("10. The record, as `ml-deploy history` shows it; stopping everything")
        delivery.cli("history")
    progress.step("Summary (reports and the delivery's state stay in " + str(workdir) + ")")
    for line in progress.summary:
        print(f"  - {line}")
    return progress.summary


def provision(aws: LocalAws, stack: DevStack, progress: Progress) -> str:
    create_bucket(aws, stack.model_bucket, versioned=True, eventbridge=True)
    create_bucket(aws, stack.training_bucket, versioned=True)
    create_bucket(aws, stack.log_bucket)
    queue_url = create_trigger_stand_in(aws, rule_name="model-upload", pattern=stack.event_pattern)
    progress.say(f"buckets {stack.model_bucket} (versioned, EventBridge on), {stack.training_bucket}, ")
    progress.say(f"        {stack.log_bucket}; rule pattern {json.dumps(stack.event_pattern)}")
    progress.say("the rule's target is a queue the local pipeline reads: one message = one execution")
    return queue_url


def first_model(
    aws: LocalAws, stack: DevStack, delivery: DemoDelivery, *, rows: int, progress: Progress
) -> str:
    """The first deploy is one command: `ml-deploy --local bootstrap` on the empty account trains the
    first bundle (the retrain job), follows execution 1, answers its approval (prod runs nothing yet)
    and waits until stage and prod serve the model."""
    progress.step("2. First deploy: training data, then `ml-deploy --local bootstrap`")
    upload_training_data(aws, stack, sample_data.generate(rows, seed=1), name="initial")
    done = delivery.cli("bootstrap", "--poll-seconds", "1", "--timeout-minutes", "10", timeout=1800)
    expect(done.returncode == 0, f"`ml-deploy --local bootstrap` exited {done.returncode}")

    progress.step("3. What bootstrap left: execution 1 through PromoteJobs, both environments serving")
    execution = delivery.wait_for(1, approval=False)
    model = str(execution.model_version)
    expect(execution.status == "Succeeded", f"execution 1 ended {execution.status}: {execution.stages}")
    approval = execution.approval
    expect(
        approval is not None and approval.summary == APPROVAL_COMMENT,
        f"execution 1 was not approved by bootstrap: {approval}",
    )
    for environment in ("stage", "prod"):
        expect(delivery.serving(environment) == model, f"{environment} does not serve model {model}")
    delivery.cli("status")
    progress.say(
        f"execution 1 (model {model}): Succeeded; prod serves {model}, jobs promoted "
        f"(PromoteJobs {execution.stages['PromoteJobs']}); approved by `ml-deploy bootstrap`",
        remember=True,
    )
    return model


def traffic_and_monitor(
    aws: LocalAws, stack: DevStack, delivery: DemoDelivery, *, workdir: Path, requests: int,
    clock: QualityClock, progress: Progress,
) -> None:  # fmt: skip
    progress.step("4. Traffic to prod (the service the delivery deployed), payload logging to local S3")
    url = delivery.url("prod")
    progress.say(f"prod at {url} (the load balancer's stand-in, forwarding to prod's task)")
    # The drifted world's customers also churn for other reasons (concept drift): its outcomes differ.
    phases = [
        Traffic("normal", sample_data.generate(requests, seed=2), customer_keys("cust-n", requests)),
        Traffic(
            "drifted",
            sample_data.generate(requests, seed=3, drifted=True, concept_drift=True),
            customer_keys("cust-d", requests),
        ),
    ]
    for phase in phases:
        send_traffic(url, phase.frame, phase.label, progress, keys=phase.keys)
    wait_for_logs(aws, stack, "prod", progress)

    progress.step("5. Monitor job: prod's logged window against the champion's reference")
    expect(monitor(aws, stack, progress.say) == 0, "the monitor job failed")
    show_drift_report(aws, stack, workdir / "reports", progress)

    progress.step(
        f"5b. Outcomes arrive; the quality job judges prod's model (its clock at {clock.now:%Y-%m-%d})"
    )
    quality_drop(
        aws, stack, delivery, clock=clock, phases=phases, folder=workdir / "outcomes", progress=progress
    )


def drifted_retrain(
    aws: LocalAws, stack: DevStack, delivery: DemoDelivery, *, rows: int, first: str, progress: Progress
) -> str:  # fmt: skip
    """The retrain on drifted data is promoted: execution 2, which the approver rejects."""
    progress.step("6. Retrain on the drifted data: the gate promotes it, the upload starts execution 2")
    drifted = sample_data.generate(rows, seed=4, drifted=True, concept_drift=True)
    upload_training_data(aws, stack, drifted, name="drifted")
    outcome = retrain(aws, stack, progress.say)
    show_decision(aws, stack, outcome, progress)
    expect(outcome == 0, f"the retrain on drifted data exited {outcome}, expected 0 (promoted)")

    progress.step("7. Execution 2: on stage, then rejected at the approval")
    execution = delivery.wait_for(2, approval=True)
    model = str(execution.model_version)
    expect(delivery.serving("stage") == model, f"stage does not serve model {model}")
    # What the approver looks at first: what approving would change in prod, and stage's own log.
    expect(delivery.cli("diff", "--execution", execution.id).returncode == 0, "diff failed")
    expect(delivery.cli("logs", "stage", "--since", "1h", "--tail", "5").returncode == 0, "logs failed")
    rejected = delivery.cli("reject", "--comment", "drifted model: hold until the data is checked")
    expect(rejected.returncode == 0, "reject failed")
    execution = delivery.wait_for(2, approval=False)
    expect(execution.stages.get("Approve") == "Failed", f"execution 2 ended {execution.stages}")
    expect(delivery.serving("prod") == first, f"prod changed after a rejection: {delivery.serving('prod')}")
    progress.say(
        f"execution 2 (model {model}): rejected at Approve; prod still serves {first}, stage {model}",
        remember=True,
    )
    return model


def bad_challenger(
    aws: LocalAws, stack: DevStack, delivery: DemoDelivery, *, rows: int, progress: Progress
) -> None:
    """Shuffled labels teach nothing: the gate rejects it, the model key and the pipeline stay put."""
    progress.step("8. A challenger trained on shuffled labels: the gate rejects it")
    before, before_count = model_key_version(aws, stack), len(delivery.executions())
    drifted = sample_data.generate(rows, seed=4, drifted=True, concept_drift=True)
    upload_training_data(aws, stack, shuffled_labels(drifted), name="shuffled-labels")
    outcome = retrain(aws, stack, progress.say)
    expect(outcome == EXIT_REJECTED, f"the bad challenger exited {outcome}, expected {EXIT_REJECTED}")
    expect(
        model_key_version(aws, stack) == before, "the model key changed although the challenger was rejected"
    )
    time.sleep(2.0)  # an upload would reach the pipeline's queue within a second
    expect(len(delivery.executions()) == before_count, "an execution started although nothing was uploaded")
    progress.say(
        f"bad challenger rejected (exit {outcome}); model key still at version {before}, "
        "no execution started",
        remember=True,
    )


def bad_uploads(
    aws: LocalAws, stack: DevStack, delivery: DemoDelivery, *, workdir: Path, serving: tuple[str, str],
    progress: Progress,
) -> None:  # fmt: skip
    """A tampered bundle is refused by the CLI; one that verifies but cannot load is rolled back at stage."""
    prod_model, stage_model = serving
    current = workdir / BUNDLE_FILE
    aws.client("s3").download_file(stack.model_bucket, stack.model_key, str(current))
    progress.step("9a. A bundle whose model file changed after packing, uploaded with the CLI")
    refused = delivery.cli("upload-model", str(tampered_bundle(current, workdir / "tampered-bundle.zip")))
    expect(
        refused.returncode == 1 and "checksum mismatch" in refused.stderr,
        "the tampered bundle was not refused",
    )
    progress.say("tampered bundle refused by `ml-deploy upload-model` (checksum mismatch)", remember=True)

    number = len(delivery.executions()) + 1
    progress.step(f"9b. A bundle that verifies but whose model cannot load: execution {number}, rolled back")
    version = time.strftime("%Y%m%dT%H%M%SZ-0badf11e", time.gmtime())
    unloadable = unloadable_bundle(current, workdir / "unloadable-bundle.zip", version=version)
    expect(delivery.cli("upload-model", str(unloadable)).returncode == 0, "the unloadable bundle was refused")
    execution = delivery.wait_for(number, approval=False)
    expect(execution.stages.get("DeployStage") == "Failed", f"execution {number} ended {execution.stages}")
    expect(delivery.serving("stage") == stage_model, f"stage does not serve {stage_model} after the rollback")
    expect(delivery.serving("prod") == prod_model, "prod changed")
    show_task_failure(workdir / "delivery" / "tasks", progress)
    delivery.cli("status")
    progress.say(
        f"execution {number} (model {version}, cannot load): failed at DeployStage, rolled back; "
        f"stage still serves {stage_model}, prod {prod_model}",
        remember=True,
    )


def show_task_failure(logs: Path, progress: Progress) -> None:
    """Why the task never became ready: the last error its log names (the service's traceback)."""
    newest = max(logs.glob("stage-r*.log"), key=lambda log: log.stat().st_mtime, default=None)
    lines = newest.read_text(errors="replace").splitlines() if newest else []
    errors = [line for line in lines if "Error: " in line and not line.startswith("ERROR:")]
    if newest and errors:
        progress.say(f"why, from the task's log {newest.name}: {errors[-1].split('Error: ', 1)[1][-160:]}")


if __name__ == "__main__":
    sys.exit(main())
