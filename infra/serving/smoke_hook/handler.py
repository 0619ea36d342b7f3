"""The deployment smoke test: replay the bundle's golden records against a new revision.

ECS calls `handler` as a deployment lifecycle hook once test traffic reaches the new revision
(POST_TEST_TRAFFIC_SHIFT). It asks the test listener which model answers (`GET /version`), reads
that bundle's golden records from the model bucket, POSTs them one by one to `/predict`, and
answers FAILED (so ECS rolls back) on any failed request, any probability further than the
tolerance from the one recorded at training, another model version, or a slow p99.

One record per request, sequentially: the p99 is then the latency a client sees (what the
latency alarm measures too), a failure names its record, and a canary of a few tasks is tested,
not load-tested. 256 records take a few seconds.

A revision with no task to test (the service's desired count is 0: a first deploy, before ECR
held an image, `infra/registry.py`) answers SUCCEEDED with a note and writes no verdict: ECS
gives the hook the service's ARN, not a way to reach a task that does not exist, and its test
listener would answer 503 for an empty target group. Nothing serves such a revision; its first
tasks start when `pulumi up` raises the autoscaling floor, and `ml-deploy bootstrap` checks them.

Lambda's python3.12 runtime has boto3 but not pydantic, so this file is stdlib + boto3 and reads
its settings itself, under the names of `ml_deploy.settings.SmokeHookSettings` (a test holds them
equal). `smoke_test` is the plain function a local caller uses with a boto3 client of its own.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import math
import os
import time
import urllib.parse
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
MANIFEST_NAME = "manifest.json"
FAILURES_KEPT = 10  # failures the verdict lists; the count covers all of them
MAX_REQUEST_FAILURES = 5  # the service is plainly broken; stop rather than wait out every timeout
DEADLINE_MARGIN_SECONDS = 5.0  # answer (and write the verdict) this long before Lambda's timeout

# Each setting and its variable, as `SmokeHookSettings` names them.
VARIABLES = {
    "environment": "ENVIRONMENT",
    "model_bucket": "MODEL_BUCKET",
    "test_url": "TEST_URL",
    "bundle_key_template": "BUNDLE_KEY_TEMPLATE",
    "result_bucket": "RESULT_BUCKET",
    "result_key_template": "RESULT_KEY_TEMPLATE",
    "probability_tolerance": "PROBABILITY_TOLERANCE",
    "max_p99_ms": "MAX_P99_MS",
    "request_timeout_seconds": "REQUEST_TIMEOUT_SECONDS",
}
# Settings without an entry are required. The key templates have no default here: the object
# layout is written once (ml_deploy.layout) and infra sets them from it.
DEFAULTS: dict[str, str | float | None] = {
    "environment": "prod",
    "result_bucket": None,
    "probability_tolerance": 1e-6,
    "max_p99_ms": 250.0,
    "request_timeout_seconds": 5.0,
}


class SmokeTestError(Exception):
    """The test could not run (settings, bundle, version endpoint); the message says what."""


@dataclass(frozen=True)
class HookSettings:
    environment: str
    model_bucket: str
    test_url: str
    bundle_key_template: str
    result_bucket: str | None
    result_key_template: str
    probability_tolerance: float
    max_p99_ms: float
    request_timeout_seconds: float

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HookSettings:
        """Read every variable; a missing or bad one fails naming the variable."""
        values: dict[str, Any] = {}
        for name, variable in VARIABLES.items():
            raw = environ.get(variable) or None
            if raw is None:
                if name not in DEFAULTS:
                    raise SmokeTestError(f"{variable} is not set")
                values[name] = DEFAULTS[name]
            elif isinstance(DEFAULTS.get(name), float):
                values[name] = _positive(variable, raw)
            else:
                values[name] = raw
        return cls(**values)


def _positive(variable: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SmokeTestError(f"{variable} = {raw!r}: expected a number") from None
    if not value > 0 or not math.isfinite(value):
        raise SmokeTestError(f"{variable} = {raw!r}: expected a positive number")
    return value


@dataclass
class Verdict:
    """What the approval message and the log show: the outcome and its evidence."""

    status: str
    environment: str
    model_version: str | None = None
    records: int = 0
    replayed: int = 0
    max_abs_diff: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_p99_ms: float | None = None
    probability_tolerance: float | None = None
    failure_count: int = 0
    failures: list[str] = field(default_factory=list)
    revision: str | None = None
    lifecycle_stage: str | None = None
    # Why the verdict was reached without replaying (a revision with no task to test).
    note: str | None = None
    checked_at: str = ""
    seconds: float = 0.0

    def fail(self, message: str) -> None:
        self.status = FAILED
        self.failure_count += 1
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(message)

    def summary(self) -> str:
        if self.note:
            return f"smoke test {self.status}: {self.environment}: {self.note}"
        head = (
            f"smoke test {self.status}: {self.environment} model {self.model_version or 'unknown'}, "
            f"{self.replayed}/{self.records} records replayed, max |dp| {_figure(self.max_abs_diff)}, "
            f"p99 {_figure(self.p99_ms)} ms (bound {_figure(self.max_p99_ms)})"
        )
        if not self.failures:
            return head
        return f"{head}; {self.failure_count} failure(s), first: {self.failures[0]}"


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


class ListenerClient:
    """A keep-alive HTTP(S) client for the test listener, so latency is the service's, not TCP's."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SmokeTestError(f"TEST_URL = {base_url!r}: expected http(s)://host[:port][/path]")
        self._secure = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._path = parts.path.rstrip("/")
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Status and body; a reused connection the server closed meanwhile is retried once."""
        reused = self._connection is not None
        try:
            return self._send(method, path, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            return self._send(method, path, body)

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        connection = self._connection or self._connect()
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, self._path + path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, data

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._secure else http.client.HTTPConnection
        self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass(frozen=True)
class Golden:
    records: list[dict[str, Any]]
    probabilities: list[float]


def smoke_test(
    environ: Mapping[str, str],
    *,
    s3: Any,
    deadline: float | None = None,
    revision: str | None = None,
    lifecycle_stage: str | None = None,
    desired_tasks: int | None = None,
) -> Verdict:
    """Run the smoke test with `environ`'s settings and `s3` (a boto3 client); never raises.

    `deadline` is a `time.monotonic()` instant by which the replay stops (and fails).
    `desired_tasks` 0 (the service runs no task) succeeds without a request: nothing to test.
    """
    started = time.monotonic()
    verdict = Verdict(status=SUCCEEDED, environment=environ.get(VARIABLES["environment"]) or "unknown")
    verdict.revision, verdict.lifecycle_stage = revision, lifecycle_stage
    verdict.checked_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if desired_tasks == 0:
        verdict.note = (
            "the service's desired count is 0, so no task runs this revision: nothing to replay "
            "(its first tasks start when `pulumi up` raises the autoscaling floor)"
        )
        print(verdict.summary())
        return verdict
    settings: HookSettings | None = None
    try:
        settings = HookSettings.from_environ(environ)
        verdict.environment = settings.environment
        verdict.max_p99_ms, verdict.probability_tolerance = (
            settings.max_p99_ms,
            settings.probability_tolerance,
        )
        listener = ListenerClient(settings.test_url, timeout=settings.request_timeout_seconds)
        try:
            verdict.model_version = served_version(listener)
            golden = golden_records(s3, settings=settings, version=verdict.model_version)
            replay(listener, golden, settings=settings, verdict=verdict, deadline=deadline)
        finally:
            listener.close()
    except SmokeTestError as error:
        verdict.fail(str(error))
    except Exception as error:  # the hook must answer, never crash: name what broke
        verdict.fail(f"{type(error).__name__}: {error}")
    verdict.seconds = round(time.monotonic() - started, 3)
    if settings is not None and settings.result_bucket:
        _write_verdict(s3, settings=settings, verdict=verdict)
    print(verdict.summary())
    return verdict


def served_version(listener: ListenerClient) -> str:
    """The model version the new revision reports through the test listener."""
    try:
        status, body = listener.request("GET", "/version")
    except (OSError, http.client.HTTPException) as error:
        raise SmokeTestError(f"GET /version failed: {error!r}") from None
    if status != 200:
        raise SmokeTestError(f"GET /version answered {status}: {body[:200]!r}")
    try:
        version = json.loads(body).get("model_version")
    except (ValueError, AttributeError):
        version = None
    if not isinstance(version, str) or not version:
        raise SmokeTestError(f"GET /version names no model_version: {body[:200]!r}")
    return version


def golden_records(s3: Any, *, settings: HookSettings, version: str) -> Golden:
    """The golden records of bundle `version`, checked against its manifest's checksum."""
    key = settings.bundle_key_template.format(version=version)
    where = f"s3://{settings.model_bucket}/{key}"
    try:
        data = s3.get_object(Bucket=settings.model_bucket, Key=key)["Body"].read()
    except Exception as error:  # botocore's ClientError and transport errors alike
        raise SmokeTestError(f"could not read the bundle of model {version} at {where}: {error}") from None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            manifest = json.loads(bundle.read(MANIFEST_NAME))
            entry = manifest.get("golden_records")
            if not entry:
                raise SmokeTestError(f"{where} has no golden records, so nothing can be replayed")
            raw = bundle.read(entry["name"])
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise SmokeTestError(f"{where} is not a readable bundle: {error!r}") from None
    if manifest.get("bundle_version") != version:
        raise SmokeTestError(f"{where} holds bundle {manifest.get('bundle_version')}, not {version}")
    if hashlib.sha256(raw).hexdigest() != entry.get("sha256"):
        raise SmokeTestError(f"{where}: golden records do not match the manifest's checksum")
    document = json.loads(raw)
    return Golden(
        records=[item["record"] for item in document["records"]],
        probabilities=[float(item["probability"]) for item in document["records"]],
    )


