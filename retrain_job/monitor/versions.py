"""Each model version is judged on its own rows, against its own bundle's reference.

A block of log lines may hold rows of several versions (a rollout, a rollback). Its rows are
grouped by version and binned on that version's reference bins; the manifests come from the
champion and, for any other version met, from the bundle archive (read once per run). A version
whose bundle cannot be read is counted by rows only: its rows are never scored as another's.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ml_deploy.bundle import Manifest
from ml_deploy.schema import FeatureSpec
from retrain_job.monitor import concept
from retrain_job.monitor.log_parser import Columns, LogLayout, parse_block
from retrain_job.monitor.window import Binning, WindowCounts, count_block

NO_VERSION = "(none)"  # rows that carry no model version


@dataclass
class VersionPart:
    """One version's counts and bounded sample: what its drift statistics need."""

    counts: WindowCounts
    sample: concept.Sample

    def merge(self, other: VersionPart, *, sample_rows: int) -> None:
        self.counts.merge(other.counts)
        self.sample.merge(other.sample, size=sample_rows)


@dataclass
class Tally:
    """What reading some log rows adds up to, per version, plus what belongs to no version."""

    versions: dict[str, VersionPart] = field(default_factory=dict)
    unreferenced: Counter[str] = field(default_factory=Counter)  # rows of versions without a bundle
    malformed: int = 0
    outside_window: int = 0
    corrupt_objects: list[str] = field(default_factory=list)

    def merge(self, other: Tally, *, sample_rows: int) -> None:
        for version, part in other.versions.items():
            if version in self.versions:
                self.versions[version].merge(part, sample_rows=sample_rows)
            else:  # a copy: the window's running totals must not alias a summary's arrays
                self.versions[version] = copy.deepcopy(part)
        self.unreferenced.update(other.unreferenced)
        self.malformed += other.malformed
        self.outside_window += other.outside_window
        self.corrupt_objects += other.corrupt_objects

    def rows(self) -> dict[str, int]:
        """Rows per version, scored or not."""
        found = {version: part.counts.rows for version, part in self.versions.items()}
        return found | dict(self.unreferenced)


class Catalog:
    """Manifests by version (the champion's first), their binnings, and the layout that reads them all.

    `load(version)` fetches a bundle's manifest from the archive; it returns None when there is
    none. Shared by the parser threads, hence the lock.
    """

    def __init__(self, champion: Manifest, *, load: Callable[[str], Manifest | None]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self.manifests: dict[str, Manifest | None] = {}
        self.binnings: dict[str, Binning] = {}
        self._features: dict[str, FeatureSpec] = {}
        self._add(champion.bundle_version, champion)

    def _add(self, version: str, manifest: Manifest | None) -> None:
        self.manifests[version] = manifest
        if manifest is not None:
            self.binnings[version] = Binning.from_manifest(manifest)
            for spec in manifest.features:
                self._features.setdefault(spec.name, spec)

    def ensure(self, versions: list[str]) -> bool:
        """Load the manifests of versions not met before; True when the layout grew."""
        with self._lock:
            missing = [v for v in versions if v not in self.manifests]
            before = len(self._features)
            for version in missing:
                self._add(version, self._load(version))
            return len(self._features) > before

    def layout(self, *, start: datetime | None, end: datetime | None) -> LogLayout:
        with self._lock:
            specs = list(self._features.values())
        return LogLayout.from_features(specs, model_version=None, start=start, end=end)

    def manifest(self, version: str) -> Manifest | None:
        return self.manifests.get(version)


def tally_block(
    block: bytes, catalog: Catalog, *, start: datetime | None, end: datetime | None, sample_rows: int
) -> Tally:
    """Parse a block, group its rows by version and reduce each group on its version's bins."""
    columns = parse_block(block, catalog.layout(start=start, end=end))
    groups = columns.by_version()
    if catalog.ensure([v for v in groups if v is not None]):  # a version with features unread so far
        columns = parse_block(block, catalog.layout(start=start, end=end))
        groups = columns.by_version()
    tally = Tally(malformed=columns.malformed, outside_window=columns.outside_window)
    for version, rows in groups.items():
        binning = catalog.binnings.get(version) if version is not None else None
        manifest = catalog.manifest(version) if version is not None else None
        if version is None or binning is None or manifest is None:
            tally.unreferenced[version or NO_VERSION] += rows.rows
            continue
        tally.versions[version] = _reduce(rows, binning, names=manifest.feature_names, size=sample_rows)
    return tally


def _reduce(columns: Columns, binning: Binning, *, names: list[str], size: int) -> VersionPart:
    counts = count_block(columns, binning)
    counts.malformed = counts.outside_window = 0  # block-level facts, kept once on the Tally
    sample = (
        concept.sample_block(columns, binning, names=names, size=size)
        if size
        else concept.Sample.empty(len(names))
    )
    return VersionPart(counts=counts, sample=sample)
