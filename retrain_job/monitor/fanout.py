"""Beyond one job: a Batch array job summarizes shards of the closed hours, a dependent job merges.

The run that finds more objects to summarize than `shard_objects` writes a shard manifest (the
hours, the digest and summary ETag each was listed with, and the objects of each shard), submits
the monitor's own job definition as an array job (`summarize`: child i reads shard
`AWS_BATCH_JOB_ARRAY_INDEX`) and a job that depends on it (`merge`: folds the shards' partial
tallies into hour summaries with the usual conditional writes, then runs the check, or ends a
backfill). One manifest holds at most `max_array_size` shards; a larger backlog is taken in turns,
the merge job's own run fanning out again for the rest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ml_deploy.settings import MonitorSettings
from retrain_job.common import JobFailure, JobInputError
from retrain_job.monitor import hours as hourly
from retrain_job.monitor import summary as summaries
from retrain_job.monitor.hours import HOUR, Hour, sample_size
from retrain_job.monitor.log_reader import LogObject
from retrain_job.monitor.summary import Objects
from retrain_job.monitor.versions import Catalog, Tally

COMMAND = ["python", "-m", "retrain_job.monitor"]  # the monitor job definition's own command
ARRAY_INDEX = "AWS_BATCH_JOB_ARRAY_INDEX"  # set by Batch in each child of an array job


@dataclass(frozen=True)
class FanOut:
    manifest_url: str
    shards: int
    array_job_id: str
    merge_job_id: str


def wanted(settings: MonitorSettings, stale: list[Hour]) -> bool:
    """Fan out when configured and the closed hours to summarize exceed one job's share."""
    configured = settings.fanout_job_queue and settings.fanout_job_definition
    return bool(configured) and sum(len(h.objects) for h in stale) > settings.shard_objects


