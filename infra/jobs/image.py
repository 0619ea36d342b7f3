"""Which jobs image the job definitions run: one record, the SSM parameter both writers read.

Two writers register revisions of the retrain and monitor definitions: `pulumi up` (any change
to the container properties) and the pipeline's PromoteJobs stage (a new image). The provider
reads a definition by its ARN, so it never sees the revisions PromoteJobs adds; were the image
a stack setting, a settings change would register a revision with an older image that becomes
the latest ACTIVE one, the one the schedules and the monitor submit by name. So the image tag
lives in one place: this parameter. The stack creates it, seeded with ``jobsImageTag``, and
never writes it again (``ignore_changes``); PromoteJobs overwrites it before it registers its
revisions; the program reads it at every `pulumi up` (the aws_ssm_parameter data source, an
output-form invoke that waits for the parameter on the first run) and builds the definitions
from it, so a revision `pulumi up` registers runs the image PromoteJobs last recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.section import check_image_tag

# The engine's name for the value input: Pulumi owns the parameter, PromoteJobs its value.
PROMOTED_VALUE_INPUTS = ["insecureValue"]


@dataclass(frozen=True)
class PromotedImage:
    """The parameter holding the jobs image tag, and the tag it holds at this `pulumi up`."""

    parameter: aws.ssm.Parameter
    tag: pulumi.Output[str]


def promoted_jobs_image(name: str, *, seed_tag: str, parent: pulumi.Resource) -> PromotedImage:
    """`<name>-image-tag`: a plain String parameter (an image tag is no secret, so no KMS grant)."""
    parameter = aws.ssm.Parameter(
        f"{name}-image-tag",
        type="String",
        insecure_value=seed_tag,
        description="Jobs image tag the job definitions run; written by the pipeline's PromoteJobs stage",
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=PROMOTED_VALUE_INPUTS),
    )
    read = aws.ssm.get_parameter_output(name=parameter.name, opts=pulumi.InvokeOutputOptions(parent=parent))
    return PromotedImage(parameter=parameter, tag=read.apply(_checked))


def _checked(read: aws.ssm.GetParameterResult) -> str:
    name, value = read.name, read.insecure_value
    try:
        return check_image_tag(value)
    except ValueError as error:
        raise ValueError(
            f"SSM parameter {name} (the promoted jobs image tag) holds {value!r}: {error}; "
            "PromoteJobs writes the tag it promoted; `aws ssm put-parameter --overwrite` sets one by hand"
        ) from None
