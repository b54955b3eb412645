"""Commands: sent to exactly one handler through a JetStream work queue."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from contracts.base import Command
from contracts.events import JobType


class RunJob(Command):
    """Run one queued job. Any runner may take it; the job's stream decides who actually starts it."""

    TYPE = "run_job"
    job_id: UUID
    project_id: UUID
    job_type: JobType
    project_file: str | None
    created_by: str
    params: dict[str, Any] = {}
    attempt: int = 1
    timeout_s: float = 600.0


ALL: tuple[type[Command], ...] = (RunJob,)
BY_TYPE: dict[str, type[Command]] = {cls.TYPE: cls for cls in ALL}
