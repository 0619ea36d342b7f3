"""`ml-deploy first-model`: the one non-console step of a first deploy, the first bundle at modelKey.

A fresh stack has no model, so the pipeline's model source has nothing to build. This trains a
first bundle from the stack's training-data bucket with the operator's credentials, by running
the retrain job itself (`python -m retrain_job.retrain`) with the environment its Batch job
definition would give it, built from the runtime contract: the bundle is archived, read back,
verified and only then copied to modelKey, and that copy starts the pipeline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import boto3
from botocore.exceptions import ClientError

from ml_deploy.settings import RetrainSettings
from ml_deploy_cli.aws.training import first_model_environment
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.errors import CliError
from ml_deploy_cli.outputs import load_outputs

RETRAIN_MODULE = "retrain_job.retrain"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "first-model",
        help="train a first bundle from the stack's training data and put it at modelKey (first deploy)",
    )
    parser.add_argument(
        "--code-version", default="first-model", help="recorded in the manifest (default first-model)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Connect) -> int:
    del connect  # the retrain job talks to S3 itself, with the operator's credentials
    outputs = load_outputs(args.outputs, environ=os.environ, stack=args.stack)
    region = args.region or outputs.region
    bucket, key = outputs.require("modelBucket"), outputs.require("modelKey")
    _refuse_if_a_model_is_there(bucket, key, region=region)
    job_environment = first_model_environment(outputs, region=region, code_version=args.code_version)
    print(f"training a first bundle from {job_environment[RetrainSettings.variable('training_data_uri')]}")
    done = subprocess.run(
        [sys.executable, "-m", RETRAIN_MODULE], env={**os.environ, **job_environment}, check=False
    )
    if done.returncode != 0:
        raise CliError(f"the retrain job exited {done.returncode}; its output above says why")
    print(
        f"s3://{bucket}/{key} now holds the first bundle: the pipeline starts; "
        "follow it with `ml-deploy status`"
    )
    return 0


def _refuse_if_a_model_is_there(bucket: str, key: str, *, region: str | None) -> None:
    """A second first model would replace the champion without the gate: use upload-model instead."""
    try:
        boto3.client("s3", region_name=region).head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return
        raise
    raise CliError(
        f"s3://{bucket}/{key} already holds a model; retraining goes through the retrain job's gate "
        "and hand uploads through `ml-deploy upload-model`"
    )
