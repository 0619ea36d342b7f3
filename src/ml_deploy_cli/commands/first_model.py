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

from ml_deploy.settings import RetrainSettings
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.hints import hint
from ml_deploy_cli.errors import CliError

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
    # The backend in use (the stack's outputs, or the local run under --local) names the buckets
    # and the job's environment, so a local first model never reaches a real account.
    delivery = connect()
    where = delivery.model_at_key()
    if where is not None:
        # A second first model would replace the champion without the gate.
        raise CliError(
            f"{where} already holds a model; retraining goes through the retrain job's gate "
            f"and hand uploads through {hint(args, 'upload-model BUNDLE')}"
        )
    job_environment = delivery.first_model_environment(code_version=args.code_version)
    print(f"training a first bundle from {job_environment[RetrainSettings.variable('training_data_uri')]}")
    done = subprocess.run(
        [sys.executable, "-m", RETRAIN_MODULE], env={**os.environ, **job_environment}, check=False
    )
    if done.returncode != 0:
        raise CliError(f"the retrain job exited {done.returncode}; its output above says why")
    print(
        f"{delivery.model_at_key() or 'the model key'} now holds the first bundle: the pipeline starts; "
        f"follow it with {hint(args, 'status')}"
    )
    return 0
