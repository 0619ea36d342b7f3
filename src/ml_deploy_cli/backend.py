"""Which `Delivery` the commands talk to: the AWS stack named by its outputs, or the local run
(`--local` / ML_DEPLOY_LOCAL=1) whose state file is $ML_DEPLOY_LOCAL_STATE or `.demo/delivery/state.json`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ml_deploy_cli.aws.clients import ClientFactory, session_clients
from ml_deploy_cli.delivery import Delivery
from ml_deploy_cli.outputs import load_outputs

LOCAL_VARIABLE = "ML_DEPLOY_LOCAL"


def is_local(*, flag: bool, environ: Mapping[str, str]) -> bool:
    """--local, or ML_DEPLOY_LOCAL=1 (true, yes)."""
    return flag or environ.get(LOCAL_VARIABLE, "").lower() in ("1", "true", "yes")


def step_clients(
    *, local: bool, region: str | None, environ: Mapping[str, str], client: ClientFactory | None = None
) -> ClientFactory:
    """The clients a pipeline step (`archive-bundle`, `smoke-test-result`, ...) uses: the local AWS
    stand-in the local run names under --local, never a real account; else the session's (or `client`)."""
    if local:
        from ml_deploy_cli.local import LocalDelivery, default_state_path

        return lambda service: LocalDelivery(default_state_path(environ)).client(service)
    return client or session_clients(region)


Connect = Callable[[], Delivery]
"""Opens the backend when a command first needs it (after checking its own arguments)."""


def connector(
    *,
    local: bool,
    outputs: Path | None,
    stack: str | None,
    region: str | None,
    environ: Mapping[str, str],
    client: ClientFactory | None = None,
) -> Connect:
    """How to reach the stack; `client` replaces boto3's clients (tests pass moto or Stubber ones)."""

    def connect() -> Delivery:
        # Each backend is imported here: a pipeline step or --help never opens one.
        if is_local(flag=local, environ=environ):
            from ml_deploy_cli.local import LocalDelivery, default_state_path

            return LocalDelivery(default_state_path(environ))
        from ml_deploy_cli.aws.delivery import AwsDelivery

        stack_outputs = load_outputs(outputs, environ=environ, stack=stack)
        region_in_use = region or stack_outputs.region
        return AwsDelivery(
            stack_outputs, client=client or session_clients(region_in_use), region=region_in_use
        )

    return connect
