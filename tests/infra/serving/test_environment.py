"""Serving: stage and prod as two ECS services behind their own load balancers (infra/serving/)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import ConfigError
from infra.serving.task_definition import CONTAINER_NAME
from ml_deploy.settings import ServiceSettings
from ml_deploy_dev.autonaming import generated_name
from ml_deploy_dev.program import ACCOUNT, FIRST_BUILD_IMAGES, REGION, Program, Resource, run_program
from tests.infra import iam_lint
from tests.infra.shared_program import shared_program

ENVIRONMENTS = ("stage", "prod")
SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LISTENER = "aws:lb/listener:Listener"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
# Actions AWS grants only on "*"; a policy of ours may name "*" for these and nothing else.
STAR_ONLY_ACTIONS = {
    "ecr:GetAuthorizationToken",
    # (ECS's deployments read load balancers through the attached managed policy, not inline.)
    # The smoke-test hook in the VPC (AWSLambdaVPCAccessExecutionRole's reads).
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
}
# Every serving role, per environment: the task's, ECS's execution, the hook's, ECS's deployments.
ROLES = ("task", "execution", "smoke-hook", "deployments")
# Per target group: 5xx rate, p99, and targets that never pass /ready (issue 24).
ROLLBACK_ALARMS = tuple(
    f"{alarm}{group}"
    for group in ("", "-alternate")
    for alarm in ("5xx-rate", "p99-latency", "never-healthy")
)


@pytest.fixture(scope="module")
def https_program() -> Program:
    """The dev stack with an ACM certificate configured."""
    return shared_program({"ml-deploy:certificateArn": CERTIFICATE})


@pytest.fixture(scope="module")
def published_program() -> Program:
    """The dev stack once the pipeline's first run has pushed the images (ECR lists them)."""
    return shared_program(images=FIRST_BUILD_IMAGES)


def _of(program: Program, type_token: str, env: str, suffix: str) -> Resource:
    return program.one(type_token, f"serving-{env}-{suffix}")


def _service(program: Program, env: str) -> Resource:
    return _of(program, SERVICE, env, "service")


def _container(program: Program, env: str) -> dict[str, Any]:
    definitions = json.loads(_of(program, TASK_DEFINITION, env, "task").inputs["containerDefinitions"])
    served = [d for d in definitions if d["name"] == CONTAINER_NAME]
    assert len(served) == 1, f"{env}: expected one {CONTAINER_NAME} container, found {len(served)}"
    container: dict[str, Any] = served[0]
    return container


