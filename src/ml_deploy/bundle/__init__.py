"""The model bundle: one zip holding `model.skops`, `manifest.json` and `golden_records.json`.
The format lives only here.

`manifest` says what a bundle is, `archive` reads and writes the zip, `golden` holds the records
a deployment replays, and `python -m ml_deploy.bundle` is the command line the build, the operator
CLI and people use.
"""

from typing import TYPE_CHECKING

from ml_deploy.bundle.archive import (
    Bundle,
    pack_bundle,
    read_bundle,
    read_golden_records,
    read_manifest,
    verify_bundle,
    write_bundle,
)
from ml_deploy.bundle.golden import GOLDEN_TOLERANCE, GoldenRecord, GoldenRecords, Mismatch, Replay, replay
from ml_deploy.bundle.manifest import (
    FORMAT_VERSION,
    GOLDEN_RECORDS_NAME,
    MANIFEST_NAME,
    MODEL_NAME,
    TRUSTED_TYPES,
    BundleError,
    GoldenRecordsFile,
    Manifest,
    ModelFile,
    TrainingData,
    metrics_summary,
    new_bundle_version,
)
from ml_deploy.schema_types import FeatureSpec, SchemaError

if TYPE_CHECKING:
    from ml_deploy.schema import encode_frame, encode_records

# numpy and pandas: imported on first use, so reading a manifest (`show`, the CLI) starts without them.
_ENCODERS = ("encode_frame", "encode_records")

__all__ = [
    "FORMAT_VERSION",
    "GOLDEN_RECORDS_NAME",
    "GOLDEN_TOLERANCE",
    "MANIFEST_NAME",
    "MODEL_NAME",
    "TRUSTED_TYPES",
    "Bundle",
    "BundleError",
    "FeatureSpec",
    "GoldenRecord",
    "GoldenRecords",
    "GoldenRecordsFile",
    "Manifest",
    "Mismatch",
    "ModelFile",
    "Replay",
    "SchemaError",
    "TrainingData",
    "encode_frame",
    "encode_records",
    "metrics_summary",
    "new_bundle_version",
    "pack_bundle",
    "read_bundle",
    "read_golden_records",
    "read_manifest",
    "replay",
    "verify_bundle",
    "write_bundle",
]


def __getattr__(name: str) -> object:
    """`encode_frame` and `encode_records`, loaded when first asked for (PEP 562)."""
    if name in _ENCODERS:
        from ml_deploy import schema

        return getattr(schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
