"""`ml-deploy deploy`, `smoke-test-result`, `drift-report-link`: the pipeline's deploy step, runnable by hand.

The deploy stages run these from `buildspec-deploy.yml`; an operator can run `deploy` too (the
same rule holds: Pulumi's registered revision for the settings, the given image for the code).
They take names as arguments, not stack outputs, because the deploy project passes them as
variables. With --local (or ML_DEPLOY_LOCAL=1) `deploy` replaces the local run's task instead,
and the two readers read the local AWS stand-in's buckets.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy_cli.aws.deploy import deploy_image
from ml_deploy_cli.aws.evidence import drift_report_link, smoke_test_summary
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.arguments import positive_number

DEFAULT_TIMEOUT_MINUTES = 60


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = commands.add_parser(
        "deploy", help="deploy an image on the task configuration Pulumi registered, and wait for ECS"
    )
    deploy.add_argument("--cluster", required=True, help="ECS cluster name")
    deploy.add_argument("--service", required=True, help="ECS service name")
    deploy.add_argument(
        "--task-definition",
        required=True,
        metavar="ARN",
        help="the revision Pulumi registered (its settings)",
    )
    deploy.add_argument("--image", required=True, metavar="URI", help="<repository uri>:<tag> to run")
    deploy.add_argument(
        "--timeout-minutes",
        type=positive_number,
        default=DEFAULT_TIMEOUT_MINUTES,
        metavar="N",
        help=f"how long to wait for ECS (default {DEFAULT_TIMEOUT_MINUTES})",
    )
    deploy.set_defaults(run=run_deploy)

    for name, run, text in (
        ("smoke-test-result", run_smoke_test, "one line: the smoke hook's verdict on a deployed model"),
        ("drift-report-link", run_drift_report, "the newest drift report written before a model"),
    ):
        parser = commands.add_parser(name, help=text)
        parser.add_argument("--log-bucket", required=True, help="the bucket the reports are in")
        parser.add_argument("--reports-prefix", default=DEFAULT_LAYOUT.reports_prefix)
        if run is run_smoke_test:
            parser.add_argument("--environment", required=True, choices=("stage", "prod"))
            parser.add_argument("--model-version", required=True)
        else:
            parser.add_argument(
                "--model-created-at", required=True, type=_timestamp, help="ISO 8601, with its offset"
            )
        parser.set_defaults(run=run)


def run_deploy(args: argparse.Namespace, connect: Connect) -> int:
    if args.local:
        from ml_deploy_cli.local.delivery import deploy_locally

        print(deploy_locally(args.environ, service=args.service, image=args.image))
        return 0
    result = deploy_image(
        args.clients("ecs"),
        cluster=args.cluster,
        service=args.service,
        configuration=args.task_definition,
        image=args.image,
        timeout_seconds=args.timeout_minutes * 60,
        # While ECS deploys (up to the timeout): its stage, the new tasks, the rollout, the time.
        report=lambda line: print(f"{args.service}: {line}", flush=True),
    )
    print(
        f"{args.service}: {result.deployed_revision} = settings of {result.configuration_revision} "
        f"+ image {args.image}; service deployment {result.status}"
    )
    return 0


def run_smoke_test(args: argparse.Namespace, connect: Connect) -> int:
    print(
        smoke_test_summary(
            args.clients("s3"),
            bucket=args.log_bucket,
            layout=DEFAULT_LAYOUT.model_copy(update={"reports_prefix": args.reports_prefix}),
            environment=args.environment,
            version=args.model_version,
        )
    )
    return 0


def run_drift_report(args: argparse.Namespace, connect: Connect) -> int:
    print(
        drift_report_link(
            args.clients("s3"),
            bucket=args.log_bucket,
            layout=DEFAULT_LAYOUT.model_copy(update={"reports_prefix": args.reports_prefix}),
            model_created_at=args.model_created_at,
        )
    )
    return 0


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no UTC offset")
    return parsed
