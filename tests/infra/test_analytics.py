"""The logs are queryable: Glue tables from the runtime's own record definitions, projected
partitions where the service and the upload write, an enforced workgroup, and the config's checks.

What Athena documents is held as data here, naming the page; the program runs under the mocks.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, get_type_hints

import orjson
import pytest

from infra.analytics.config import MIN_BYTES_SCANNED_CUTOFF
from infra.analytics.tables import database_name
from infra.config import ConfigError, parse_config
from ml_deploy import outcomes, payload_log
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy_dev.program import Program, Resource, dev_stack_config

TABLE = "aws:glue/catalogTable:CatalogTable"
WORKGROUP = "aws:athena/workgroup:Workgroup"

# "Supported types for partition projection",
# https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html:
PROJECTION_TYPES = {"enum", "integer", "date", "injected"}
# a date range bound is a date in the column's format or a relative date of this form;
RELATIVE_DATE = r"\s*NOW\s*(([\+\-])\s*([0-9]+)\s*(YEARS?|MONTHS?|WEEKS?|DAYS?|HOURS?|MINUTES?|SECONDS?)\s*)?"
# `format` is a Java DateTimeFormatter pattern: the letters this table's formats use, as strftime.
JAVA_DATE_LETTERS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H"}
# an integer range is two comma-separated values, `digits` pads each value with leading zeros.
# "Set up partition projection" (custom S3 storage locations),
# https://docs.aws.amazon.com/athena/latest/ug/partition-projection-setting-up.html, and
# https://repost.aws/knowledge-center/athena-error-invalid-table-property: the template must hold
# a ${column} placeholder for every partition column, or the query fails INVALID_TABLE_PROPERTY.
OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
# WorkGroupConfiguration, https://docs.aws.amazon.com/athena/latest/APIReference/API_WorkGroupConfiguration.html:
# BytesScannedCutoffPerQuery "Minimum value of 10000000".
DOCUMENTED_MIN_CUTOFF = 10_000_000
WHEN = datetime(2026, 3, 9, 7, 41, tzinfo=UTC)


def _fits(value: Any, hive_type: str) -> bool:
    """Whether a JSON value reads as `hive_type` (the few types the tables use)."""
    if value is None:
        return True
    if hive_type == "string":
        return isinstance(value, str)
    if hive_type == "int":
        return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31
    if hive_type == "double":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hive_type == "map<string,string>":
        return isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values())
    match = re.fullmatch(r"struct<(.*)>", hive_type)
    assert match, f"no rule for {hive_type}"
    fields = dict(part.split(":", 1) for part in match.group(1).split(","))
    return (
        isinstance(value, dict)
        and set(value) == set(fields)
        and all(_fits(value[k], fields[k]) for k in fields)
    )


def _table(program: Program, name: str) -> Resource:
    return next(t for t in program.of_type(TABLE) if t.inputs["name"] == name)


def _columns(table: Resource) -> dict[str, str]:
    return {c["name"]: c["type"] for c in table.inputs["storageDescriptor"]["columns"]}


def _partitions(table: Resource) -> dict[str, str]:
    return {p["name"]: p["type"] for p in table.inputs["partitionKeys"]}


# --- the schema is the runtime's -----------------------------------------------------------


def test_every_log_record_field_is_a_column_whose_type_its_written_values_fit() -> None:
    columns = dict(payload_log.hive_columns())
    assert list(columns) == list(get_type_hints(payload_log.LogRecord)), "columns and LogRecord fields differ"
    lines = payload_log.encode_lines(
        request_id="r-1", timestamp=payload_log.utc_timestamp(WHEN), model_version="v1", environment="prod",
        inputs=[{"tenure_months": 12, "charges": 70.5, "contract": "two-year", "churned_before": None}],
        outputs=[(1, 0.83)], keys=["customer-123"],
    )  # fmt: skip
    record = orjson.loads(lines[0])
    assert set(record) == set(columns)
    misfits = {
        name: record[name] for name, hive_type in columns.items() if not _fits(record[name], hive_type)
    }
    assert not misfits, f"written values the Hive types do not read: {misfits}"


def test_every_outcome_field_is_a_column_whose_type_its_written_values_fit() -> None:
    columns = dict(outcomes.hive_columns())
    assert list(columns) == list(get_type_hints(outcomes.OutcomeRecord)) == list(outcomes.FIELDS)
    for row in (
        {"key": "customer-123", "label": 1, "observed_at": "2026-03-09T07:00:00Z"},
        {"request_id": "r-1", "record_index": "0", "label": "0", "observed_at": "2026-03-09T07:00:00+01:00"},
    ):
        record = outcomes.parse_outcome(row, now=WHEN)
        misfits = {k: v for k, v in record.items() if not _fits(v, columns[k])}
        assert not misfits, f"outcome values the Hive types do not read: {misfits}"


def test_the_type_check_refuses_what_a_column_would_not_read() -> None:
    """Guards the guard: a nested input, a text probability and a float index are caught."""
    assert not _fits({"a": {"b": 1}}, "map<string,string>")
    assert not _fits({"prediction": 1, "probability": "0.8"}, "struct<prediction:int,probability:double>")
    assert not _fits(1.5, "int")


def test_the_tables_hold_every_field_of_the_records(dev_program: Program) -> None:
    for name, schema in (("prediction_logs", payload_log), ("outcomes", outcomes)):
        table = _table(dev_program, name)
        registered = {**_columns(table), **_partitions(table)}
        # dt and hour are the folders' own partitions; every other column is a field of the record.
        fields = {k: v for k, v in registered.items() if k not in ("dt", "hour")}
        assert fields == dict(schema.hive_columns()), f"{name}: {registered}"
        # A name is a data column or a partition column, never both.
        assert not set(_columns(table)) & set(_partitions(table))


# --- partitions are where the writers put objects ------------------------------------------


def _location(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


def _projected(parameters: dict[str, str], column: str, when: datetime) -> str:
    """The partition value Athena projects for `when`, from the column's documented properties."""
    kind = parameters[f"projection.{column}.type"]
    if kind == "date":
        pattern = parameters[f"projection.{column}.format"]
        for java, strftime in JAVA_DATE_LETTERS.items():
            pattern = pattern.replace(java, strftime)
        return when.strftime(pattern)
    if kind == "integer":
        return str(when.hour).zfill(int(parameters.get(f"projection.{column}.digits", "1")))
    raise AssertionError(f"no projection rule for {kind}")


