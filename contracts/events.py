"""Every event Outpost records, version 1.

Streams: ``project-<uuid>`` for a project and its files, ``job-<uuid>`` for one job's life.
Adding a field with a default is compatible; anything else is a new ``SCHEMA_VERSION`` with an
upcaster in :mod:`contracts.upcasting` and a golden sample under tests/contracts/samples/.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from contracts.base import EventData

JobType = Literal["process_projectfile", "package", "delta_apply"]
Role = Literal["admin", "manager", "editor", "reporter", "reader"]


def project_stream(project_id: UUID) -> str:
    return f"project-{project_id}"


def job_stream(job_id: UUID) -> str:
    return f"job-{job_id}"


class ProjectCreated(EventData):
    TYPE = "project.created"
    project_id: UUID
    name: str
    owner: str
    description: str = ""
    is_public: bool = False
    created_by: str


class ProjectUpdated(EventData):
    """Some of the project's settings changed; fields left ``None`` did not."""

    TYPE = "project.updated"
    project_id: UUID
    updated_by: str
    name: str | None = None
    owner: str | None = None
    description: str | None = None
    is_public: bool | None = None
    overwrite_conflicts: bool | None = None


class ThumbnailSet(EventData):
    """The project's thumbnail image is stored (the blob exists before the event)."""

    TYPE = "project.thumbnail_set"
    project_id: UUID
    blob_key: str
    content_type: str
    size: int
    set_by: str


class ProjectSettingsChanged(EventData):
    """Outpost's own project settings changed; ``settings`` holds the new value of each key given."""

    TYPE = "project.settings_changed"
    project_id: UUID
    changed_by: str
    settings: dict[str, Any]


class SecretSet(EventData):
    """A project secret was created or replaced. The value is never in an event: only its name and type."""

    TYPE = "project.secret_set"
    project_id: UUID
    name: str
    secret_type: Literal["envvar", "pgservice"]
    set_by: str


class SecretDeleted(EventData):
    TYPE = "project.secret_deleted"
    project_id: UUID
    name: str
    deleted_by: str


class CollaboratorAdded(EventData):
    TYPE = "project.collaborator_added"
    project_id: UUID
    collaborator: str
    role: Role
    added_by: str


class CollaboratorRoleChanged(EventData):
    TYPE = "project.collaborator_role_changed"
    project_id: UUID
    collaborator: str
    role: Role
    changed_by: str


class CollaboratorRemoved(EventData):
    TYPE = "project.collaborator_removed"
    project_id: UUID
    collaborator: str
    removed_by: str


class ProjectDeleted(EventData):
    TYPE = "project.deleted"
    project_id: UUID
    deleted_by: str


class FileUploaded(EventData):
    """A new version of a project file is stored; the blob exists before this event does."""

    TYPE = "project.file_uploaded"
    project_id: UUID
    path: str
    version_id: UUID
    blob_key: str
    size: int
    md5sum: str
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    is_attachment: bool
    is_project_file: bool
    by_job: UUID | None = None  # written back by this job's worker: sets off no new job


class FileDeleted(EventData):
    """One version of a file (``version_id``), or the file with every version (``None``), was deleted."""

    TYPE = "project.file_deleted"
    project_id: UUID
    path: str
    version_id: UUID | None = None
    deleted_by: str


class FileVersionsPruned(EventData):
    """Old versions dropped to keep the configured number per file; their blobs go to the collector."""

    TYPE = "project.file_versions_pruned"
    project_id: UUID
    path: str
    version_ids: list[UUID]


def deltafile_stream(deltafile_id: UUID) -> str:
    return f"deltafile-{deltafile_id}"


class DeltasPushed(EventData):
    """New deltas of one pushed deltafile (deltas whose uuid was known already are left out)."""

    TYPE = "deltafile.pushed"
    deltafile_id: UUID
    project_id: UUID
    pushed_by: str
    deltas: list[
        dict[str, Any]
    ]  # {"delta_id", "client_id", "status": "pending"|"unpermitted", "feedback", "content"}


