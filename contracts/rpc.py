"""Request/reply messages (core NATS, queue group ``scheduler``): a caller that needs an answer now.

``POST /api/v1/jobs/`` must say at once which job it created or reused, so the API asks the scheduler
on ``outpost.rpc.create_job`` and waits for the reply.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from contracts.base import Frozen


class CreateJobRequest(Frozen):
    project_id: UUID
    job_type: str
    force: bool = False
    requested_by: str
    requested_by_id: int
    params: dict[str, Any] = {}


class CreateJobReply(Frozen):
    """Either ``job_id`` (with ``created``) or an error ``code`` and ``message``."""

    job_id: UUID | None = None
    created: bool = False
    code: str | None = None
    message: str | None = None