def test_a_projected_log_partition_is_the_folder_the_service_writes(dev_program: Program) -> None:
    bucket = dev_program.outputs["predictionLogBucket"]
    parameters = _table(dev_program, "prediction_logs").inputs["parameters"]
    assert parameters["projection.environment.values"].split(",") == ["stage", "prod"]
    for environment in ("stage", "prod"):
        values = {"environment": environment, "dt": _projected(parameters, "dt", WHEN)}
        values["hour"] = _projected(parameters, "hour", WHEN)
        written = payload_log.partition_prefix(DEFAULT_LAYOUT.prediction_logs(environment), WHEN)
        assert _location(parameters["storage.location.template"], values) == f"s3://{bucket}/{written}"


def test_a_projected_outcome_partition_is_the_folder_the_upload_writes(dev_program: Program) -> None:
    bucket = dev_program.outputs["predictionLogBucket"]
    parameters = _table(dev_program, "outcomes").inputs["parameters"]
    location = _location(parameters["storage.location.template"], {"dt": _projected(parameters, "dt", WHEN)})
    written = outcomes.partition_prefix(DEFAULT_LAYOUT.outcomes_prefix, date(2026, 3, 9))
    assert location == f"s3://{bucket}/{written}"


@pytest.mark.parametrize("name", ["prediction_logs", "outcomes"])
def test_projection_follows_what_athena_documents(dev_program: Program, name: str) -> None:
    table = _table(dev_program, name)
    parameters = table.inputs["parameters"]
    assert parameters["projection.enabled"] == "true"
    for column in _partitions(table):
        assert parameters[f"projection.{column}.type"] in PROJECTION_TYPES, column
        assert f"${{{column}}}" in parameters["storage.location.template"], (
            f"no ${{{column}}} in the template"
        )
        if parameters[f"projection.{column}.type"] == "date":
            bounds = parameters[f"projection.{column}.range"].split(",")
            assert len(bounds) == 2 and all(re.fullmatch(RELATIVE_DATE, b) for b in bounds), bounds
    if "hour" in _partitions(table):
        assert parameters["projection.hour.range"] == "0,23" and parameters["projection.hour.digits"] == "2"
    descriptor = table.inputs["storageDescriptor"]
    assert descriptor["serDeInfo"]["serializationLibrary"] == OPENX_JSON_SERDE
    assert table.inputs["tableType"] == "EXTERNAL_TABLE"


