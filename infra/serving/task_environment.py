"""The model server's environment, built once for the ECS task definitions and the demo.

Built from the service's own settings model (`ml_deploy.settings`), so a variable renamed there is
renamed here, and a setting the service does not have fails the program. The program passes the
stack's log bucket (an Output) and region; `ml_deploy_dev/dev_stack.py` the local account's names.
"""

from __future__ import annotations

from typing import Any

import pulumi

from infra.serving.config import EnvironmentConfig
from ml_deploy.layout import ObjectLayout
from ml_deploy.settings import ServiceSettings, environment


def service_environment(
    *,
    environment_name: str,
    sizing: EnvironmentConfig,
    layout: ObjectLayout,
    port: int,
    log_bucket: pulumi.Input[str],
    region: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """The container's variables: the service writes under `<log prefix><environment>/` itself.

    PORT is always set (the program gives containerPort): the image's own default (8080) would
    otherwise win, and the server would listen where neither the target group nor the health
    check looks. Without a region the runtime takes its surroundings' (a local run's account).
    """
    variables = environment(
        ServiceSettings,
        port=port,
        environment=environment_name,
        log_bucket=log_bucket,
        log_prefix=layout.prediction_log_prefix,
        web_concurrency=sizing.workers,
        aws_region=region,
    )
    return {name: value for name, value in variables.items() if value is not None}
