"""The Glue tables over the prediction logs and the outcomes: columns, partitions, projection.

Pure data, so the tests read the table definitions without Pulumi. The columns come from the
runtime's own record definitions (`ml_deploy.payload_log`, `ml_deploy.outcomes`); the partitions
are projected ("Partition projection with Amazon Athena",
https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html): Athena computes them from
the table parameters below, so no crawler or `MSCK REPAIR` ever registers an hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ml_deploy import outcomes, payload_log
from ml_deploy.layout import ObjectLayout, environment_logs, folder

PREDICTIONS_TABLE = "prediction_logs"
OUTCOMES_TABLE = "outcomes"
# Hive-style dt=YYYY-MM-DD folders, as `payload_log.partition_prefix` and `outcomes.partition_prefix`
# write them; a Java DateTimeFormatter pattern ("Supported types for partition projection",
# https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html).
DAY_FORMAT = "yyyy-MM-dd"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
# Text lines; Hadoop's text reader decompresses by file extension, and every object ends in .gz.
INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
# A line that is not JSON reads as nulls instead of failing the whole query (the monitor counts it).
SERDE_PARAMETERS = {"ignore.malformed.json": "true"}


@dataclass(frozen=True)
class TableSpec:
    """One external table: its data columns, partition columns and table parameters."""

    name: str
    description: str
    # The key prefix of the table's objects, and of one partition with `${column}` placeholders.
    prefix: str
    partition_path: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]
    projection: dict[str, str]

    def location(self, bucket: str) -> str:
        return f"s3://{bucket}/{self.prefix}"

    def parameters(self, bucket: str) -> dict[str, str]:
        """The table parameters: projection, and where a partition's objects are in `bucket`."""
        return {**self.projection, "storage.location.template": f"s3://{bucket}/{self.partition_path}"}


def database_name(stack: str) -> str:
    """`ml_deploy_<stack>`: Athena takes only lower-case letters, digits and '_' in a database name
    ("Name databases, tables, and columns",
    https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html)."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in stack.lower())
    return f"ml_deploy_{cleaned}"[:255]


def _day_projection(column: str, *, retention_days: int) -> dict[str, str]:
    """Days back to the oldest one the bucket's lifecycle still keeps, up to today (UTC)."""
    return {
        f"projection.{column}.type": "date",
        f"projection.{column}.format": DAY_FORMAT,
        f"projection.{column}.range": f"NOW-{retention_days}DAYS,NOW",
        f"projection.{column}.interval": "1",
        f"projection.{column}.interval.unit": "DAYS",
    }


def _common_parameters() -> dict[str, str]:
    return {"EXTERNAL": "TRUE", "classification": "json", "projection.enabled": "true"}


def predictions_table(*, layout: ObjectLayout, environments: Sequence[str], retention_days: int) -> TableSpec:
    """Every environment's logs in one table; `environment` is the folder each one writes to, so
    the record's own field is the partition column (a table may not hold a name twice)."""
    partitions = {"environment", "dt", "hour"}
    environment_folder = environment_logs(layout.prediction_log_prefix, "${environment}")
    return TableSpec(
        name=PREDICTIONS_TABLE,
        description="Prediction logs the service writes (ml_deploy.payload_log), one row per scored record.",
        prefix=folder(layout.prediction_log_prefix),
        partition_path=f"{environment_folder}dt=${{dt}}/hour=${{hour}}/",
        columns=tuple(c for c in payload_log.hive_columns() if c[0] not in partitions),
        partition_keys=(("environment", "string"), ("dt", "string"), ("hour", "string")),
        projection={
            **_common_parameters(),
            "projection.environment.type": "enum",
            "projection.environment.values": ",".join(environments),
            **_day_projection("dt", retention_days=retention_days),
            "projection.hour.type": "integer",
            "projection.hour.range": "0,23",
            "projection.hour.digits": "2",
        },
    )


def outcomes_table(*, layout: ObjectLayout, retention_days: int) -> TableSpec:
    """The outcomes `ml-deploy upload-outcomes` writes, by the day each was observed."""
    return TableSpec(
        name=OUTCOMES_TABLE,
        description="Observed outcomes of scored records (ml_deploy.outcomes), by day observed.",
        prefix=folder(layout.outcomes_prefix),
        partition_path=f"{folder(layout.outcomes_prefix)}dt=${{dt}}/",
        columns=outcomes.hive_columns(),
        partition_keys=(("dt", "string"),),
        projection={**_common_parameters(), **_day_projection("dt", retention_days=retention_days)},
    )
