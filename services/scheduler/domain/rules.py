"""Triggers, skip rules and dispatch order, as pure functions over plain views of the read models.

Decided on purpose (docs/adr/0004-job-rules.md):
- A file upload triggers ``process_projectfile`` when the file is not inside an attachment dir and the
  project has (or now gets) a QGIS project file.
- Jobs of a type coalesce while one is waiting (pending or queued): the trigger joins it, whoever
  uploaded. A started job never absorbs a later trigger, because it has read its inputs already.
- Per project: FIFO by enqueue order, and at most one queued-or-started job across all types.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from common.domain.jobs import ACTIVE, WAITING
from contracts import events as ev


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


def on_file_uploaded(
    project: ProjectView, upload: ev.FileUploaded, job_id: UUID, user_id: int
) -> list[ev.JobCreated]:
    """The jobs an upload sets off: none, or one ``process_projectfile``."""
    if upload.is_attachment:
        return []
    if not (upload.is_project_file or project.project_file):
        return []
    if any(j.type == "process_projectfile" and j.status in WAITING for j in project.jobs):
        return []
    return [
        ev.JobCreated(
            job_id=job_id,
            project_id=project.id,
            job_type="process_projectfile",
            created_by=upload.uploaded_by,
            created_by_id=user_id,
            reason=f"file uploaded: {upload.path}",
        )
    ]


def next_to_dispatch(project: ProjectView) -> JobView | None:
    """The project's oldest pending job, unless one of its jobs is queued or started."""
    if any(j.status in ACTIVE for j in project.jobs):
        return None
    pending = sorted((j for j in project.jobs if j.status == "pending"), key=lambda j: j.enqueued_at)
    return pending[0] if pending else None
