"""A deployed stack in moto (S3, KMS, ECS) with its CodePipeline behind botocore's Stubber.

moto has no CodePipeline execution API (states, approvals, action executions), so those calls
are stubbed with the service model's own shapes: the Stubber rejects a request or a response that
does not match botocore's model of the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ml_deploy_cli.__main__ import main

REGION = "eu-west-1"
ACCOUNT = "123456789012"
MODEL_BUCKET = "ml-deploy-dev-models"
LOG_BUCKET = "ml-deploy-dev-prediction-logs"
MODEL_KEY = "bundles/current/model-bundle.zip"
CLUSTER = "ml-deploy-dev-serving"
PIPELINE = "ml-deploy-dev"
MODEL_RULE = "ml-deploy-dev-model-upload"
REPOSITORY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/ml-deploy-dev-service"
SERVICES = {"stage": "ml-deploy-dev-stage", "prod": "ml-deploy-dev-prod"}


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Stack:
    """The stack's outputs file, its AWS clients and the stubbed pipeline client."""

    outputs_path: Path
    outputs: dict[str, Any]
    s3: Any
    ecs: Any
    kms_key_arn: str
    codepipeline: Any
    pipeline: Stubber
    capsys: pytest.CaptureFixture[str]
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service == "codepipeline":
            return self.codepipeline
        return self.clients.setdefault(service, boto3.client(service, region_name=REGION))

    def write_outputs(self, **changes: Any) -> None:
        """Rewrite outputs.json; a value of None removes the key."""
        values = {**self.outputs, **changes}
        self.outputs_path.write_text(json.dumps({k: v for k, v in values.items() if v is not None}))

    def cli(self, *argv: str) -> Result:
        """`ml-deploy --outputs outputs.json ARGV...` in-process; stdout and stderr captured."""
        self.capsys.readouterr()
        code = main(["--outputs", str(self.outputs_path), *argv], environ={}, client=self.client)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def register_revision(self, environment: str, tag: str, *, cpu: str = "512") -> str:
        """A new task-definition revision of the environment's family, as the ECS deploy action makes."""
        response = self.ecs.register_task_definition(
            family=SERVICES[environment],
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu=cpu,
            memory="1024",
            containerDefinitions=[
                {
                    "name": "model-server",
                    "image": f"{REPOSITORY}:{tag}",
                    "essential": True,
                    "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                    "environment": [
                        {"name": "ENVIRONMENT", "value": environment},
                        {"name": "LOG_BUCKET", "value": LOG_BUCKET},
                    ],
                }
            ],
        )
        return str(response["taskDefinition"]["taskDefinitionArn"])

    def deploy(self, environment: str, tag: str, **settings: str) -> str:
        """Register a revision with `tag` and point the service at it; the revision's ARN."""
        arn = self.register_revision(environment, tag, **settings)
        self.ecs.update_service(cluster=CLUSTER, service=SERVICES[environment], taskDefinition=arn)
        return arn

    def service_revision(self, environment: str) -> str:
        service = self.ecs.describe_services(cluster=CLUSTER, services=[SERVICES[environment]])
        return str(service["services"][0]["taskDefinition"]).rsplit("/", 1)[-1]


@pytest.fixture
def stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Stack]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        _buckets(s3, key_arn)
        ecs = boto3.client("ecs", region_name=REGION)
        codepipeline = boto3.client("codepipeline", region_name=REGION)
        with Stubber(codepipeline) as pipeline:
            built = Stack(
                outputs_path=tmp_path / "outputs.json",
                outputs=_outputs(key_arn),
                s3=s3,
                ecs=ecs,
                kms_key_arn=key_arn,
                codepipeline=codepipeline,
                pipeline=pipeline,
                capsys=capsys,
            )
            _services(built)
            built.write_outputs()
            yield built
            pipeline.assert_no_pending_responses()


def _buckets(s3: Any, key_arn: str) -> None:
    """As infra/storage.py makes them: the model bucket versioned, both with KMS default encryption."""
    for bucket in (MODEL_BUCKET, LOG_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
    s3.put_bucket_versioning(Bucket=MODEL_BUCKET, VersioningConfiguration={"Status": "Enabled"})


def _services(stack: Stack) -> None:
    """Both environments on their first revision (`pulumi up` runs the bootstrap image)."""
    stack.ecs.create_cluster(clusterName=CLUSTER)
    for environment, service in SERVICES.items():
        arn = stack.register_revision(environment, "bootstrap")
        stack.ecs.create_service(
            cluster=CLUSTER, serviceName=service, taskDefinition=arn, desiredCount=1, launchType="FARGATE"
        )


def _outputs(key_arn: str) -> dict[str, Any]:
    """The subset of `pulumi stack output --json` the CLI reads, as infra/__main__.py exports it."""
    return {
        "kmsKeyArn": key_arn,
        "modelBucket": MODEL_BUCKET,
        "modelKey": MODEL_KEY,
        "predictionLogBucket": LOG_BUCKET,
        "clusterName": CLUSTER,
        "stageServiceName": SERVICES["stage"],
        "prodServiceName": SERVICES["prod"],
        "stageUrl": "http://stage.example",
        "prodUrl": "http://prod.example",
        "pipelineName": PIPELINE,
        "modelTriggerRuleName": MODEL_RULE,
    }
