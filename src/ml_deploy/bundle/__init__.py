"""The model bundle: one zip holding `model.skops` and `manifest.json`. The format lives only here.

`manifest` says what a bundle is, `archive` reads and writes the zip, and
`python -m ml_deploy.bundle` is the command line the build, the operator CLI and people use.
"""

from ml_deploy.bundle.archive import (
    Bundle,
    pack_bundle,
    read_bundle,
    read_manifest,
    verify_bundle,
    write_bundle,
)
from ml_deploy.bundle.manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    MODEL_NAME,
    TRUSTED_TYPES,
    BundleError,
    Manifest,
    ModelFile,
    TrainingData,
    metrics_summary,
    new_bundle_version,
)
from ml_deploy.schema import FeatureSpec, SchemaError, encode_frame, encode_records

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "MODEL_NAME",
    "TRUSTED_TYPES",
    "Bundle",
    "BundleError",
    "FeatureSpec",
    "Manifest",
    "ModelFile",
    "SchemaError",
    "TrainingData",
    "encode_frame",
    "encode_records",
    "metrics_summary",
    "new_bundle_version",
    "pack_bundle",
    "read_bundle",
    "read_manifest",
    "verify_bundle",
    "write_bundle",
]