def replay(
    listener: ListenerClient,
    golden: Golden,
    *,
    settings: HookSettings,
    verdict: Verdict,
    deadline: float | None,
) -> None:
    """POST each record alone, compare its probability, time it; failures go into `verdict`."""
    verdict.records = len(golden.records)
    latencies: list[float] = []
    diffs: list[float] = []
    request_failures = 0
    for index, (record, recorded) in enumerate(zip(golden.records, golden.probabilities, strict=True)):
        if deadline is not None and time.monotonic() > deadline:
            verdict.fail(f"out of time after {index} of {len(golden.records)} records")
            break
        body = json.dumps({"record": record}).encode()
        started = time.perf_counter()
        try:
            status, answer = listener.request("POST", "/predict", body)
        except (OSError, http.client.HTTPException) as error:
            status, answer = 0, repr(error).encode()
        latencies.append((time.perf_counter() - started) * 1000.0)
        served = _served_probability(status, answer, expected_version=verdict.model_version)
        if isinstance(served, str):
            verdict.fail(f"record {index}: {served}")
            request_failures += 1
            if request_failures >= MAX_REQUEST_FAILURES:
                verdict.fail(f"stopped after {request_failures} failed requests")
                break
            continue
        verdict.replayed += 1
        diff = abs(served - recorded)
        diffs.append(diff)
        if not diff <= settings.probability_tolerance:
            verdict.fail(
                f"record {index}: recorded probability {recorded!r}, served {served!r} (|dp| {diff:.3g})"
            )
    verdict.max_abs_diff = max(diffs, default=None)
    verdict.p50_ms, verdict.p99_ms = _percentile(latencies, 50), _percentile(latencies, 99)
    if verdict.p99_ms is not None and verdict.p99_ms > settings.max_p99_ms:
        verdict.fail(f"p99 latency {verdict.p99_ms:.1f} ms exceeds {settings.max_p99_ms:g} ms")


