"""Beyond one job: the array-job path against moto's Batch, on the program's own job definitions.

The monitor's rendered job definition and queue are registered in moto; a check run with more
objects to summarize than SHARD_OBJECTS submits an array job and a job depending on it; each
child then runs in-process with its AWS_BATCH_JOB_ARRAY_INDEX, and the merge job's command ends
in the report a single run would have written.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from ml_deploy.settings import MonitorSettings, SettingsError
from ml_deploy_dev.program import Program
from retrain_job import monitor
from retrain_job.monitor import fanout
from retrain_job.monitor.hours import Hour
from retrain_job.monitor.log_reader import LogObject
from tests.retrain_job.conftest import LOG_BUCKET, World
from tests.retrain_job.monitor.conftest import FIRST_HOUR, fill

STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def _register(world: World, program: Program) -> tuple[str, str, list[str]]:
    """The stack's job queue and monitor job definition in moto, as rendered: (queue, definition, command)."""
    definition = program.one("aws:batch/jobDefinition:JobDefinition", "jobs-monitor")
    properties = json.loads(definition.inputs["containerProperties"])
    queue = program.one("aws:batch/jobQueue:JobQueue").state["name"]
    environment = world.batch.describe_compute_environments()["computeEnvironments"][0][
        "computeEnvironmentArn"
    ]
    world.batch.create_job_queue(
        jobQueueName=queue, state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )  # fmt: skip
    world.batch.register_job_definition(
        jobDefinitionName=definition.state["name"], type="container", platformCapabilities=["FARGATE"],
        containerProperties=properties,
    )  # fmt: skip
    return queue, definition.state["name"], list(properties["command"])


def _jobs(world: World, queue: str) -> list[dict[str, Any]]:
    ids = [
        job["jobId"]
        for status in STATUSES
        for job in world.batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]
    ]
    return world.batch.describe_jobs(jobs=ids)["jobs"] if ids else []


def test_a_large_backlog_fans_out_as_an_array_job_and_a_dependent_merge(
    world: World,
    frames: list[pd.DataFrame],
    other_bundle: object,
    dev_program: Program,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill(world, frames, other_bundle)
    queue, definition, command = _register(world, dev_program)
    for name, value in {"MONITOR_JOB_QUEUE": queue, "MONITOR_JOB_DEFINITION": definition,
                        "SHARD_OBJECTS": "4", "MAX_ARRAY_SIZE": "10"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)

    assert monitor.main([]) == 0, capsys.readouterr().err
    jobs = {job["jobName"].split("-")[1]: job for job in _jobs(world, queue)}
    assert set(jobs) == {"summarize", "merge"}, f"submitted: {sorted(jobs)}"
    array, merge = jobs["summarize"], jobs["merge"]
    size = array["arrayProperties"]["size"]
    assert size == 5, f"20 objects in shards of 4 should make 5 children, got {size}"
    assert merge["dependsOn"] == [{"jobId": array["jobId"]}], "the merge job must wait for every child"
    children = array["container"]["command"]
    assert children[: len(command)] == command, f"override {children} is not the definition's {command}"
    assert children[len(command)] == "summarize" and merge["container"]["command"][len(command)] == "merge"
    with pytest.raises(Exception, match="NoSuchKey"):  # the fan-out run wrote no report
        world.report()

    for index in range(size):
        monkeypatch.setenv(fanout.ARRAY_INDEX, str(index))
        assert monitor.main(children[len(command) :]) == 0, capsys.readouterr().err
    monkeypatch.delenv(fanout.ARRAY_INDEX)
    assert monitor.main(merge["container"]["command"][len(command) :]) == 0, capsys.readouterr().err

    report = json.loads(world.report())
    assert sum(item["rows"] for item in report["versions"]) == 8 * 400, report["versions"]
    summaries = world.s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix="monitor/summaries/prod/dt=")["KeyCount"]
    # The window [10:30 the day before, 10:30) holds 23 whole hours, empty ones summarized too.
    assert summaries == 23, f"{summaries} hour summaries after the merge, expected 23"
    names = {job["jobName"] for job in _jobs(world, queue)}
    assert monitor.main([]) == 0, capsys.readouterr().err
    assert {job["jobName"] for job in _jobs(world, queue)} == names, "a run over summarized hours fanned out"


def _hour(objects: int, offset: int) -> Hour:
    items = [
        LogObject(f"predictions/prod/dt=2026-11-23/hour={offset:02d}/{i}.jsonl.gz", 1) for i in range(objects)
    ]
    return Hour(start=FIRST_HOUR, objects=items, summarizable=True)


def test_shards_respect_the_array_size_and_never_split_an_hour_across_manifests(world: World) -> None:
    config = MonitorSettings.from_env({**world.env, "SHARD_OBJECTS": "10", "MAX_ARRAY_SIZE": "3"})
    taken, shards = fanout.plan_shards(config, [_hour(12, 0), _hour(12, 1), _hour(12, 2)])
    assert len(taken) == 2 and [len(s) for s in shards] == [10, 10, 4], "a budget of 30 takes two hours"
    taken, shards = fanout.plan_shards(config, [_hour(95, 0), _hour(3, 1)])
    assert len(taken) == 1 and len(shards) == 3, "one hour above the budget goes alone, shards grown"
    assert max(len(s) for s in shards) == 32


def test_a_child_with_an_index_outside_the_manifest_is_a_clear_error(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"s3://{LOG_BUCKET}/monitor/summaries/prod/shards/x/manifest.json"
    world.s3.put_object(Bucket=LOG_BUCKET, Key=url.split("/", 3)[3], Body=b'{"hours": {}, "shards": [[]]}')
    monkeypatch.setenv(fanout.ARRAY_INDEX, "3")
    assert monitor.main(["summarize", "--shard-manifest", url]) == monitor.EXIT_INVALID_INPUT
    assert "AWS_BATCH_JOB_ARRAY_INDEX=3" in capsys.readouterr().err


@pytest.mark.parametrize(("size", "accepted"), [(1, False), (2, True), (10_000, True), (10_001, False)])
def test_the_array_size_setting_keeps_to_what_batch_accepts(world: World, size: int, accepted: bool) -> None:
    """An array job has 2 to 10,000 children:
    https://docs.aws.amazon.com/eventbridge/latest/pipes-reference/API_BatchArrayProperties.html"""
    environ = {**world.env, "MAX_ARRAY_SIZE": str(size)}
    if accepted:
        assert MonitorSettings.from_env(environ).max_array_size == size
    else:
        with pytest.raises(SettingsError, match="MAX_ARRAY_SIZE"):
            MonitorSettings.from_env(environ)