class DeltaResolved(EventData):
    """A manager resolved a conflicting delta: apply the incoming values, keep the current ones, or merge."""

    TYPE = "deltafile.delta_resolved"
    deltafile_id: UUID
    project_id: UUID
    delta_id: UUID
    resolution: Literal["apply_incoming", "keep_current", "merge"]
    merged: dict[str, Any] | None = None  # {"attributes": {...}, "geometry": "WKT"} for a merge
    resolved_by: str


class DeltaStatusChanged(EventData):
    """A delta's apply status moved: started, applied, conflict, not_applied, error, ignored."""

    TYPE = "deltafile.delta_status_changed"
    deltafile_id: UUID
    project_id: UUID
    delta_id: UUID
    status: Literal[
        "pending", "started", "applied", "conflict", "not_applied", "error", "ignored", "unpermitted"
    ]
    feedback: dict[str, Any] | None = None
    modified_pk: str | None = None
    job_id: UUID | None = None


class JobEvent(EventData):
    """Base of every event on a job's stream."""

    job_id: UUID
    project_id: UUID


class JobCreated(JobEvent):
    """A job joined its project's queue (status ``pending``)."""

    TYPE = "job.created"
    job_type: JobType
    created_by: str
    created_by_id: int
    reason: str
    params: dict[str, Any] = {}
    timeout_s: float = 600.0
    max_attempts: int = 3


class JobQueued(JobEvent):
    """The scheduler handed the job to the runners: it is the project's one active job now."""

    TYPE = "job.queued"


class JobStarted(JobEvent):
    TYPE = "job.started"
    runner_id: str
    attempt: int = 1
    lease_s: float = 30.0


class JobStepChanged(JobEvent):
    """A workflow step started, finished or failed inside the worker."""

    TYPE = "job.step_changed"
    step_id: str
    name: str
    stage: Literal["started", "finished", "failed"]


class JobLogged(JobEvent):
    """A batch of log lines the worker printed, in order, while the job ran."""

    TYPE = "job.logged"
    lines: list[str]


class PackageFileStored(JobEvent):
    """A package job's worker uploaded one file of the package (the blob exists before the event)."""

    TYPE = "job.package_file_stored"
    path: str
    blob_key: str
    size: int
    md5sum: str
    sha256: str


class JobRetryScheduled(JobEvent):
    """An attempt died of an infrastructure failure; the job keeps its project's slot and runs again.

    Status goes back to ``queued``; the next attempt starts no earlier than ``retry_at``.
    """

    TYPE = "job.retry_scheduled"
    attempt: int
    retry_at: datetime
    reason: str


class JobCancelRequested(JobEvent):
    """Someone asked to cancel the job; the scheduler or the runner running it carries it out."""

    TYPE = "job.cancel_requested"
    requested_by: str


class JobCancelled(JobEvent):
    TYPE = "job.cancelled"
    job_type: JobType
    cancelled_by: str
    reason: str = ""


class JobFinished(JobEvent):
    TYPE = "job.finished"
    job_type: JobType
    feedback: dict[str, Any]
    exit_code: int = 0


class JobFailed(JobEvent):
    TYPE = "job.failed"
    job_type: JobType
    error: str
    error_type: str
    feedback: dict[str, Any]
    exit_code: int | None = None


ALL: tuple[type[EventData], ...] = (
    ProjectCreated,
    ProjectUpdated,
    ProjectSettingsChanged,
    ThumbnailSet,
    SecretSet,
    SecretDeleted,
    ProjectDeleted,
    CollaboratorAdded,
    CollaboratorRoleChanged,
    CollaboratorRemoved,
    FileUploaded,
    FileDeleted,
    FileVersionsPruned,
    DeltasPushed,
    DeltaResolved,
    DeltaStatusChanged,
    JobCreated,
    JobQueued,
    JobStarted,
    JobStepChanged,
    JobLogged,
    PackageFileStored,
    JobRetryScheduled,
    JobCancelRequested,
    JobCancelled,
    JobFinished,
    JobFailed,
)

BY_TYPE: dict[str, type[EventData]] = {cls.TYPE: cls for cls in ALL}
