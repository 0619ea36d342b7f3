"""What the retrain job needs to train a first bundle with the operator's credentials.

Its Batch job definition's environment, rebuilt from the stack outputs and the runtime contract,
for `ml-deploy first-model` and `ml-deploy bootstrap`.
"""

from __future__ import annotations

from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy.settings import RetrainSettings, environment
from ml_deploy_cli.outputs import StackOutputs


def first_model_environment(
    outputs: StackOutputs, *, region: str | None, code_version: str
) -> dict[str, str]:
    """What the retrain job definition would set, from the stack's outputs and the layout."""
    training = outputs.require("trainingDataBucket")
    prefix = outputs.prefix("trainingDataPrefix", DEFAULT_LAYOUT.training_data_prefix)
    values: dict[str, str] = environment(
        RetrainSettings,
        model_bucket=outputs.require("modelBucket"),
        model_key=outputs.require("modelKey"),
        model_archive_prefix=outputs.prefix("modelArchivePrefix", DEFAULT_LAYOUT.model_archive_prefix),
        decisions_prefix=outputs.decisions_prefix,
        training_data_uri=f"s3://{training}/{prefix}",
        code_version=code_version,
    )
    if region:
        values.update(environment(RetrainSettings, aws_region=region))
    return values
