"""The local backend: reads and answers the pipeline run on this machine (the dev tools'
`ml_deploy_dev.delivery`, never shipped) through the typed state file both sides keep.
`LocalDelivery` implements the same `Delivery` as AWS; what needs a process is a request."""

from ml_deploy_cli.local.delivery import LocalDelivery
from ml_deploy_cli.local.state import STATE_VARIABLE, default_state_path

__all__ = ["STATE_VARIABLE", "LocalDelivery", "default_state_path"]
