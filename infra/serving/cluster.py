"""The ECS cluster stage and prod share."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

# Container Insights publishes RunningTaskCount/DesiredTaskCount that the alarms compare.
CONTAINER_INSIGHTS = "enabled"


class ServingCluster(pulumi.ComponentResource):
    """The ECS cluster stage and prod share; Container Insights on for the task-count alarms."""

    cluster: aws.ecs.Cluster
    cluster_name: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-deploy:serving:Cluster", name, None, opts)
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value=CONTAINER_INSIGHTS)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster_name = self.cluster.name
        self.register_outputs({"cluster_name": self.cluster_name})
