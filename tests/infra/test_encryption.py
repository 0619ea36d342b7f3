"""The stack key lets every publisher of our encrypted topics encrypt, as the SNS guide says it must.

Who publishes is read from the program (alarm actions, rule targets, notification rules, the
approval action); how each publisher reaches the key, and which condition keys its KMS request
carries, is the guide's (`TOPIC_PUBLISHERS`, https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
An over-conditioned key-policy statement (aws:SourceAccount for EventBridge) loses every message
without an error anywhere, so only a test of the rendered policy can catch it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from ml_deploy_dev.program import ACCOUNT, REGION, Program
from tests.enforcement.policy_eval import Request, evaluate
from tests.infra.documented_permissions import KMS_TOPIC_ACTIONS, SNS_KEY_MANAGEMENT, TOPIC_PUBLISHERS
from tests.infra.pipeline_program import action
from tests.infra.rendered_roles import role_policy

TOPIC = "aws:sns/topic:Topic"
OTHER_ACCOUNT = "999999999999"


def as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def topic_publishers(program: Program) -> Iterator[tuple[str, str, str]]:
    """(publisher kind, topic ARN, ARN of what publishes) for every publisher the program wires."""
    topics = {str(t.state["arn"]) for t in program.of_type(TOPIC)}
    for alarm in program.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        source = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm.state['name']}"
        for key in ("alarmActions", "okActions", "insufficientDataActions"):
            for arn in alarm.inputs.get(key) or []:
                if arn in topics:
                    yield "alarm", arn, source
    rules = {r.state["name"]: r for r in program.of_type("aws:cloudwatch/eventRule:EventRule")}
    for target in program.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        if target.inputs["arn"] in topics:
            source = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rules[target.inputs['rule']].state['name']}"
            yield "rule", target.inputs["arn"], source
    for rule in program.of_type("aws:codestarnotifications/notificationRule:NotificationRule"):
        for target in rule.inputs.get("targets") or []:
            yield "notification-rule", target["address"], str(rule.state["arn"])
    approval = action(program, "Approve")
    yield (
        "manual-approval",
        approval["configuration"]["NotificationArn"],
        str(program.outputs["pipelineName"]),
    )


def key_policy(program: Program) -> dict[str, Any]:
    return dict(json.loads(program.one("aws:kms/key:Key").inputs["policy"]))


def topic_policy(program: Program, topic_arn: str) -> dict[str, Any]:
    (found,) = [p for p in program.of_type("aws:sns/topicPolicy:TopicPolicy") if p.inputs["arn"] == topic_arn]
    return dict(json.loads(found.inputs["policy"]))


def filled(context: Mapping[str, str], *, source: str, account: str = ACCOUNT) -> dict[str, str]:
    return {key: value.format(account=account, source=source) for key, value in context.items()}


def test_every_topic_is_encrypted_with_the_stack_key(dev_program: Program) -> None:
    key_arn = dev_program.one("aws:kms/key:Key").state["arn"]
    for topic in dev_program.of_type(TOPIC):
        assert topic.inputs.get("kmsMasterKeyId") == key_arn, f"{topic.name} is not under the stack key"


def test_every_publisher_is_one_the_guide_covers(dev_program: Program) -> None:
    kinds = {kind for kind, _, _ in topic_publishers(dev_program)}
    assert kinds <= set(TOPIC_PUBLISHERS), (
        f"publishers without the guide's rules: {kinds - set(TOPIC_PUBLISHERS)}"
    )
    assert {"alarm", "rule", "manual-approval"} <= kinds, f"the program publishes through {kinds}"


@pytest.mark.parametrize("kms_action", KMS_TOPIC_ACTIONS)
def test_service_publishers_may_use_the_key_with_what_their_request_carries(
    dev_program: Program, kms_action: str
) -> None:
    policy, key_arn = key_policy(dev_program), dev_program.one("aws:kms/key:Key").state["arn"]
    refused = set()
    for kind, topic, source in topic_publishers(dev_program):
        publisher = TOPIC_PUBLISHERS[kind]
        if publisher.principal is None:
            continue  # publishes with an IAM role: test_role_publishers_hold_the_key_themselves
        request = Request(kms_action, key_arn, filled(publisher.key_context, source=source))
        if not evaluate(policy, request, principal=publisher.principal).allowed:
            refused.add(f"{publisher.principal} ({kind} -> {topic}) with context {dict(request.context)}")
    assert not refused, f"the key policy refuses {kms_action} ({SNS_KEY_MANAGEMENT}) to:\n  " + "\n  ".join(
        sorted(refused)
    )


@pytest.mark.parametrize("kms_action", KMS_TOPIC_ACTIONS)
def test_role_publishers_hold_the_key_themselves(dev_program: Program, kms_action: str) -> None:
    """CodePipeline's approval action publishes with the pipeline role: that role needs the key."""
    policy = role_policy(dev_program, "delivery-pipeline")
    key_arn = dev_program.one("aws:kms/key:Key").state["arn"]
    for kind, topic, _ in topic_publishers(dev_program):
        if TOPIC_PUBLISHERS[kind].principal is not None:
            continue
        via_sns = {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}
        assert evaluate(policy, Request("sns:Publish", topic)).allowed, (
            f"the pipeline role cannot publish to {topic}"
        )
        assert evaluate(policy, Request(kms_action, key_arn, via_sns)).allowed, (
            f"the pipeline role cannot {kms_action} the key of {topic} ({SNS_KEY_MANAGEMENT})"
        )


def test_key_admits_no_service_that_does_not_publish_to_our_topics(dev_program: Program) -> None:
    used = {TOPIC_PUBLISHERS[kind].principal for kind, _, _ in topic_publishers(dev_program)}
    admitted = {
        service
        for statement in key_policy(dev_program)["Statement"]
        if isinstance(statement.get("Principal"), dict)
        for service in as_list(statement["Principal"].get("Service", []))
    }
    unexpected = admitted - used - {f"logs.{REGION}.amazonaws.com"}
    assert not unexpected, f"the key policy admits services that publish to none of our topics: {unexpected}"


def test_conditions_stay_where_the_guide_supports_them(dev_program: Program) -> None:
    """CloudWatch's KMS request carries aws:SourceAccount: an alarm of another account is refused."""
    policy, key_arn = key_policy(dev_program), dev_program.one("aws:kms/key:Key").state["arn"]
    alarm = TOPIC_PUBLISHERS["alarm"]
    assert alarm.principal is not None
    source = f"arn:aws:cloudwatch:{REGION}:{OTHER_ACCOUNT}:alarm:theirs"
    foreign = Request(
        "kms:GenerateDataKey", key_arn, filled(alarm.key_context, source=source, account=OTHER_ACCOUNT)
    )
    decision = evaluate(policy, foreign, principal=alarm.principal)
    assert not decision.allowed, f"another account's alarms may use the key: {decision.allowed_by}"


def test_topic_policies_let_each_publisher_publish(dev_program: Program) -> None:
    refused = []
    for kind, topic, source in topic_publishers(dev_program):
        publisher = TOPIC_PUBLISHERS[kind]
        if publisher.principal is None:
            continue  # the pipeline role is named in the approval topic's policy; see test_pipeline
        request = Request("sns:Publish", topic, filled(publisher.publish_context, source=source))
        if not evaluate(topic_policy(dev_program, topic), request, principal=publisher.principal).allowed:
            refused.append(f"{publisher.principal} ({source}) -> {topic}")
    assert not refused, "topic policies refuse:\n  " + "\n  ".join(refused)
