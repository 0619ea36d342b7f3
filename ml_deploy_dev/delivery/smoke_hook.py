"""The smoke-test hook as a local command: what ECS's Lambda call is in the local delivery run.

`ml-deploy deploy --local` runs ``python -m ml_deploy_dev.delivery.smoke_hook`` with the Lambda's
own variables (read from the program) and TEST_URL set to the new task, after it is ready and
before traffic moves to it. The same `smoke_test` function runs; exit 0 when it SUCCEEDED.
"""

from __future__ import annotations

import os
import sys

import boto3

from infra.serving.smoke_hook.handler import SUCCEEDED, smoke_test


def main() -> int:
    verdict = smoke_test(os.environ, s3=boto3.client("s3"), lifecycle_stage="POST_TEST_TRAFFIC_SHIFT")
    print(verdict.summary(), flush=True)
    return 0 if verdict.status == SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
