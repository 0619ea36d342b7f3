"""The local backend: a pipeline run on this machine (`ml_deploy_dev.delivery`), read and answered
through the JSON state file it keeps. `LocalDelivery` implements the same `Delivery` as AWS."""

from ml_deploy_cli.local.delivery import LocalDelivery
from ml_deploy_cli.local.state import STATE_VARIABLE, default_state_path

__all__ = ["STATE_VARIABLE", "LocalDelivery", "default_state_path"]
