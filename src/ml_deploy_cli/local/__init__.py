"""The local backend: reads and answers the pipeline run on this machine (the dev tools'
`ml_deploy_dev.delivery`, never shipped) through the typed state file both sides keep.
`LocalDelivery` implements the same `Delivery` as AWS; what needs a process is a request.

`LocalDelivery` is imported when first asked for (PEP 562), as `AwsDelivery` is: `logs` and
`run-job` import this package's state and jobs modules at every start of `ml-deploy`.
"""

from typing import TYPE_CHECKING

from ml_deploy_cli.local.state import STATE_VARIABLE, default_state_path

if TYPE_CHECKING:
    from ml_deploy_cli.local.delivery import LocalDelivery

__all__ = ["STATE_VARIABLE", "LocalDelivery", "default_state_path"]


def __getattr__(name: str) -> object:
    if name == "LocalDelivery":
        from ml_deploy_cli.local.delivery import LocalDelivery

        return LocalDelivery
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
