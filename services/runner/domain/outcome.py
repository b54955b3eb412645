"""How a job ended, from what the executor saw: the one place that names failures (pure).

Each failure is reported as itself: ``TIMEOUT``, ``OOM`` (never "cancelled"), ``WORKER_CRASH`` with the
signal (a segfault says so), or the worker's own error. The log is always kept (it is in the job's events).
Secret values are removed from the feedback before it becomes an event.
"""

from __future__ import annotations

import json
import signal
from typing import Any
from uuid import UUID

from common import secrets
from contracts import commands
from contracts import events as ev
from contracts.base import EventData
from runner.ports import ExecutionResult


def reused(cmd: commands.RunJob, package_id: UUID, inputs_hash: str) -> ev.JobFinished:
    """Nothing the package depends on changed: finish at once and point at the last package."""
    feedback = {
        "feedback_version": "2.0",
        "workflow_id": "package_project",
        "steps": [],
        "outputs": {},
        "reused_package": str(package_id),
        "inputs_hash": inputs_hash,
    }
    return ev.JobFinished(job_id=cmd.job_id, project_id=cmd.project_id, job_type="package", feedback=feedback)


def end_event(
    cmd: commands.RunJob,
    result: ExecutionResult,
    *,
    cancelled: bool,
    memory_mb: int,
    secret_values: list[str],
) -> EventData:
    base: dict[str, Any] = {"job_id": cmd.job_id, "project_id": cmd.project_id, "job_type": cmd.job_type}
    if cancelled:
        return ev.JobCancelled(**base, cancelled_by="request", reason="The worker was stopped.")
    feedback = _clean(dict(result.feedback or {}), secret_values)
    feedback["container_exit_code"] = result.exit_code
    if (
        result.exit_code == 0
        and result.feedback is not None
        and not feedback.get("error")
        and not result.timed_out
    ):
        return ev.JobFinished(**base, feedback=feedback, exit_code=0)
    error_type, message, origin = _failure(cmd, result, feedback, memory_mb)
    feedback.update(error=message, error_type=error_type, error_origin=origin)
    return ev.JobFailed(
        **base, error=message, error_type=error_type, feedback=feedback, exit_code=result.exit_code
    )


def _failure(
    cmd: commands.RunJob, result: ExecutionResult, feedback: dict[str, Any], memory_mb: int
) -> tuple[str, str, str]:
    if result.timed_out:
        return (
            "TIMEOUT",
            f"Timeout error! The job failed to finish within {int(cmd.timeout_s)} seconds.",
            "runner",
        )
    if result.oom_killed:
        message = f"The worker ran out of memory: it used its whole {memory_mb} MiB and was killed."
        return "OOM", message, "runner"
    if result.exit_code is not None and result.exit_code < 0:
        name = _signal_name(-result.exit_code)
        what = " (segmentation fault)" if name == "SIGSEGV" else ""
        return "WORKER_CRASH", f"The worker crashed: killed by {name}{what}.", "runner"
    if feedback.get("error"):
        return (
            str(feedback.get("error_type") or "UNKNOWN"),
            str(feedback["error"]),
            str(feedback.get("error_origin") or "container"),
        )
    return "WORKER_CRASH", f"The worker exited with code {result.exit_code} without a result.", "runner"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _clean(feedback: dict[str, Any], secret_values: list[str]) -> dict[str, Any]:
    if not secret_values:
        return feedback
    cleaned: dict[str, Any] = json.loads(
        secrets.redact(json.dumps(feedback), [json.dumps(v)[1:-1] for v in secret_values])
    )
    return cleaned
