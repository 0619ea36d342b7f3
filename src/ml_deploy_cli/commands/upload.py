"""`ml-deploy upload-model BUNDLE`: ship a model by hand, verified exactly as the build verifies it.

The build runs `python -m ml_deploy.bundle verify` (buildspec.yml), which is `verify_bundle`; a
bundle it would reject is refused here before anything reaches S3, so a hand upload cannot start
a pipeline execution that is bound to fail.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ml_deploy.bundle import BundleError, verify_bundle
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.hints import hint
from ml_deploy_cli.errors import CliError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "upload-model", help="verify a model bundle and upload it to the key that starts the pipeline"
    )
    parser.add_argument("bundle", type=Path, metavar="BUNDLE", help="the bundle zip (manifest.json + model)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Connect) -> int:
    try:
        manifest = verify_bundle(args.bundle)
    except BundleError as error:
        raise CliError(f"refusing to upload: {error}") from None
    uploaded = connect().upload_bundle(args.bundle, manifest=manifest)
    print(
        f"uploaded bundle {manifest.bundle_version} "
        f"({manifest.primary_metric} {manifest.primary_score:.4f}) to s3://{uploaded.bucket}/{uploaded.key}"
    )
    if uploaded.version_id:
        encryption = uploaded.encryption or "bucket default"
        print(f"  object version {uploaded.version_id} (encryption {encryption})")
    else:
        print("  the bucket returned no version id: is versioning off on the model bucket?")
    print(f"  this upload starts the pipeline; follow it with {hint(args, 'status')}")
    return 0
