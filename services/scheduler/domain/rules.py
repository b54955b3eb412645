"""Triggers, skip rules, dispatch order and what to do with a dead attempt, as pure functions.

Decided on purpose (docs/adr/0004-job-rules.md, 0008-job-liveness.md):
- A file upload triggers ``process_projectfile`` when the file is not inside an attachment dir and the
  project has (or now gets) a QGIS project file.
- Jobs of a type coalesce while one is waiting (pending or queued): the trigger joins it, whoever
  triggered it. A started job never absorbs a later trigger, because it has read its inputs already.
  ``force`` always makes a new job.
- ``package`` and ``delta_apply`` need a successfully processed project file (``no_qgis_project``).
- Per project: FIFO by enqueue order, and at most one queued-or-started job across all types.
- A dead attempt (lease expired) is retried with exponential backoff while attempts remain, then the job
  fails with the reason (the dead-letter state); a job whose cancel was requested is cancelled instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from common.domain.jobs import ACTIVE, WAITING
from contracts import events as ev

DEFAULT_TIMEOUTS_S = {"process_projectfile": 600.0, "package": 1200.0, "delta_apply": 600.0}


class Refused(Exception):
    """The request is refused; ``code`` is the QFieldCloud error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class JobView:
    id: UUID
    type: str
    status: str
    enqueued_at: int


@dataclass(frozen=True)
class ProjectView:
    id: UUID
    project_file: str | None
    jobs: tuple[JobView, ...]
    processed: bool = False
    settings: dict[str, Any] | None = None


@dataclass(frozen=True)
class JobRequest:
    project_id: UUID
    job_type: str
    force: bool
    requested_by: str
    requested_by_id: int
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class Policy:
    """Deployment-wide defaults; a project's settings may override the timeouts."""

    timeouts_s: dict[str, float]
    max_attempts: int = 3
    backoff_base_s: float = 2.0
    backoff_max_s: float = 60.0


def timeout_for(policy: Policy, project: ProjectView, job_type: str) -> float:
    overrides = (project.settings or {}).get("job_timeouts") or {}
    return float(overrides.get(job_type) or policy.timeouts_s.get(job_type) or DEFAULT_TIMEOUTS_S[job_type])


def _new_job(
    policy: Policy,
    project: ProjectView,
    job_id: UUID,
    job_type: str,
    *,
    by: str,
    by_id: int,
    reason: str,
    params: dict[str, Any] | None = None,
) -> ev.JobCreated:
    return ev.JobCreated(
        job_id=job_id,
        project_id=project.id,
        job_type=job_type,  # type: ignore[arg-type]
        created_by=by,
        created_by_id=by_id,
        reason=reason,
        timeout_s=timeout_for(policy, project, job_type),
        max_attempts=policy.max_attempts,
        params=dict(params or {}),
    )


def waiting_job(project: ProjectView, job_type: str) -> JobView | None:
    return next((j for j in project.jobs if j.type == job_type and j.status in WAITING), None)


def on_file_uploaded(
    policy: Policy, project: ProjectView, upload: ev.FileUploaded, job_id: UUID, user_id: int
) -> list[ev.JobCreated]:
    """The jobs an upload sets off: none, or one ``process_projectfile``."""
    if upload.is_attachment or upload.by_job or not (upload.is_project_file or project.project_file):
        return []
    if waiting_job(project, "process_projectfile"):
        return []
    reason = f"file uploaded: {upload.path}"
    return [
        _new_job(
            policy,
            project,
            job_id,
            "process_projectfile",
            by=upload.uploaded_by,
            by_id=user_id,
            reason=reason,
        )
    ]


def on_deltas_pushed(
    policy: Policy, project: ProjectView, pushed: ev.DeltasPushed, job_id: UUID, user_id: int
) -> list[ev.JobCreated]:
    """A push with pending deltas sets off ``delta_apply``, unless one is waiting: it will take them too."""
    if not any(d.get("status") == "pending" for d in pushed.deltas) or not project.project_file:
        return []
    if waiting_job(project, "delta_apply"):
        return []
    reason = f"deltas pushed: deltafile {pushed.deltafile_id}"
    return [
        _new_job(policy, project, job_id, "delta_apply", by=pushed.pushed_by, by_id=user_id, reason=reason)
    ]


def on_job_requested(
    policy: Policy, project: ProjectView, request: JobRequest, job_id: UUID
) -> tuple[UUID, ev.JobCreated | None]:
    """``POST /jobs/``: the job to answer with, and the event if it is a new one.

    Raises :class:`Refused` with ``no_qgis_project`` when the job cannot run on this project.
    """
    if request.job_type not in DEFAULT_TIMEOUTS_S:
        raise Refused("validation_error", f"Unknown job type {request.job_type!r}.")
    if not request.force:
        existing = waiting_job(project, request.job_type)
        if request.job_type == "package":
            existing = existing or next(
                (j for j in project.jobs if j.type == "package" and j.status in ACTIVE), None
            )
        if existing is not None:
            return existing.id, None
    if not project.project_file:
        raise Refused("no_qgis_project", "The project has no QGIS project file (.qgs/.qgz) yet.")
    if request.job_type != "process_projectfile" and not project.processed and not request.force:
        raise Refused("no_qgis_project", "The project file has not been processed successfully yet.")
    reason = f"requested by {request.requested_by}" + (" (forced)" if request.force else "")
    created = _new_job(
        policy,
        project,
        job_id,
        request.job_type,
        by=request.requested_by,
        by_id=request.requested_by_id,
        reason=reason,
        params=request.params,
    )
    return job_id, created


def next_to_dispatch(project: ProjectView) -> JobView | None:
    """The project's oldest pending job, unless one of its jobs is queued or started."""
    if any(j.status in ACTIVE for j in project.jobs):
        return None
    pending = sorted((j for j in project.jobs if j.status == "pending"), key=lambda j: j.enqueued_at)
    return pending[0] if pending else None


def on_dead_attempt(
    policy: Policy,
    *,
    job_id: UUID,
    project_id: UUID,
    job_type: str,
    attempt: int,
    max_attempts: int,
    cancel_requested: bool,
    reason: str,
    now: datetime,
) -> ev.JobRetryScheduled | ev.JobFailed | ev.JobCancelled:
    """What becomes of a job whose running attempt died (its lease ran out)."""
    if cancel_requested:
        return ev.JobCancelled(
            job_id=job_id,
            project_id=project_id,
            job_type=job_type,  # type: ignore[arg-type]
            cancelled_by="scheduler",
            reason=f"The runner was lost ({reason}).",
        )
    if attempt < max_attempts:
        delay = min(policy.backoff_base_s * 2 ** (attempt - 1), policy.backoff_max_s)
        return ev.JobRetryScheduled(
            job_id=job_id,
            project_id=project_id,
            attempt=attempt + 1,
            retry_at=now + timedelta(seconds=delay),
            reason=reason,
        )
    message = f"Gave up after {attempt} attempts: {reason}"
    return ev.JobFailed(
        job_id=job_id,
        project_id=project_id,
        job_type=job_type,  # type: ignore[arg-type]
        error=message,
        error_type="INFRASTRUCTURE",
        feedback={
            "error": message,
            "error_type": "INFRASTRUCTURE",
            "error_origin": "scheduler",
            "attempts": attempt,
        },
    )
