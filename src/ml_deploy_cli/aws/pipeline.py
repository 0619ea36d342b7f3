"""The CodePipeline side: where executions are, and answering the manual approval.

An approval waits when an action's latest execution is InProgress and carries a token (only
manual-approval actions get one); PutApprovalResult needs that token, the stage and the action,
all read from GetPipelineState, so the CLI does not hard-code the approval's names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy_cli.aws.executions import Executions
from ml_deploy_cli.delivery import ApprovalAnswer, PendingApproval, PipelineState, StageRun
from ml_deploy_cli.errors import CliError


class Pipeline:
    """One pipeline's state and approvals."""

    def __init__(self, codepipeline: Any, *, name: str, executions: Executions) -> None:
        self._codepipeline = codepipeline
        self._name = name
        self._executions = executions

    def state(self) -> PipelineState:
        response = self._codepipeline.get_pipeline_state(name=self._name)
        stages: list[StageRun] = []
        approvals: list[PendingApproval] = []
        for stage in response.get("stageStates", []):
            latest = stage.get("latestExecution")
            if not latest:
                continue
            stages.append(StageRun(stage["stageName"], latest["pipelineExecutionId"], latest["status"]))
            for action in stage.get("actionStates", []):
                execution = action.get("latestExecution", {})
                if execution.get("status") == "InProgress" and execution.get("token"):
                    approvals.append(
                        PendingApproval(
                            execution_id=latest["pipelineExecutionId"],
                            stage=stage["stageName"],
                            action=action["actionName"],
                            token=execution["token"],
                            since=execution.get("lastStatusChange"),
                            facts=self._executions.facts(latest["pipelineExecutionId"]),
                        )
                    )
        return PipelineState(pipeline=self._name, stages=stages, approvals=approvals)

    def answer(self, *, approve: bool, comment: str, execution_id: str | None) -> ApprovalAnswer:
        waiting = self._waiting(self.state().approvals, execution_id)
        try:
            response = self._codepipeline.put_approval_result(
                pipelineName=self._name,
                stageName=waiting.stage,
                actionName=waiting.action,
                result={"summary": comment, "status": "Approved" if approve else "Rejected"},
                token=waiting.token,
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            # InvalidApprovalTokenException: "already received a response or has expired" (the API
            # reference); an approval expires after 7 days unanswered.
            if code in ("ApprovalAlreadyCompletedException", "InvalidApprovalTokenException"):
                raise CliError(
                    f"the approval of execution {waiting.execution_id} expired or was answered meanwhile "
                    f"({code}); run `ml-deploy status` to see where it is, `ml-deploy release` to start again"
                ) from None
            raise
        return ApprovalAnswer(
            execution_id=waiting.execution_id,
            approved=approve,
            facts=waiting.facts,
            answered_at=response.get("approvedAt"),
        )

    def retry(self, execution_id: str | None) -> StageRun:
        """Retry the failed actions of the failed stage (of `execution_id`, else the one failed stage).

        RetryStageExecution retries a stage of the pipeline's latest execution in that stage only
        (NotLatestPipelineExecutionException otherwise), with retryMode FAILED_ACTIONS.
        """
        failed = [
            run
            for run in self.state().stages
            if run.status == "Failed" and execution_id in (None, run.execution_id)
        ]
        if not failed:
            which = f"execution {execution_id} has" if execution_id else "no execution has"
            raise CliError(
                f"{which} a failed stage to retry in pipeline {self._name} (see `ml-deploy status`)"
            )
        if len(failed) > 1:
            ids = ", ".join(f"{run.stage} of {run.execution_id}" for run in failed)
            raise CliError(f"several stages failed ({ids}); name the execution with --execution")
        (run,) = failed
        try:
            self._codepipeline.retry_stage_execution(
                pipelineName=self._name,
                stageName=run.stage,
                pipelineExecutionId=run.execution_id,
                retryMode="FAILED_ACTIONS",
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("StageNotRetryableException", "NotLatestPipelineExecutionException"):
                raise CliError(
                    f"{run.stage} of execution {run.execution_id} cannot be retried ({code}); "
                    "start a new execution with `ml-deploy release`"
                ) from None
            raise
        return run

    def release(self) -> str:
        """StartPipelineExecution: a new execution from the sources' current revisions (the console's
        "Release change")."""
        response = self._codepipeline.start_pipeline_execution(name=self._name)
        return str(response["pipelineExecutionId"])

    def _waiting(self, approvals: Sequence[PendingApproval], execution_id: str | None) -> PendingApproval:
        if execution_id is None:
            if not approvals:
                raise CliError(f"nothing waits for approval in pipeline {self._name}")
            if len(approvals) > 1:
                ids = ", ".join(a.execution_id for a in approvals)
                raise CliError(f"several approvals wait ({ids}); name one with --execution")
            return approvals[0]
        for approval in approvals:
            if approval.execution_id == execution_id:
                return approval
        status = self._execution_status(execution_id)
        others = ", ".join(a.execution_id for a in approvals)
        waiting = f"the one waiting is {others}" if others else "nothing waits for approval"
        raise CliError(f"execution {execution_id} does not wait for approval (it is {status}); {waiting}")

    def _execution_status(self, execution_id: str) -> str:
        try:
            response = self._codepipeline.get_pipeline_execution(
                pipelineName=self._name, pipelineExecutionId=execution_id
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "PipelineExecutionNotFoundException":
                raise CliError(f"pipeline {self._name} has no execution {execution_id}") from None
            raise
        return str(response["pipelineExecution"].get("status", "unknown"))
