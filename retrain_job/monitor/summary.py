"""The summary of one closed hour of prediction logs: small, mergeable, exact.

A summary holds, per model version, the counts on that version's reference bins and its bounded
sample (a `Tally` of the hour), plus what it was made from: the objects it read (a digest of their
keys and ETags) and the code and bins that made it. A summary whose `FORMAT` or bins differ from
this run's is recomputed, never mixed; one whose objects differ (a late write) is redone.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrain_job.monitor import concept
from retrain_job.monitor.versions import NO_VERSION, Catalog, Tally, VersionPart
from retrain_job.monitor.window import Binning, FeatureCounts, WindowCounts

FORMAT = 1
"""Bump when the summary's content or meaning changes: older summaries are then recomputed."""


@dataclass(frozen=True)
class Objects:
    """The log objects of an hour a summary was made from."""

    count: int
    digest: str

    @classmethod
    def of(cls, items: Iterable[tuple[str, str]]) -> Objects:
        """From (key, ETag) pairs: any added, removed or rewritten object changes the digest."""
        pairs = sorted(items)
        text = "\n".join(f"{key}\t{etag}" for key, etag in pairs)
        return cls(count=len(pairs), digest=hashlib.sha256(text.encode()).hexdigest())


@dataclass
class HourSummary:
    hour: str  # ISO 8601 start of the hour, UTC
    objects: Objects
    tally: Tally
    fingerprints: dict[str, str]  # per version: the bins (and sample size) it was binned with
    sample_rows: int
    format: int = FORMAT

    def current(self, *, catalog: Catalog, objects: Objects, sample_rows: int) -> bool:
        """True when this summary may stand for the hour in this run, as it is now."""
        if self.format != FORMAT or self.objects != objects or self.sample_rows != sample_rows:
            return False
        for version, fingerprint in self.fingerprints.items():
            catalog.ensure([version])
            binning = catalog.binnings.get(version)
            if binning is None or bins_fingerprint(binning) != fingerprint:
                return False
        # A version without a bundle then may have one now: its rows are then to be scored.
        catalog.ensure([v for v in self.tally.unreferenced if v != NO_VERSION])
        return all(catalog.manifest(v) is None for v in self.tally.unreferenced)


def bins_fingerprint(binning: Binning) -> str:
    """What a version's counts mean: its numeric edges, its category codes, its probability bins."""
    document = {
        "edges": {name: edges.tolist() for name, edges in sorted(binning.edges.items())},
        "categories": {name: sorted(index.items()) for name, index in sorted(binning.category_index.items())},
        "probability_bins": binning.probability_bins,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]


def encode(summary: HourSummary) -> bytes:
    """Gzip JSON; arrays of the sample as base64 (float32 is exact for bin codes)."""
    versions = {
        version: {"fingerprint": summary.fingerprints[version], **_part(part)}
        for version, part in summary.tally.versions.items()
    }
    document = {
        "format": summary.format,
        "hour": summary.hour,
        "objects": {"count": summary.objects.count, "digest": summary.objects.digest},
        "sample_rows": summary.sample_rows,
        "malformed": summary.tally.malformed,
        "outside_window": summary.tally.outside_window,
        "corrupt_objects": summary.tally.corrupt_objects,
        "unreferenced": dict(summary.tally.unreferenced),
        "versions": versions,
    }
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode(), compresslevel=6, mtime=0)


def decode(body: bytes) -> HourSummary:
    """A summary as written by `encode`; ValueError for anything else (it is then recomputed)."""
    try:
        document = json.loads(gzip.decompress(body))
        versions = document["versions"]
        tally = Tally(
            versions={version: _unpart(data) for version, data in versions.items()},
            unreferenced=Counter(document["unreferenced"]),
            malformed=int(document["malformed"]),
            outside_window=int(document["outside_window"]),
            corrupt_objects=list(document["corrupt_objects"]),
        )
        return HourSummary(
            hour=str(document["hour"]),
            objects=Objects(int(document["objects"]["count"]), str(document["objects"]["digest"])),
            tally=tally,
            fingerprints={version: str(data["fingerprint"]) for version, data in versions.items()},
            sample_rows=int(document["sample_rows"]),
            format=int(document["format"]),
        )
    except (OSError, EOFError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"unreadable summary: {error}") from None


def _part(part: VersionPart) -> dict[str, Any]:
    counts = part.counts
    return {
        "rows": counts.rows,
        "positives": counts.positives,
        "probabilities": counts.probabilities.tolist(),
        "features": {
            name: {"counts": f.counts.tolist(), "missing": f.missing, "unseen": dict(f.unseen)}
            for name, f in counts.features.items()
        },
        "sample": {
            "keys": _b64(part.sample.keys.astype(np.float64)),
            "rows": _b64(part.sample.rows.astype(np.float32)),
            "width": int(part.sample.rows.shape[1]),
        },
    }


def _unpart(data: dict[str, Any]) -> VersionPart:
    counts = WindowCounts(
        features={
            name: FeatureCounts(
                counts=np.asarray(f["counts"], dtype=np.int64),
                missing=int(f["missing"]),
                unseen=Counter(f["unseen"]),
            )
            for name, f in data["features"].items()
        },
        probabilities=np.asarray(data["probabilities"], dtype=np.int64),
        positives=int(data["positives"]),
        rows=int(data["rows"]),
    )
    keys = np.frombuffer(base64.b64decode(data["sample"]["keys"]), dtype=np.float64).copy()
    rows = np.frombuffer(base64.b64decode(data["sample"]["rows"]), dtype=np.float32).astype(np.float64)
    sample = concept.Sample(keys=keys, rows=rows.reshape(keys.size, int(data["sample"]["width"])))
    return VersionPart(counts=counts, sample=sample)


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()
