"""Text from the data is clipped, and an alert always fits what SNS accepts."""

from __future__ import annotations

from retrain_job.monitor.text import MAX_NAME_CHARS, SNS_MESSAGE_BYTES, clip, fit_bytes

# SNS Publish, `Message` (as the AWS SDK reference states it, e.g. https://docs.aws.amazon.com/
# sdk-for-kotlin/api/latest/sns/aws.sdk.kotlin.services.sns.model/-publish-request/message.html):
# "messages must be UTF-8 encoded strings and at most 256 KB in size (262,144 bytes, not 262,144
# characters)". https://docs.aws.amazon.com/sns/latest/dg/large-message-payloads.html: "By
# default, all existing and newly created topics have a MaximumMessageSize of 262,144 bytes".
SNS_DOCUMENTED_MESSAGE_BYTES = 262_144


def test_the_alert_limit_is_the_documented_one() -> None:
    assert SNS_MESSAGE_BYTES == SNS_DOCUMENTED_MESSAGE_BYTES


def test_a_long_alert_is_cut_to_the_byte_limit_never_inside_a_character() -> None:
    body = "drift: " + "é" * 300_000  # two bytes each: 600 KB, far over the limit
    cut = fit_bytes(body)
    assert len(cut.encode()) <= SNS_DOCUMENTED_MESSAGE_BYTES, len(cut.encode())
    assert cut.startswith("drift: éé") and "cut to fit" in cut
    assert fit_bytes("short") == "short"


def test_names_are_clipped_and_say_how_long_they_were() -> None:
    name = "x" * 10_000_000
    clipped = clip(name)
    assert len(clipped) <= MAX_NAME_CHARS and "10,000,000 chars" in clipped, clipped
    assert clip("credit_card") == "credit_card"
