"""The Pulumi-mocks harness, now in `ml_deploy_dev.program` (the local delivery reads the pipeline
through it too, and src must not import tests); re-exported under the names the infra tests use."""

from ml_deploy_dev.program import (
    ACCOUNT,
    MAIN,
    REGION,
    ROOT,
    Program,
    RecordingMocks,
    RecordingMonitor,
    Resource,
    dev_stack_config,
    render_policy_document,
    run_program,
    run_under_mocks,
)

__all__ = [
    "ACCOUNT",
    "MAIN",
    "REGION",
    "ROOT",
    "Program",
    "RecordingMocks",
    "RecordingMonitor",
    "Resource",
    "dev_stack_config",
    "render_policy_document",
    "run_program",
    "run_under_mocks",
]
