"""`ml-deploy archive-bundle BUNDLE --model-bucket B`: the bundle at its version's archive key.

The pipeline's Build stage runs it on the bundle it packed (`buildspec.yml`), because every
deployed bundle passes there while a hand upload writes only the trigger key, and the deployment
smoke test reads the golden records from the archive. Names come as arguments, not stack
outputs: the build project passes them as variables. Under --local the bucket is the local AWS
stand-in's (the local run's), never a real account's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from ml_deploy.bundle import BundleError, verify_bundle
from ml_deploy.layout import DEFAULT_LAYOUT, ObjectLayout
from ml_deploy_cli.aws.archive import archive_bundle
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.errors import CliError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "archive-bundle",
        help="put a verified bundle at its version's immutable archive key, unless it is there already",
    )
    parser.add_argument("bundle", type=Path, metavar="BUNDLE", help="the bundle zip (manifest.json + model)")
    parser.add_argument("--model-bucket", required=True, help="the stack's model bucket")
    parser.add_argument(
        "--archive-prefix",
        type=_archive_prefix,
        default=DEFAULT_LAYOUT.model_archive_prefix,
        help=f"where bundles are kept by version (default {DEFAULT_LAYOUT.model_archive_prefix})",
    )
    parser.set_defaults(run=run)


def _archive_prefix(value: str) -> str:
    try:
        return ObjectLayout(model_archive_prefix=value).model_archive_prefix
    except ValidationError as error:
        raise argparse.ArgumentTypeError(f"{value!r}: {error.errors()[0]['msg']}") from None


def run(args: argparse.Namespace, connect: Connect) -> int:
    del connect  # no stack outputs: the bucket and prefix are arguments
    try:
        manifest = verify_bundle(args.bundle)
    except BundleError as error:
        raise CliError(f"refusing to archive: {error}") from None
    archived = archive_bundle(
        args.clients("s3"),  # the local AWS stand-in's under --local
        path=args.bundle,
        bucket=args.model_bucket,
        archive_prefix=args.archive_prefix,
        bundle_version=manifest.bundle_version,
    )
    if archived.written:
        version = f" (object version {archived.version_id})" if archived.version_id else ""
        print(f"archived bundle {manifest.bundle_version} at {archived.location}{version}")
    else:
        print(f"{archived.location} already holds bundle {manifest.bundle_version}: nothing to do")
    print(f"  content sha256 {archived.content_sha256}")
    return 0
