"""The ``noop`` executor: runs nothing and succeeds at once. For measuring the job engine itself."""

from __future__ import annotations

from runner.ports import ExecutionResult, OnMessage, WorkerSpec


class NoopExecutor:
    async def run(self, spec: WorkerSpec, on_message: OnMessage) -> ExecutionResult:
        await on_message({"kind": "step", "step_id": "noop", "name": "No-op", "stage": "started"})
        await on_message({"kind": "step", "step_id": "noop", "name": "No-op", "stage": "finished"})
        feedback = {"feedback_version": "2.0", "workflow_id": "noop", "steps": [], "outputs": {}}
        return ExecutionResult(exit_code=0, timed_out=False, feedback=feedback)
