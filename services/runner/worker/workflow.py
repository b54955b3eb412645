"""A minimal step engine producing QFieldCloud's feedback v2.

Steps run in order; the first exception stops the workflow and is recorded as ``error``,
``error_type``, ``error_class`` and ``error_stack`` so that the server can explain the failure.
Stages: 0 = not run, 1 = started or failed, 2 = done. ``outputs`` holds, for every finished step,
only the return values that step declares as outputs (what the server reads).
"""

from __future__ import annotations

import dataclasses
import traceback
import typing

from runner.worker import errors, protocol

FEEDBACK_VERSION = "2.0"
WORKFLOW_VERSION = "2.0"

StepMethod = typing.Callable[[typing.Any], "dict[str, typing.Any] | None"]


@dataclasses.dataclass(frozen=True)
class Step:
    """One unit of work; ``method(context)`` returns its named return values."""

    id: str
    name: str
    method: StepMethod
    outputs: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Workflow:
    """An ordered list of steps with the ids QFieldCloud uses."""

    id: str
    name: str
    steps: tuple[Step, ...]


def new_feedback(workflow: Workflow) -> dict[str, typing.Any]:
    """Feedback before any step ran: every step at stage 0."""
    return {
        "feedback_version": FEEDBACK_VERSION,
        "workflow_id": workflow.id,
        "workflow_name": workflow.name,
        "workflow_version": WORKFLOW_VERSION,
        "steps": [{"id": step.id, "name": step.name, "stage": 0, "returns": {}} for step in workflow.steps],
        "outputs": {},
    }


def error_fields(error: BaseException) -> dict[str, typing.Any]:
    """The error keys of the feedback, with a readable message and the traceback as a list."""
    stack = traceback.format_exception(type(error), error, error.__traceback__)
    return {
        "error": protocol.redact(str(error) or type(error).__name__),
        "error_type": errors.error_type_of(error),
        "error_class": type(error).__name__,
        "error_stack": [protocol.redact(line) for line in stack],
    }


def run_workflow(
    workflow: Workflow, context: typing.Any, reporter: protocol.Reporter
) -> dict[str, typing.Any]:
    """Run the steps, report each transition and return the feedback (with ``error`` on failure)."""
    feedback = new_feedback(workflow)
    for step, entry in zip(workflow.steps, feedback["steps"], strict=True):
        entry["stage"] = 1
        reporter.step(step.id, step.name, "started")
        try:
            returns = step.method(context) or {}
        except Exception as error:  # every failure must end up in the feedback
            reporter.step(step.id, step.name, "failed")
            feedback.update(error_fields(error))
            reporter.log(f'Step "{step.name}" failed: {feedback["error"]}')
            break
        entry["stage"] = 2
        entry["returns"] = protocol.jsonable(returns)
        feedback["outputs"][step.id] = protocol.jsonable({name: returns.get(name) for name in step.outputs})
        reporter.step(step.id, step.name, "finished")
    return feedback
