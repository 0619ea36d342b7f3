"""The PromoteJobs step's JSON edit: the next revision of a Batch job definition, with a new image.

`buildspec-promote-jobs.yml` runs it in CodeBuild between `aws batch describe-job-definitions`
and `aws batch register-job-definition`, as ``python3 -m retrain_job.job_revision DESCRIBED IMAGE``.
Only the standard library: the promote build installs nothing, and `infra/__init__.py` pulls
in no Pulumi. Everything but the image is copied, so the revision `pulumi up` (or the last
promotion) registered keeps its roles, sizing, environment, retry strategy and tags.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Fields DescribeJobDefinitions returns that RegisterJobDefinition does not accept.
READ_ONLY_FIELDS = ("jobDefinitionArn", "revision", "status", "containerOrchestrationType")


class PromotionError(Exception):
    """The described job definition cannot be promoted; the message says why."""


def latest_revision(described: dict[str, Any]) -> dict[str, Any]:
    """The newest ACTIVE revision in a DescribeJobDefinitions response (the one schedules run)."""
    active = [d for d in described.get("jobDefinitions", []) if d.get("status", "ACTIVE") == "ACTIVE"]
    if not active:
        raise PromotionError("the response holds no ACTIVE job definition: was it registered by `pulumi up`?")
    names = {d["jobDefinitionName"] for d in active}
    if len(names) != 1:
        raise PromotionError(f"the response mixes job definitions {sorted(names)}; describe one name")
    return max(active, key=lambda d: int(d["revision"]))


def next_revision(described: dict[str, Any], image: str) -> dict[str, Any]:
    """RegisterJobDefinition input: the latest ACTIVE revision with only the container image changed."""
    if not image or ":" not in image.rsplit("/", 1)[-1]:
        raise PromotionError(f"image {image!r} names no tag; expected <repository uri>:<tag>")
    latest = latest_revision(described)
    container = latest.get("containerProperties")
    if not isinstance(container, dict) or "image" not in container:
        raise PromotionError(
            f"{latest['jobDefinitionName']} has no containerProperties.image (a multi-node, ECS or EKS "
            "definition?); only single-container definitions are promoted"
        )
    request = {k: copy.deepcopy(v) for k, v in latest.items() if k not in READ_ONLY_FIELDS}
    request["containerProperties"]["image"] = image
    return request


def main(argv: Sequence[str] | None = None) -> int:
    """Read a describe-job-definitions response, print the register-job-definition input."""
    parser = argparse.ArgumentParser(prog="python3 -m retrain_job.job_revision", description=__doc__)
    parser.add_argument("described", type=Path, help="JSON output of aws batch describe-job-definitions")
    parser.add_argument("image", help="the image the new revision runs: <repository uri>:<tag>")
    args = parser.parse_args(argv)
    try:
        described = json.loads(args.described.read_text())
        request = next_revision(described, args.image)
    except (OSError, ValueError, PromotionError) as error:
        print(f"cannot promote {args.described}: {error}", file=sys.stderr)
        return 1
    json.dump(request, sys.stdout, indent=2)
    sys.stdout.write("\n")
    print(
        f"{request['jobDefinitionName']}: revision {latest_revision(described)['revision']} -> {args.image}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