def _served_probability(status: int, answer: bytes, *, expected_version: str | None) -> float | str:
    """The probability the service answered, or (a string) what is wrong with the answer."""
    if not 200 <= status < 300:
        return f"answered {status or 'nothing'}: {answer[:200]!r}"
    try:
        document = json.loads(answer)
        probability = float(document["probability"])
    except (ValueError, KeyError, TypeError):
        return f"answered {status} without a probability: {answer[:200]!r}"
    if document.get("model_version") != expected_version:
        return f"answered from model {document.get('model_version')}, not {expected_version}"
    return probability


def _percentile(values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile: the smallest value at least `percent`% of values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100.0 * len(ordered)))
    return round(ordered[rank - 1], 3)


def _write_verdict(s3: Any, *, settings: HookSettings, verdict: Verdict) -> None:
    """Keep the verdict for the approval message; a failed write is logged, not the deploy's fate."""
    key = settings.result_key_template.format(
        environment=settings.environment, version=verdict.model_version or "unknown"
    )
    try:
        s3.put_object(
            Bucket=settings.result_bucket,
            Key=key,
            Body=json.dumps(asdict(verdict), indent=1).encode(),
            ContentType="application/json",
        )
    except Exception as error:  # the verdict stands; only its record is missing
        print(f"smoke test: could not write the verdict to s3://{settings.result_bucket}/{key}: {error}")


