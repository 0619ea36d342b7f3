"""Provider default tags: every resource carries its project, stack and component."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import PROJECT_NAMESPACE, StackConfig


def stack_tags(component: str) -> dict[str, str]:
    return {
        "project": PROJECT_NAMESPACE,
        "stack": pulumi.get_stack(),
        "component": component,
        "managed-by": "pulumi",
    }


def component_options(component: str, *, config: StackConfig) -> pulumi.ResourceOptions:
    """Options for a top-level component: an AWS provider whose default tags name it.

    Children created with ``parent=self`` inherit the provider, so the tags reach every
    resource without a ``tags=`` argument on each one (and without a transform that would
    have to know which resource types accept tags).
    """
    provider = aws.Provider(
        f"aws-{component}",
        region=config.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=stack_tags(component)),
    )
    return pulumi.ResourceOptions(providers={"aws": provider})
