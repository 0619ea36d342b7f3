"""`python -m ml_deploy.bundle`: the one command line for bundles, used by the build and by people.

verify PATH... [--json]      manifest, checksum and model types; exit 1 with the reason
pack DIR OUT                 zip an unpacked bundle (as CodeBuild sees it) and verify it
show --field FIELD PATH      one value of a sound bundle's manifest, for shell variables
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ml_deploy.bundle.archive import pack_bundle, read_manifest, verify_bundle
from ml_deploy.bundle.manifest import BundleError, Manifest, metrics_summary

# What `show` prints: the values later pipeline stages and the approval request name.
FIELDS: dict[str, Callable[[Manifest], str]] = {
    "bundle_version": lambda manifest: manifest.bundle_version,
    "metrics": metrics_summary,
    "code_version": lambda manifest: manifest.code_version,
    # The deploy step links the newest drift report written before this model (buildspec-deploy.yml).
    "created_at": lambda manifest: manifest.created_at.isoformat(),
}


def _ok_line(path: Path, manifest: Manifest) -> str:
    return (
        f"OK {path}: bundle_version={manifest.bundle_version} "
        f"features={len(manifest.features)} "
        f"{manifest.primary_metric}={manifest.primary_score:.4f} "
        f"sha256={manifest.model_file.sha256}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ml_deploy.bundle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check a bundle's manifest and model checksum")
    verify.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    verify.add_argument("--json", action="store_true", help="print the manifest as JSON")
    pack = commands.add_parser("pack", help="zip an unpacked bundle directory and verify the result")
    pack.add_argument("directory", type=Path, metavar="DIR")
    pack.add_argument("output", type=Path, metavar="OUT")
    show = commands.add_parser("show", help="print one manifest value of a sound bundle")
    show.add_argument("--field", required=True, choices=sorted(FIELDS))
    show.add_argument("path", type=Path, metavar="PATH")
    return parser


def _verify(paths: Sequence[Path], *, as_json: bool) -> int:
    status = 0
    for path in paths:
        try:
            manifest = verify_bundle(path)
        except BundleError as error:
            print(f"bundle verification failed: {error}", file=sys.stderr)
            status = 1
            continue
        print(manifest.model_dump_json(indent=2) if as_json else _ok_line(path, manifest))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when the bundle is sound, 1 with the reason on one line otherwise."""
    args = _parser().parse_args(argv)
    if args.command == "verify":
        return _verify(args.paths, as_json=args.json)
    try:
        if args.command == "pack":
            print(_ok_line(args.output, pack_bundle(args.directory, args.output)))
        else:
            print(FIELDS[args.field](read_manifest(args.path)))
    except BundleError as error:
        print(f"bundle verification failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