def hook_details(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The target revision and lifecycle stage of a hook event.

    The developer guide's example payloads carry the fields at the top level; hooks written against
    live invocations read them from `executionDetails` beside `lifecycleStage`. Both shapes are
    read, and neither decides the outcome: they only label the verdict.
    """
    details = event.get("executionDetails")
    fields = details if isinstance(details, Mapping) else event
    revision = fields.get("targetServiceRevisionArn")
    stage = event.get("lifecycleStage")
    return (revision if isinstance(revision, str) else None, stage if isinstance(stage, str) else None)


def service_arn(event: Mapping[str, Any]) -> str | None:
    """The deployed service's ARN, in either event shape (see `hook_details`)."""
    details = event.get("executionDetails")
    value = (details if isinstance(details, Mapping) else event).get("serviceArn")
    return value if isinstance(value, str) else None


def desired_tasks(ecs: Any, arn: str | None) -> int | None:
    """The service's desired count (DescribeServices); None when it cannot be read, and then the
    replay decides, as it always did."""
    # arn:aws:ecs:<region>:<account>:service/<cluster>/<service>; the old format has no cluster.
    parts = (arn or "").split(":", 5)[-1].split("/")
    if len(parts) != 3 or parts[0] != "service":
        return None
    try:
        services = ecs.describe_services(cluster=parts[1], services=[arn])["services"]
    except Exception as error:  # the replay still runs; say why the count is unknown
        print(f"could not read the desired count of {arn}, so replaying: {error}")
        return None
    return int(services[0]["desiredCount"]) if services else None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    """The Lambda entry point: `{"hookStatus": "SUCCEEDED"}` or `{"hookStatus": "FAILED"}`."""
    import boto3  # in the Lambda runtime; imported here so tests build clients under moto first

    revision, stage = hook_details(event)
    remaining = context.get_remaining_time_in_millis() / 1000.0 if context is not None else 60.0
    verdict = smoke_test(
        os.environ,
        s3=boto3.client("s3"),
        deadline=time.monotonic() + max(0.0, remaining - DEADLINE_MARGIN_SECONDS),
        revision=revision,
        lifecycle_stage=stage,
        desired_tasks=desired_tasks(boto3.client("ecs"), service_arn(event)),
    )
    return {"hookStatus": verdict.status}