def _serving_policies(program: Program, key: str = "policy") -> list[tuple[Resource, dict[str, Any]]]:
    return [
        (resource, document)
        for resource, name, document in program.policy_documents()
        if resource.name.startswith("serving-") and name == key
    ]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_runs_on_fargate_in_private_subnets_without_public_ips(
    dev_program: Program, env: str
) -> None:
    service = _service(dev_program, env).inputs
    network = service["networkConfiguration"]
    assert service["launchType"] == "FARGATE", f"{env} service is not on Fargate"
    assert network["assignPublicIp"] is False, f"{env} tasks get public IPs"
    assert network["subnets"] == dev_program.outputs["privateSubnetIds"], (
        f"{env} tasks run in {network['subnets']}, not the private subnets"
    )
    assert service["enableExecuteCommand"] is False, f"{env} allows ECS Exec into tasks"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_failing_deploy_rolls_back_without_dropping_capacity(dev_program: Program, env: str) -> None:
    service = _service(dev_program, env).inputs
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}, (
        f"{env}: a deploy whose tasks never get healthy would not be rolled back"
    )
    rollback_alarms = [_of(dev_program, ALARM, env, alarm).state["name"] for alarm in ROLLBACK_ALARMS]
    assert service.get("alarms") == {
        "alarmNames": rollback_alarms,
        "enable": True,
        "rollback": True,
    }, f"{env}: a new model that answers 5xx or slowly is not rolled back ({service.get('alarms')})"
    assert service["deploymentMinimumHealthyPercent"] == 100, f"{env} drops tasks during a deploy"
    assert service["deploymentMaximumPercent"] == 200, f"{env} cannot start a full new set first"
    # Pulumi.dev.yaml: startupGraceSeconds 60, for the load balancer and the container check alike.
    assert service.get("healthCheckGracePeriodSeconds") == 60, (
        f"{env}: new tasks are judged by the load balancer before the model has loaded"
    )
    assert _container(dev_program, env)["healthCheck"]["startPeriod"] == 60, (
        f"{env}: the container health check counts while the model is still loading"
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pulumi_up_leaves_the_pipelines_image_and_the_scaled_count_alone(
    dev_program: Program, env: str
) -> None:
    ignored = set(_service(dev_program, env).ignore_changes)
    assert {"taskDefinition", "desiredCount"} <= ignored, (
        f"{env}: the next `pulumi up` would undo pipeline deploys or autoscaling; ignores only {ignored}"
    )


def test_prod_keeps_at_least_two_tasks(published_program: Program) -> None:
    scaling = published_program.one("aws:appautoscaling/target:Target", "serving-prod-scaling").inputs
    assert scaling["minCapacity"] >= 2, f"prod may scale in to {scaling['minCapacity']} task(s)"
    prod = _service(published_program, "prod").inputs
    assert prod["desiredCount"] >= 2, "prod starts with fewer than 2 tasks"
    assert len(prod["networkConfiguration"]["subnets"]) >= 2, (
        "prod tasks cannot spread across two availability zones"
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_autoscaling_tracks_requests_per_task_and_cpu_within_configured_bounds(
    published_program: Program, env: str
) -> None:
    dev_program = published_program
    scaling = dev_program.one("aws:appautoscaling/target:Target", f"serving-{env}-scaling").inputs
    cluster, service = generated_name("serving-cluster"), generated_name(f"serving-{env}-service")
    assert scaling["resourceId"] == f"service/{cluster}/{service}"
    # Pulumi.dev.yaml: stage 1..2, prod 2..4 tasks; default targets 500 requests/task, 60% CPU.
    bounds = {"stage": (1, 2), "prod": (2, 4)}[env]
    assert (scaling["minCapacity"], scaling["maxCapacity"]) == bounds, f"{env} scales {scaling}"
    tracking = {
        name: _of(dev_program, "aws:appautoscaling/policy:Policy", env, f"scale-on-{name}").inputs[
            "targetTrackingScalingPolicyConfiguration"
        ]
        for name in ("requests", "requests-alternate", "cpu")
    }
    tracked = {
        name: (
            t["predefinedMetricSpecification"]["predefinedMetricType"], t["targetValue"],
            t.get("disableScaleIn", False),
        )
        for name, t in tracking.items()
    }  # fmt: skip
    # Requests scale out on whichever group production traffic is in; CPU alone scales in, since an
    # idle group's policy (no data) would never agree to scale in.
    assert tracked == {
        "requests": ("ALBRequestCountPerTarget", 500, True),
        "requests-alternate": ("ALBRequestCountPerTarget", 500, True),
        "cpu": ("ECSServiceAverageCPUUtilization", 60, False),
    }, f"{env} tracks {tracked}"
    groups = {
        _of(dev_program, "aws:lb/targetGroup:TargetGroup", env, name).state["arnSuffix"]
        for name in ("tg", "tg-alternate")
    }
    labels = set()
    for name in ("requests", "requests-alternate"):
        label = tracking[name]["predefinedMetricSpecification"]["resourceLabel"]
        alb, target_group = label.split("/targetgroup/")
        load_balancer = _of(dev_program, "aws:lb/loadBalancer:LoadBalancer", env, "alb").state["arnSuffix"]
        assert alb == load_balancer, f"{env} request tracking counts {label}"
        labels.add(f"targetgroup/{target_group}")
    assert labels == groups, f"{env} request tracking must follow both target groups: {labels} vs {groups}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_tasks_admit_the_container_port_only_from_their_load_balancer(dev_program: Program, env: str) -> None:
    task_sg = _of(dev_program, "aws:ec2/securityGroup:SecurityGroup", env, "tasks")
    alb_sg = _of(dev_program, "aws:ec2/securityGroup:SecurityGroup", env, "alb")
    assert _service(dev_program, env).inputs["networkConfiguration"]["securityGroups"] == [task_sg.id]
    rules = [r.inputs for r in dev_program.of_type(INGRESS_RULE) if r.inputs["securityGroupId"] == task_sg.id]
    assert rules, f"{env} tasks admit nothing: the load balancer cannot reach them"
    for rule in rules:
        assert rule.get("referencedSecurityGroupId") == alb_sg.id, f"{env} tasks admit {rule}"
        assert "cidrIpv4" not in rule and "cidrIpv6" not in rule, f"{env} tasks admit an address range"
        assert rule["fromPort"] == rule["toPort"] == 8080, f"{env} tasks admit ports other than 8080"
    assert not any(
        sg.inputs.get("ingress")
        for sg in dev_program.of_type("aws:ec2/securityGroup:SecurityGroup")
        if sg.name.startswith("serving-")
    ), "inline ingress rules would bypass the checks above"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_load_balancer_sends_requests_only_to_tasks_with_a_loaded_model(
    dev_program: Program, env: str
) -> None:
    target_group = _of(dev_program, "aws:lb/targetGroup:TargetGroup", env, "tg").inputs
    assert target_group["targetType"] == "ip", "Fargate tasks register by IP"
    assert target_group["healthCheck"]["path"] == "/ready", (
        f"{env} target group checks {target_group['healthCheck'].get('path')}, not /ready"
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_has_its_own_hardened_internal_load_balancer(dev_program: Program, env: str) -> None:
    """Issue 29: private by default; an internal ALB's nodes have private addresses only."""
    alb = _of(dev_program, "aws:lb/loadBalancer:LoadBalancer", env, "alb").inputs
    assert alb["internal"] is True, f"{env} load balancer faces the internet without publicEndpoint"
    assert alb["subnets"] == dev_program.outputs["privateSubnetIds"], f"{env}: {alb['subnets']}"
    assert alb["dropInvalidHeaderFields"] is True, f"{env} ALB passes malformed headers on"
    # The access-log bucket policy admits delivery to alb/AWSLogs/<account>/ only.
    assert alb["accessLogs"] == {
        "bucket": dev_program.outputs["accessLogBucket"],
        "prefix": "alb",
        "enabled": True,
    }, f"{env} ALB access logs: {alb['accessLogs']}"


def test_without_a_certificate_load_balancers_serve_http_only(dev_program: Program) -> None:
    listeners = dev_program.of_type(LISTENER)
    # Each environment's test listener (port 9000) is HTTP too: see test_deployment.py.
    assert sorted((r.name, r.inputs["protocol"], r.inputs["port"]) for r in listeners) == [
        ("serving-prod-http", "HTTP", 80),
        ("serving-prod-test", "HTTP", 9000),
        ("serving-stage-http", "HTTP", 80),
        ("serving-stage-test", "HTTP", 9000),
    ]
    assert all(r.inputs["defaultActions"][0]["type"] == "forward" for r in listeners)
    assert {r.inputs["fromPort"] for r in dev_program.of_type(INGRESS_RULE) if "-alb-in-" in r.name} == {
        80,
        9000,
    }, "the load balancers admit a port no listener serves"
    for env in ENVIRONMENTS:
        assert dev_program.outputs[f"{env}Url"].startswith("http://serving-")


def test_with_a_certificate_http_redirects_to_https(https_program: Program) -> None:
    for env in ENVIRONMENTS:
        http = _of(https_program, LISTENER, env, "http").inputs
        https = _of(https_program, LISTENER, env, "https").inputs
        assert http["defaultActions"][0]["type"] == "redirect", f"{env} HTTP listener serves plain text"
        assert http["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"
        assert https["protocol"] == "HTTPS" and https["port"] == 443
        assert https["certificateArn"] == CERTIFICATE, (
            f"{env} HTTPS listener uses {https.get('certificateArn')}"
        )
        assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13"), f"{env}: {https['sslPolicy']}"
        assert https["defaultActions"][0]["type"] == "forward"
        assert https_program.outputs[f"{env}Url"].startswith("https://"), https_program.outputs[f"{env}Url"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_alarm_reaches_on_call_when_it_fires_and_when_it_clears(dev_program: Program, env: str) -> None:
    topic = dev_program.outputs["alertsTopicArn"]
    alarms = {
        r.name.removeprefix(f"serving-{env}-"): r.inputs
        for r in dev_program.of_type(ALARM)
        if r.name.startswith(f"serving-{env}-")
    }
    assert set(alarms) == {
        *ROLLBACK_ALARMS,
        "unhealthy-hosts",
        "tasks-below-desired",
        *("dropped-log-lines", "mean-probability", "model-versions"),
    }, alarms
    for name, alarm in alarms.items():
        assert alarm["alarmActions"] == [topic], f"{env} {name} alarm does not notify the alerts topic"
        assert alarm["okActions"] == [topic], f"{env} {name} alarm does not say when it clears"


def _queried_metrics(alarm: dict[str, Any]) -> set[str]:
    return {q["metric"]["metricName"] for q in alarm.get("metricQueries", []) if "metric" in q}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_alarms_watch_error_rate_latency_and_task_health(dev_program: Program, env: str) -> None:
    error_rate = _of(dev_program, ALARM, env, "5xx-rate").inputs
    assert _queried_metrics(error_rate) == {"HTTPCode_Target_5XX_Count", "RequestCount"}
    latency = _of(dev_program, ALARM, env, "p99-latency").inputs
    assert (latency["metricName"], latency["extendedStatistic"]) == ("TargetResponseTime", "p99")
    unhealthy = _of(dev_program, ALARM, env, "unhealthy-hosts").inputs
    assert (_queried_metrics(unhealthy), unhealthy["threshold"]) == ({"UnHealthyHostCount"}, 0)
    # Either target group may hold the running revision: both are counted.
    groups = {q["metric"]["dimensions"]["TargetGroup"] for q in unhealthy["metricQueries"] if "metric" in q}
    names = {
        _of(dev_program, "aws:lb/targetGroup:TargetGroup", env, n).inputs["name"]
        for n in ("tg", "tg-alternate")
    }
    assert {g.split("/")[1] for g in groups} == names, groups
    tasks = _of(dev_program, ALARM, env, "tasks-below-desired").inputs
    assert _queried_metrics(tasks) == {"RunningTaskCount", "DesiredTaskCount"}
    dimensions = tasks["metricQueries"][0]["metric"]["dimensions"]
    assert dimensions["ServiceName"] == dev_program.outputs[f"{env}ServiceName"], dimensions


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_task_role_writes_prediction_logs_only_under_its_environment_prefix(
    dev_program: Program, env: str
) -> None:
    (document,) = [d for r, d in _serving_policies(dev_program) if r.name == f"serving-{env}-task"]
    bucket_arn = f"arn:aws:s3:::{dev_program.outputs['predictionLogBucket']}"
    granted = {
        (action, resource)
        for statement in _statements(document)
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }
    metrics_logs = dev_program.one("aws:cloudwatch/logGroup:LogGroup", f"serving-{env}-metrics-logs")
    metrics_arn = metrics_logs.state["arn"]
    assert granted == {
        ("s3:PutObject", f"{bucket_arn}/predictions/{env}/*"),
        ("kms:GenerateDataKey", dev_program.outputs["kmsKeyArn"]),
        # The metrics collector's EMF exporter, on this environment's metrics log group only.
        ("logs:CreateLogStream", f"{metrics_arn}:log-stream:*"),
        ("logs:PutLogEvents", f"{metrics_arn}:log-stream:*"),
        ("logs:DescribeLogStreams", metrics_arn),
        ("logs:DescribeLogStreams", f"{metrics_arn}:*"),
    }, f"{env} task role grants {sorted(granted)}"


def test_each_serving_role_is_assumable_only_by_the_service_that_acts_with_it(dev_program: Program) -> None:
    principals = {
        "task": "ecs-tasks.amazonaws.com",
        "execution": "ecs-tasks.amazonaws.com",
        "smoke-hook": "lambda.amazonaws.com",
        # "Permissions required for Lambda functions in Amazon ECS blue/green deployments".
        "deployments": "ecs.amazonaws.com",
    }
    trusts = _serving_policies(dev_program, "assumeRolePolicy")
    assert {r.name for r, _ in trusts} == {f"serving-{env}-{role}" for env in ENVIRONMENTS for role in ROLES}
    for resource, document in trusts:
        principal = principals[resource.name.split("-", 2)[2]]
        for statement in _statements(document):
            assert statement["Principal"] == {"Service": [principal]}, resource.name
            assert statement["Action"] in ("sts:AssumeRole", ["sts:AssumeRole"]), resource.name


def test_execution_role_pulls_only_the_service_image(dev_program: Program) -> None:
    repo_arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{generated_name('images-service')}"
    for env in ENVIRONMENTS:
        (document,) = [d for r, d in _serving_policies(dev_program) if r.name == f"serving-{env}-execution"]
        pulls = [s for s in _statements(document) if "ecr:BatchGetImage" in _as_list(s["Action"])]
        assert [s["Resource"] for s in pulls] == [repo_arn], f"{env} pulls from {pulls}"


def test_serving_policies_pass_parliament_and_name_their_resources(dev_program: Program) -> None:
    policies = _serving_policies(dev_program)
    assert len(policies) == len(ROLES) * len(ENVIRONMENTS), f"one policy per role and environment: {policies}"
    for resource, document in policies:
        unexpected = iam_lint.findings(document, star_only_actions=STAR_ONLY_ACTIONS)
        assert not unexpected, f"{resource.name}: parliament finds {unexpected}"
        for statement in _statements(document):
            assert statement.get("Sid"), f"{resource.name}: a statement has no Sid: {statement}"
            if statement["Resource"] == "*":
                assert set(_as_list(statement["Action"])) <= STAR_ONLY_ACTIONS, (
                    f"{resource.name}: {statement['Sid']} grants {statement['Action']} on '*'"
                )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_service_container_is_the_one_the_pipeline_deploys(dev_program: Program, env: str) -> None:
    assert _container(dev_program, env)["name"] == CONTAINER_NAME
    (balanced,) = _service(dev_program, env).inputs["loadBalancers"]
    assert balanced["containerName"] == CONTAINER_NAME, f"{env} ALB targets {balanced['containerName']}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_first_task_definition_is_deployable_before_any_pipeline_run(dev_program: Program, env: str) -> None:
    container = _container(dev_program, env)
    assert container["image"] == f"{dev_program.outputs['serviceRepositoryUrl']}:bootstrap"
    environment = {v["name"]: v["value"] for v in container["environment"]}
    assert environment == {
        "ENVIRONMENT": env,
        "LOG_BUCKET": dev_program.outputs["predictionLogBucket"],
        # The root prefix: the service itself writes under predictions/<ENVIRONMENT>/.
        "LOG_PREFIX": "predictions/",
        "WEB_CONCURRENCY": "1",
        "AWS_REGION": REGION,
        "PORT": "8080",
    }, f"{env} container environment: {environment}"
    assert container["portMappings"][0]["containerPort"] == 8080
    probe = " ".join(container["healthCheck"]["command"])
    assert probe.startswith("CMD python -c") and "http://127.0.0.1:8080/health" in probe, probe


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stopping_a_task_leaves_time_to_flush_prediction_logs(dev_program: Program, env: str) -> None:
    flush = ServiceSettings.default("log_shutdown_timeout_seconds")
    stop_timeout = _container(dev_program, env)["stopTimeout"]
    assert stop_timeout > flush + 10, f"{env}: {stop_timeout}s to stop, the log flush alone may take {flush}s"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_service_logs_are_encrypted_and_expire(dev_program: Program, env: str) -> None:
    log_group = _of(dev_program, "aws:cloudwatch/logGroup:LogGroup", env, "logs").inputs
    assert log_group["kmsKeyId"] == dev_program.outputs["kmsKeyArn"], f"{env} logs not under the stack key"
    assert log_group["retentionInDays"] == 14, f"{env} logs kept {log_group.get('retentionInDays')} days"
    logging = _container(dev_program, env)["logConfiguration"]
    assert logging["logDriver"] == "awslogs"
    assert logging["options"]["awslogs-group"] == generated_name(f"serving-{env}-logs")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_task_size_comes_from_the_environments_config(dev_program: Program, env: str) -> None:
    expected = {"stage": ("512", "1024"), "prod": ("1024", "2048")}[env]
    task = _of(dev_program, TASK_DEFINITION, env, "task").inputs
    assert (task["cpu"], task["memory"]) == expected, f"{env} task is {task['cpu']}/{task['memory']}"
    assert task["family"] == f"ml-deploy-dev-{env}"


def test_cluster_has_container_insights_for_the_task_count_alarms(dev_program: Program) -> None:
    cluster = dev_program.one("aws:ecs/cluster:Cluster").inputs
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"], cluster


def test_dashboard_shows_both_environments(dev_program: Program) -> None:
    dashboard = dev_program.one("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dashboard.inputs["dashboardBody"])
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    for env in ENVIRONMENTS:
        assert any(t.startswith(f"{env}: requests") for t in titles), f"no {env} request widget: {titles}"
    text = json.dumps(body)
    for metric in (
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",
        "UnHealthyHostCount",
        "RunningTaskCount",
    ):
        assert text.count(metric) >= 2, f"dashboard lacks {metric} for both environments"
    assert dev_program.outputs["dashboardName"] == dashboard.inputs["dashboardName"]


def test_serving_outputs_are_exported(dev_program: Program) -> None:
    expected = {
        "stageUrl",
        "prodUrl",
        "clusterName",
        "stageServiceName",
        "prodServiceName",
        "dashboardName",
    }
    missing = expected - set(dev_program.outputs)
    assert not missing, f"stack outputs lack {missing}"
    assert dev_program.outputs["prodServiceName"] != dev_program.outputs["stageServiceName"]


def test_serving_uses_no_deprecated_resources_or_arguments(dev_program: Program) -> None:
    deprecated = [w for w in dev_program.warnings if "is deprecated" in w]
    assert not deprecated, deprecated


def test_log_retention_must_be_a_period_cloudwatch_accepts() -> None:
    with pytest.raises(
        ConfigError, match="ml-deploy:serviceLogRetentionDays must be a CloudWatch Logs retention period"
    ):
        run_program(overrides={"ml-deploy:serviceLogRetentionDays": 10})


def test_serving_resources_carry_the_serving_component_tags(dev_program: Program) -> None:
    untagged = [
        r.name
        for r in dev_program.resources
        if r.type.startswith("aws:") and r.name.startswith("serving") and r.provider != "aws-serving"
    ]
    assert not untagged, f"not created under the serving provider (no component tags): {untagged}"


# --- issue 15: a first deploy on a fresh account ---------------------------------------------

SCALING_TARGET = "aws:appautoscaling/target:Target"
# RegisterScalableTarget, Application Auto Scaling API reference: what makes a new minimum reach
# a service whose desired count Pulumi ignores.
# https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html
REGISTER_SCALABLE_TARGET = (
    "If the specified resource is not active in the target service, this operation does not "
    "change the resource's current capacity. Otherwise, it changes the resource's current "
    "capacity to a value that is inside of this range."
)


def _capacity(program: Program, env: str) -> tuple[int, int]:
    target = program.one(SCALING_TARGET, f"serving-{env}-scaling").inputs
    return target["minCapacity"], target["maxCapacity"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_until_images_are_published_no_task_pulls_the_unpushed_image(dev_program: Program, env: str) -> None:
    """A fresh account before the first pipeline run: ECR lists no image in the service repository."""
    assert _service(dev_program, env).inputs["desiredCount"] == 0, (
        f"{env} starts tasks on <repo>:bootstrap, which nothing has pushed: they crash-loop on the pull"
    )
    assert _capacity(dev_program, env) == (0, 0), (
        f"{env} autoscaling may start tasks before an image exists: {_capacity(dev_program, env)}"
    )


def test_only_a_tagged_service_image_starts_tasks() -> None:
    """ListImages (the aws_ecr_images data source) lists untagged images too, and an empty list for
    a new repository (terraform-provider-aws internal/service/ecr/images_data_source.go); an
    untagged image is an interrupted push that no task can pull by tag, and the jobs image alone
    says nothing about the service's."""
    jobs = generated_name("images-jobs")
    for images in ({generated_name("images-service"): [""]}, {jobs: FIRST_BUILD_IMAGES[jobs]}):
        program = run_program(images=images)
        for env in ENVIRONMENTS:
            assert _capacity(program, env) == (0, 0), f"{env} scales up with only {images} in ECR"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_publishing_images_starts_the_configured_tasks_on_the_running_service(
    dev_program: Program, published_program: Program, env: str
) -> None:
    """The service ignores desiredCount, so the count is raised through the scalable target."""
    assert "in the target service" in REGISTER_SCALABLE_TARGET  # the documented behaviour relied on
    bounds = {"stage": (1, 2), "prod": (2, 4)}[env]  # Pulumi.dev.yaml stage/prod min/maxCount
    assert _capacity(published_program, env) == bounds, f"{env} scales {_capacity(published_program, env)}"
    assert "desiredCount" in _service(published_program, env).ignore_changes
    # The same scalable target (name, hence URN) is updated in place, not a new one beside it.
    assert {r.name for r in dev_program.of_type(SCALING_TARGET)} == {
        r.name for r in published_program.of_type(SCALING_TARGET)
    }
    assert _service(published_program, env).inputs["desiredCount"] == bounds[0]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_an_internet_facing_load_balancer_waits_for_the_internet_gateway_and_the_log_bucket_policy(
    public_program: Program, env: str
) -> None:
    """CreateLoadBalancer fails on a VPC without an internet gateway, and with access logs
    on, on a bucket whose policy does not yet admit ELB ("Access Denied for bucket")."""
    program = public_program
    alb = _of(program, "aws:lb/loadBalancer:LoadBalancer", env, "alb")
    required = [
        program.one("aws:ec2/internetGateway:InternetGateway"),
        program.one("aws:ec2/routeTable:RouteTable", "net-public"),
        *[
            r
            for r in program.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
            if r.name.startswith("net-public-")
        ],
        program.one("aws:s3/bucketPolicy:BucketPolicy", "ml-access-logs"),
    ]
    missing = [r.name for r in required if not program.depends_explicitly_on(alb, r)]
    assert not missing, f"{env} load balancer may be created before {missing}: depends on {alb.depends_on}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_an_internal_load_balancer_waits_for_the_log_bucket_policy_only(
    dev_program: Program, env: str
) -> None:
    """An internal ALB needs no internet gateway: it is not held back by one."""
    alb = _of(dev_program, "aws:lb/loadBalancer:LoadBalancer", env, "alb")
    policy = dev_program.one("aws:s3/bucketPolicy:BucketPolicy", "ml-access-logs")
    assert dev_program.depends_explicitly_on(alb, policy), f"{env}: {alb.depends_on}"
    gateway = dev_program.one("aws:ec2/internetGateway:InternetGateway")
    assert not dev_program.depends_explicitly_on(alb, gateway), f"{env}: {alb.depends_on}"


def test_load_balancer_in_an_existing_vpc_still_waits_for_the_log_bucket_policy(
    existing_vpc_program: Program,
) -> None:
    program = existing_vpc_program
    policy = program.one("aws:s3/bucketPolicy:BucketPolicy", "ml-access-logs")
    for env in ENVIRONMENTS:
        alb = _of(program, "aws:lb/loadBalancer:LoadBalancer", env, "alb")
        assert program.depends_explicitly_on(alb, policy), f"{env}: {alb.depends_on}"


def test_load_balancers_admit_clients_only_from_the_vpc_and_the_configured_cidrs() -> None:
    """Issue 29: an internal load balancer admits its VPC, and the peered or VPN ranges named."""
    cidrs = ["172.20.0.0/16", "192.168.8.0/24"]
    program = run_program(
        overrides={"ml-deploy:ingressCidrs": cidrs, "ml-deploy:certificateArn": CERTIFICATE}
    )
    vpc_cidr = program.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"]
    for env in ENVIRONMENTS:
        alb_sg = _of(program, "aws:ec2/securityGroup:SecurityGroup", env, "alb")
        admitted = sorted(
            (r.inputs["fromPort"], r.inputs["cidrIpv4"])
            for r in program.of_type(INGRESS_RULE)
            if r.inputs["securityGroupId"] == alb_sg.id and r.inputs["fromPort"] != 9000  # the test port
        )
        assert admitted == sorted((port, cidr) for port in (80, 443) for cidr in [vpc_cidr, *cidrs]), (
            f"{env} load balancer admits {admitted}"
        )
    # The first block keeps the name the single internet-wide rule had: no replacement on upgrade.
    assert program.one(INGRESS_RULE, "serving-prod-alb-in-443").inputs["cidrIpv4"] == cidrs[0]


@pytest.fixture(scope="module")
def port_9000_program() -> Program:
    return run_program(overrides={"ml-deploy:containerPort": 9000})


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_container_port_reaches_the_server_its_health_check_and_the_load_balancer(
    port_9000_program: Program, env: str
) -> None:
    program = port_9000_program
    container = _container(program, env)
    variables = {v["name"]: v["value"] for v in container["environment"]}
    assert ServiceSettings.from_env(variables).port == 9000, (
        f"{env}: the server listens on {ServiceSettings.from_env(variables).port}, not containerPort 9000"
    )
    assert container["portMappings"] == [{"containerPort": 9000, "protocol": "tcp"}]
    assert "http://127.0.0.1:9000/health" in " ".join(container["healthCheck"]["command"])
    assert _of(program, "aws:lb/targetGroup:TargetGroup", env, "tg").inputs["port"] == 9000
    (balanced,) = _service(program, env).inputs["loadBalancers"]
    assert balanced["containerPort"] == 9000
    task_sg = _of(program, "aws:ec2/securityGroup:SecurityGroup", env, "tasks")
    (rule,) = [r.inputs for r in program.of_type(INGRESS_RULE) if r.inputs["securityGroupId"] == task_sg.id]
    assert rule["fromPort"] == rule["toPort"] == 9000