def plan_shards(settings: MonitorSettings, stale: list[Hour]) -> tuple[list[Hour], list[list[LogObject]]]:
    """Whole hours, oldest first, into at most `max_array_size` shards of `shard_objects` objects.

    An hour is never split across manifests (its summary needs all its objects); a single hour
    larger than the whole budget still goes alone, in shards grown to fit the array size.
    """
    budget = settings.shard_objects * settings.max_array_size
    taken: list[Hour] = []
    total = 0
    for hour in stale:
        if taken and total + len(hour.objects) > budget:
            break
        taken.append(hour)
        total += len(hour.objects)
    objects = [item for hour in taken for item in hour.objects]
    size = max(settings.shard_objects, -(-len(objects) // settings.max_array_size))
    return taken, [objects[i : i + size] for i in range(0, len(objects), size)]


def fan_out(
    s3: Any, batch: Any, settings: MonitorSettings, *, bucket: str, stale: list[Hour], run_id: str, then: str
) -> FanOut:
    """Write the shard manifest and submit the array job and the merge job that depends on it."""
    taken, shards = plan_shards(settings, stale)
    key = f"{settings.summaries_prefix}{settings.environment}/shards/{run_id}/manifest.json"
    document = {
        "format": summaries.FORMAT,
        "then": then,
        "hours": {
            h.start.isoformat(): {"count": h.listed.count, "digest": h.listed.digest, "replaces": h.etag}
            for h in taken
        },
        "shards": [[[item.key, item.size] for item in shard] for shard in shards],
    }
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")
    url = f"s3://{bucket}/{key}"
    common = {"jobQueue": settings.fanout_job_queue, "jobDefinition": settings.fanout_job_definition}
    # An array holds 2 to 10,000 children (MAX_ARRAY_SIZE is bounded so); one shard is a plain job:
    # https://docs.aws.amazon.com/eventbridge/latest/pipes-reference/API_BatchArrayProperties.html
    array = {"arrayProperties": {"size": len(shards)}} if len(shards) > 1 else {}
    summarize = batch.submit_job(
        jobName=f"monitor-summarize-{run_id}"[:128], **common, **array,
        containerOverrides={"command": [*COMMAND, "summarize", "--shard-manifest", url]},
    )  # fmt: skip
    merge = batch.submit_job(
        jobName=f"monitor-merge-{run_id}"[:128], **common,
        dependsOn=[{"jobId": summarize["jobId"]}],
        containerOverrides={"command": [*COMMAND, "merge", "--shard-manifest", url]},
    )  # fmt: skip
    return FanOut(url, len(shards), str(summarize["jobId"]), str(merge["jobId"]))


def read_manifest(s3: Any, url: str) -> tuple[str, str, dict[str, Any]]:
    """(bucket, key, document) of a shard manifest; a clear error for anything else."""
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise JobInputError(f"--shard-manifest {url!r}: expected s3://bucket/key of a shard manifest")
    bucket, key = url[5:].split("/", 1)
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        document["shards"], document["hours"]
    except (ValueError, KeyError, TypeError) as error:
        raise JobInputError(f"--shard-manifest {url}: not a shard manifest ({error})") from None
    return bucket, key, document


def summarize_shard(
    s3: Any, settings: MonitorSettings, *, url: str, catalog: Catalog, index: int | None
) -> int:
    """One child: tally its shard's objects per hour and store the partials beside the manifest."""
    bucket, key, document = read_manifest(s3, url)
    index = int(os.environ.get(ARRAY_INDEX, "0")) if index is None else index
    if not 0 <= index < len(document["shards"]):
        raise JobInputError(f"{ARRAY_INDEX}={index}: the manifest has {len(document['shards'])} shard(s)")
    by_hour: dict[str, list[LogObject]] = {}
    for object_key, size in document["shards"][index]:
        by_hour.setdefault(_hour_of(object_key, document), []).append(LogObject(object_key, int(size)))
    for hour, objects in sorted(by_hour.items()):
        start = datetime.fromisoformat(hour)
        tally = hourly.read_rows(s3, bucket=bucket, objects=objects, catalog=catalog,
                                 bounds=(start, start + HOUR), settings=settings)  # fmt: skip
        part = hourly.make_summary(start, objects=Objects(len(objects), ""), tally=tally, catalog=catalog,
                                   settings=settings)  # fmt: skip
        s3.put_object(Bucket=bucket, Key=_part_key(key, hour=hour, index=index), Body=summaries.encode(part))
    return sum(len(objects) for objects in by_hour.values())


def merge_shards(s3: Any, settings: MonitorSettings, *, url: str, catalog: Catalog) -> str:
    """Fold every shard's partials into one summary per hour; what the manifest says comes next."""
    bucket, key, document = read_manifest(s3, url)
    for hour, listed in document["hours"].items():
        total, read = Tally(), 0
        for index in range(len(document["shards"])):
            found, _ = hourly.read_summary(s3, bucket=bucket, key=_part_key(key, hour=hour, index=index))
            if found is not None:
                total.merge(found.tally, sample_rows=sample_size(settings))
                read += found.objects.count
        if read != int(listed["count"]):
            raise JobFailure(f"hour {hour}: the shards summarized {read} of {listed['count']} objects")
        start = datetime.fromisoformat(hour)
        made = hourly.make_summary(start, objects=Objects(int(listed["count"]), str(listed["digest"])),
                                   tally=total, catalog=catalog, settings=settings)  # fmt: skip
        hourly.write_summary(s3, bucket=bucket, key=hourly.summary_key(settings, start), summary=made,
                             replaces=listed["replaces"])  # fmt: skip
    return str(document.get("then", "check"))


def _hour_of(object_key: str, document: dict[str, Any]) -> str:
    """The manifest hour whose partition holds this object (keys carry dt=…/hour=…)."""
    for hour in document["hours"]:
        start = datetime.fromisoformat(hour)
        if f"dt={start:%Y-%m-%d}/hour={start:%H}/" in object_key:
            return str(hour)
    raise JobInputError(f"shard object {object_key} is in none of the manifest's hours")


def _part_key(manifest_key: str, *, hour: str, index: int) -> str:
    start = datetime.fromisoformat(hour)
    return manifest_key.rsplit("/", 1)[0] + f"/parts/{start:%Y%m%dT%H}/{index:05d}.json.gz"
