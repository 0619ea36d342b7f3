"""The logs, queryable with the engine analysts already have: Glue tables and an Athena workgroup.

The prediction logs and the outcomes are registered as external tables over the objects the
service and `ml-deploy upload-outcomes` write (`infra/analytics/tables.py`), with projected
partitions; queries run in one workgroup whose settings are enforced: results under
`athena-results/` of the log bucket, encrypted with the stack key, a per-query scan cutoff and
CloudWatch metrics. Analysts get the managed policy this component exports, nothing broader.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.analytics.access import QueryScope, analyst_statements
from infra.analytics.config import AnalyticsConfig
from infra.analytics.tables import (
    INPUT_FORMAT,
    JSON_SERDE,
    OUTPUT_FORMAT,
    SERDE_PARAMETERS,
    TableSpec,
    database_name,
    outcomes_table,
    predictions_table,
)
from infra.iam import policy
from ml_deploy.layout import ObjectLayout

# The engine the documented queries are written for (Trino functions such as from_iso8601_timestamp).
ENGINE_VERSION = "Athena engine version 3"


@dataclass(frozen=True)
class AnalyticsArgs:
    config: AnalyticsConfig
    layout: ObjectLayout
    log_bucket: aws.s3.Bucket
    key: aws.kms.Key
    environments: tuple[str, ...]
    # Days the log bucket keeps an object: older partitions are never projected.
    retention_days: int
    force_destroy: bool
    region: str


class Analytics(pulumi.ComponentResource):
    """One Glue database with the two tables, the workgroup, and the analysts' policy."""

    database_name: pulumi.Output[str]
    workgroup_name: pulumi.Output[str]
    analyst_policy_arn: pulumi.Output[str]

    def __init__(self, name: str, *, args: AnalyticsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-deploy:analytics:Queries", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=database_name(pulumi.get_stack()),
            description="ml-deploy's prediction logs and outcomes, for Athena.",
            opts=child,
        )
        specs = (
            predictions_table(
                layout=args.layout, environments=args.environments, retention_days=args.retention_days
            ),
            outcomes_table(layout=args.layout, retention_days=args.retention_days),
        )
        tables = [self._table(name, spec, database=database, bucket=args.log_bucket) for spec in specs]
        workgroup = self._workgroup(name, args=args)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        scope = QueryScope(
            workgroup_arn=workgroup.arn,
            catalog_arn=pulumi.Output.concat(
                "arn:aws:glue:", args.region, ":", identity.account_id, ":catalog"
            ),
            database_arn=database.arn,
            table_arns=tuple(table.arn for table in tables),
            bucket_arn=args.log_bucket.arn,
            data_prefixes=tuple(spec.prefix for spec in specs),
            results_prefix=args.layout.query_results_prefix,
            key_arn=args.key.arn,
            region=args.region,
        )
        analysts = aws.iam.Policy(
            f"{name}-analysts",
            description="Query this stack's prediction logs and outcomes with Athena (its workgroup only).",
            policy=policy(*analyst_statements(scope)),
            opts=child,
        )
        self.database_name = database.name
        self.workgroup_name = workgroup.name
        self.analyst_policy_arn = analysts.arn
        self.register_outputs(
            {
                "database_name": self.database_name,
                "workgroup_name": self.workgroup_name,
                "analyst_policy_arn": self.analyst_policy_arn,
            }
        )

    def _table(
        self, name: str, spec: TableSpec, *, database: aws.glue.CatalogDatabase, bucket: aws.s3.Bucket
    ) -> aws.glue.CatalogTable:
        columns = aws.glue.CatalogTableStorageDescriptorColumnArgs
        return aws.glue.CatalogTable(
            f"{name}-{spec.name.replace('_', '-')}",
            name=spec.name,
            database_name=database.name,
            description=spec.description,
            table_type="EXTERNAL_TABLE",
            parameters=bucket.bucket.apply(spec.parameters),
            partition_keys=[
                aws.glue.CatalogTablePartitionKeyArgs(name=key, type=hive_type)
                for key, hive_type in spec.partition_keys
            ],
            storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                location=bucket.bucket.apply(spec.location),
                input_format=INPUT_FORMAT,
                output_format=OUTPUT_FORMAT,
                compressed=True,
                ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                    serialization_library=JSON_SERDE, parameters=dict(SERDE_PARAMETERS)
                ),
                columns=[columns(name=column, type=hive_type) for column, hive_type in spec.columns],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _workgroup(self, name: str, *, args: AnalyticsArgs) -> aws.athena.Workgroup:
        configuration = aws.athena.WorkgroupConfigurationArgs
        results = aws.athena.WorkgroupConfigurationResultConfigurationArgs
        encryption = aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs
        return aws.athena.Workgroup(
            f"{name}-workgroup",
            description="Queries over ml-deploy's prediction logs and outcomes; settings enforced.",
            force_destroy=args.force_destroy,
            configuration=configuration(
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=args.config.athena_bytes_scanned_cutoff,
                engine_version=aws.athena.WorkgroupConfigurationEngineVersionArgs(
                    selected_engine_version=ENGINE_VERSION
                ),
                result_configuration=results(
                    output_location=pulumi.Output.concat(
                        "s3://", args.log_bucket.bucket, "/", args.layout.query_results_prefix
                    ),
                    encryption_configuration=encryption(
                        encryption_option="SSE_KMS", kms_key_arn=args.key.arn
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
