"""Who may query: the analysts' managed policy, as data.

What running a query needs is documented per service: Athena on the workgroup ("Example workgroup
policies", https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html), Glue on
the table and every ancestor of it, catalog and database ("Configure access to databases and tables
in the AWS Glue Data Catalog",
https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html), and S3
with the caller's own permissions ("Control access to Amazon S3 from Athena",
https://docs.aws.amazon.com/athena/latest/ug/s3-permissions.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from infra.iam import objects

RUN_QUERIES = (
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
)
READ_TABLES = ("glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions")
# What Athena does with the query result location, as the caller.
WRITE_RESULTS = ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")


@dataclass(frozen=True)
class QueryScope:
    """The ARNs and prefixes an analyst's queries touch."""

    workgroup_arn: pulumi.Input[str]
    catalog_arn: pulumi.Input[str]
    database_arn: pulumi.Input[str]
    table_arns: tuple[pulumi.Input[str], ...]
    bucket_arn: pulumi.Input[str]
    # Prefixes the tables read (logs, outcomes) and the one results are written under.
    data_prefixes: tuple[str, ...]
    results_prefix: str
    key_arn: pulumi.Input[str]
    region: str


def analyst_statements(scope: QueryScope) -> list[dict[str, Any]]:
    """Run queries in this workgroup only, over these tables only, reading and writing only where
    they are; no table or database may be created, changed or dropped."""
    readable = [*scope.data_prefixes, scope.results_prefix]
    return [
        {"Sid": "RunQueriesInTheStackWorkgroup", "Effect": "Allow", "Action": list(RUN_QUERIES),
         "Resource": scope.workgroup_arn},
        {"Sid": "ReadTheLogTables", "Effect": "Allow", "Action": list(READ_TABLES),
         "Resource": [scope.catalog_arn, scope.database_arn, *scope.table_arns]},
        {"Sid": "FindTheBucket", "Effect": "Allow",
         "Action": ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"], "Resource": scope.bucket_arn},
        {"Sid": "ListTheLogsOutcomesAndResults", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": scope.bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in readable]}}},
        {"Sid": "ReadTheLogsAndOutcomes", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": [objects(scope.bucket_arn, prefix) for prefix in scope.data_prefixes]},
        {"Sid": "ReadAndWriteQueryResults", "Effect": "Allow", "Action": list(WRITE_RESULTS),
         "Resource": objects(scope.bucket_arn, scope.results_prefix)},
        # The objects are SSE-KMS with the stack key; S3 asks KMS on the caller's behalf.
        {"Sid": "UseTheStackKeyThroughS3", "Effect": "Allow",
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": scope.key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{scope.region}.amazonaws.com"}}},
    ]  # fmt: skip
