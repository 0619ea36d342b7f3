"""Both job roles may regenerate prod's model-tracking dashboard, and nothing more for it
(infra/jobs/dashboard_access.py): read the run history, events and decisions, write one page,
and list the pipeline's own action history. Sufficiency is proven in tests/enforcement/."""

from __future__ import annotations

import pytest

from ml_deploy_dev.program import ACCOUNT, REGION, Program
from tests.infra.jobs.test_component import as_list, statements

LOGS = "arn:aws:s3:::ml-prediction-logs-0a1b2c3"
MODELS = "arn:aws:s3:::ml-models-0a1b2c3"
ROLES = ["jobs-monitor", "jobs-quality"]


def _by_sid(program: Program, role: str) -> dict[str, dict[str, object]]:
    return {s["Sid"]: s for s in statements(program, role)}


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_reads_only_the_run_history_events_and_decisions(
    dev_program: Program, role: str
) -> None:
    found = _by_sid(dev_program, role)
    assert sorted(as_list(found["ReadDashboardHistory"]["Resource"])) == [
        f"{LOGS}/reports/dt=*/quality.json",
        f"{LOGS}/reports/dt=*/report.json",
        f"{LOGS}/reports/events/*",
    ], f"{role} may read more than the runs' JSON reports and the events"
    assert found["ListDashboardHistory"]["Resource"] == LOGS
    assert found["ListDashboardHistory"]["Condition"] == {
        "StringLike": {"s3:prefix": ["reports/dt=*", "reports/events/*"]}
    }
    assert found["ReadRetrainDecisions"]["Resource"] == f"{MODELS}/retrain/decisions/*"
    assert found["ListRetrainDecisions"]["Condition"] == {
        "StringLike": {"s3:prefix": ["retrain/decisions/*"]}
    }


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_writes_only_prods_page(dev_program: Program, role: str) -> None:
    written = _by_sid(dev_program, role)["WriteThisEnvironmentsDashboard"]
    assert (written["Action"], written["Resource"]) == (
        "s3:PutObject",
        f"{LOGS}/reports/dashboard/prod/index.html",
    )


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_lists_the_action_history_of_this_stacks_pipeline_only(
    dev_program: Program, role: str
) -> None:
    pipeline = dev_program.one("aws:codepipeline/pipeline:Pipeline")
    expected = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{pipeline.state['name']}"
    [granted] = [s for s in statements(dev_program, role) if "codepipeline" in str(s["Action"])]
    assert (granted["Action"], granted["Resource"]) == ("codepipeline:ListActionExecutions", expected), (
        granted
    )
    assert pipeline.state.get("arn", expected) == expected, (
        f"the mocks' pipeline ARN is {pipeline.state['arn']}"
    )
