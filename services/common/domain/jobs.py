"""A job's state as a fold over its events: ``evolve(state, event) -> state``.

Status strings are QFieldCloud's (pending -> queued -> started -> finished | failed) plus ``cancelled``,
which the API shows to QFieldCloud clients as ``failed`` (ADR 0008). A retried job goes from
``started`` back to ``queued``: it keeps its project's slot while it waits for the next attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts import events as ev
from contracts.base import EventData

ACTIVE = frozenset({"queued", "started"})
WAITING = frozenset({"pending", "queued"})
TERMINAL = frozenset({"finished", "failed", "cancelled"})


@dataclass(frozen=True)
class Job:
    id: UUID
    project_id: UUID
    type: str
    status: str
    created_by: str
    created_by_id: int
    reason: str
    params: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    timeout_s: float = 600.0
    max_attempts: int = 3
    attempt: int = 0
    retry_at: datetime | None = None
    cancel_requested: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    runner_id: str | None = None
    steps: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    feedback: dict[str, Any] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class InvalidTransition(Exception):
    """An event arrived that this job's current status does not allow."""


def create(event: ev.JobCreated, at: datetime) -> Job:
    return Job(
        id=event.job_id,
        project_id=event.project_id,
        type=event.job_type,
        status="pending",
        created_by=event.created_by,
        created_by_id=event.created_by_id,
        reason=event.reason,
        params=dict(event.params),
        created_at=at,
        updated_at=at,
        timeout_s=event.timeout_s,
        max_attempts=event.max_attempts,
    )


def evolve(job: Job | None, event: EventData, at: datetime) -> Job:  # noqa: PLR0911  (one case per event)
    """The job after ``event`` happened at ``at``. Pure; the only place job status changes."""
    if isinstance(event, ev.JobCreated):
        return create(event, at)
    if job is None:
        raise InvalidTransition(f"{event.TYPE} before job.created")
    match event:
        case ev.JobQueued():
            return replace(job, status="queued", updated_at=at)
        case ev.JobStarted(runner_id=runner_id, attempt=attempt):
            return replace(
                job,
                status="started",
                started_at=at,
                runner_id=runner_id,
                attempt=attempt,
                retry_at=None,
                updated_at=at,
            )
        case ev.JobStepChanged(step_id=step_id, name=name, stage=stage):
            step = {"id": step_id, "name": name, "stage": stage}
            others = tuple(s for s in job.steps if s["id"] != step_id)
            return replace(job, steps=(*others, step), updated_at=at)
        case ev.JobLogged():
            return replace(job, updated_at=at)
        case ev.JobRetryScheduled(retry_at=retry_at):
            return replace(job, status="queued", retry_at=retry_at, runner_id=None, updated_at=at)
        case ev.JobCancelRequested():
            return replace(job, cancel_requested=True, updated_at=at)
        case ev.JobCancelled(reason=reason, cancelled_by=by):
            feedback = {
                "error": f"Cancelled by {by}." + (f" {reason}" if reason else ""),
                "error_type": "CANCELLED",
            }
            return replace(job, status="cancelled", feedback=feedback, finished_at=at, updated_at=at)
        case ev.JobFinished(feedback=feedback):
            return replace(job, status="finished", feedback=dict(feedback), finished_at=at, updated_at=at)
        case ev.JobFailed(feedback=feedback):
            return replace(job, status="failed", feedback=dict(feedback), finished_at=at, updated_at=at)
    return job


def fold(history: list[tuple[EventData, datetime]]) -> Job | None:
    job: Job | None = None
    for event, at in history:
        job = evolve(job, event, at)
    return job