def test_days_are_projected_as_far_back_as_the_bucket_keeps_logs(dev_program: Program) -> None:
    kept = dev_stack_config().get("ml-deploy:logExpirationDays", 365)
    for name in ("prediction_logs", "outcomes"):
        assert _table(dev_program, name).inputs["parameters"]["projection.dt.range"] == f"NOW-{kept}DAYS,NOW"


@pytest.mark.parametrize("stack", ["dev", "team_a.prod", "Payments-EU-2026"])
def test_the_database_name_is_one_athena_accepts_for_any_stack(stack: str) -> None:
    name = database_name(stack)
    assert re.fullmatch(r"[a-z0-9_]{1,255}", name) and name.startswith("ml_deploy_"), name


# --- the workgroup ---------------------------------------------------------------------------


def test_the_workgroup_enforces_encrypted_results_in_the_log_bucket_and_a_cutoff(
    dev_program: Program,
) -> None:
    configuration = dev_program.one(WORKGROUP).inputs["configuration"]
    key = dev_program.one("aws:kms/key:Key", "data-key").state["arn"]
    assert configuration["enforceWorkgroupConfiguration"] is True
    assert configuration["publishCloudwatchMetricsEnabled"] is True
    assert configuration["bytesScannedCutoffPerQuery"] >= DOCUMENTED_MIN_CUTOFF
    results = configuration["resultConfiguration"]
    assert results["outputLocation"] == f"s3://{dev_program.outputs['predictionLogBucket']}/athena-results/"
    assert results["encryptionConfiguration"] == {"encryptionOption": "SSE_KMS", "kmsKeyArn": key}
    assert dev_program.outputs["athenaWorkgroupName"] == dev_program.one(WORKGROUP).inputs["name"]


def test_the_cutoff_below_athenas_minimum_is_refused_naming_the_key() -> None:
    assert MIN_BYTES_SCANNED_CUTOFF == DOCUMENTED_MIN_CUTOFF
    raw = {
        k.removeprefix("ml-deploy:"): v for k, v in dev_stack_config().items() if k.startswith("ml-deploy:")
    }
    with pytest.raises(ConfigError, match=r"ml-deploy:athenaBytesScannedCutoff .*10000000"):
        parse_config({**raw, "athenaBytesScannedCutoff": DOCUMENTED_MIN_CUTOFF - 1}, region="eu-west-1")
    config = parse_config({**raw, "athenaBytesScannedCutoff": DOCUMENTED_MIN_CUTOFF}, region="eu-west-1")
    assert config.analytics.athena_bytes_scanned_cutoff == DOCUMENTED_MIN_CUTOFF


def test_the_analysts_policy_is_exported_and_grants_no_write_to_logs(dev_program: Program) -> None:
    policy = dev_program.one("aws:iam/policy:Policy", "analytics-analysts")
    assert dev_program.outputs["analystPolicyArn"] == policy.state["arn"]
    statements = orjson.loads(policy.inputs["policy"])["Statement"]
    assert all(s.get("Sid") for s in statements), "every statement says what it is for"
    writes = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert [w["Resource"] for w in writes] == [
        f"arn:aws:s3:::{dev_program.outputs['predictionLogBucket']}/athena-results/*"
    ]
