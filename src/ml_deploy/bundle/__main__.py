"""`python -m ml_deploy.bundle`: the one command line for bundles, used by the build and by people.

verify PATH... [--json]      manifest, checksums, model types, and the model replaying its golden
                             records within 1e-6; exit 1 with the reason
pack DIR OUT                 zip an unpacked bundle (as CodeBuild sees it) and verify it; refuses a
                             bundle without golden records, which the deployment smoke test replays
show --field FIELD PATH      one value of a sound bundle's manifest, for shell variables

A bundle from before golden records existed still verifies (with a warning on stderr): it loads
and serves, so an operator can inspect or roll back to it. Only the build refuses it, because
the deployment's smoke test would have nothing to replay.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ml_deploy.bundle.archive import pack_bundle, read_bundle, read_manifest
from ml_deploy.bundle.golden import replay
from ml_deploy.bundle.manifest import BundleError, Manifest, metrics_summary

MISMATCHES_SHOWN = 5

# What `show` prints: the values later pipeline stages and the approval request name.
FIELDS: dict[str, Callable[[Manifest], str]] = {
    "bundle_version": lambda manifest: manifest.bundle_version,
    "metrics": metrics_summary,
    "code_version": lambda manifest: manifest.code_version,
    # The deploy step links the newest drift report written before this model (buildspec-deploy.yml).
    "created_at": lambda manifest: manifest.created_at.isoformat(),
}


def _ok_line(path: Path, manifest: Manifest) -> str:
    golden = manifest.golden_records
    return (
        f"OK {path}: bundle_version={manifest.bundle_version} "
        f"features={len(manifest.features)} "
        f"{manifest.primary_metric}={manifest.primary_score:.4f} "
        f"golden_records={golden.records if golden else 0} "
        f"sha256={manifest.model_file.sha256}"
    )


def _check_replay(path: Path) -> Manifest:
    """Load the model and replay its golden records; a bundle without them only warns."""
    bundle = read_bundle(path)
    if bundle.golden_records is None:
        print(
            f"WARNING {path}: no golden records (a bundle from before they existed): it loads and "
            "serves, but the build refuses it because the deployment smoke test replays them",
            file=sys.stderr,
        )
        return bundle.manifest
    result = replay(bundle.model, bundle.golden_records, bundle.manifest.features)
    if not result.passed:
        shown = "; ".join(str(mismatch) for mismatch in result.mismatches[:MISMATCHES_SHOWN])
        raise BundleError(
            f"{path}: the model does not reproduce {len(result.mismatches)} of {result.records} "
            f"golden records: {shown}"
        )
    return bundle.manifest


def _pack(directory: Path, output: Path) -> Manifest:
    manifest = pack_bundle(directory, output)
    if manifest.golden_records is None:
        output.unlink(missing_ok=True)
        raise BundleError(
            f"{directory}: the bundle has no golden records, which the deployment smoke test replays; "
            "train it with the retrain job or `ml-deploy first-model`, which write them"
        )
    return manifest


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ml_deploy.bundle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check a bundle and replay its golden records")
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
            manifest = _check_replay(path)
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
            print(_ok_line(args.output, _pack(args.directory, args.output)))
        else:
            print(FIELDS[args.field](read_manifest(args.path)))
    except BundleError as error:
        print(f"bundle verification failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
