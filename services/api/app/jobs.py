"""Jobs: asking the scheduler for one (NATS request/reply; the API keeps no job rules of its own),
and reading them back from ``rm_jobs``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from sqlalchemy import text

from api.auth import Principal
from api.context import Services
from api.errors import ApiError, ObjectNotFound, ServiceUnavailable, ValidationError
from contracts import rpc, subjects

RPC_TIMEOUT_S = 10.0
_STATUS = {"object_not_found": 404, "service_unavailable": 503}


class Refused(ApiError):
    """The scheduler refused the job (the code and status are the scheduler's)."""


async def request_job(
    svc: Services,
    principal: Principal,
    project_id: UUID,
    job_type: str,
    *,
    force: bool,
    params: dict[str, Any],
) -> tuple[UUID, bool]:
    """The job id the scheduler answers with, and whether it is a new job."""
    assert principal.user is not None
    ask = rpc.CreateJobRequest(
        project_id=project_id,
        job_type=job_type,
        force=force,
        requested_by=principal.username,
        requested_by_id=principal.user.id,
        params=params,
    )
    try:
        msg = await svc.nats.client.request(
            subjects.RPC_CREATE_JOB, ask.model_dump_json().encode(), timeout=RPC_TIMEOUT_S
        )
    except (NatsTimeoutError, NoRespondersError) as exc:
        raise ServiceUnavailable("The scheduler did not answer; try again shortly.") from exc
    reply = rpc.CreateJobReply.model_validate_json(msg.data)
    if reply.code is not None:
        refused = Refused(reply.message or reply.code)
        refused.code, refused.status = reply.code, _STATUS.get(reply.code, 400)
        raise refused
    assert reply.job_id is not None
    return reply.job_id, reply.created


JOB_TYPES = ("package", "delta_apply", "process_projectfile")
STATUSES = ("pending", "queued", "started", "finished", "failed", "cancelled")
_COLUMNS = (
    "id, project_id, type, status, created_by, created_by_id, created_at, updated_at, started_at,"
    " finished_at, attempt, max_attempts, retry_at, timeout_s, cancel_requested"
)


async def load(svc: Services, job_id: UUID) -> dict[str, Any]:
    """One job with its steps, log and feedback, or ObjectNotFound."""
    async with svc.engine.connect() as conn:
        row = (
            await conn.execute(
                text(f"SELECT {_COLUMNS}, feedback, output, steps FROM rm_jobs WHERE id = :id"),
                {"id": job_id},
            )
        ).first()
    if row is None:
        raise ObjectNotFound(f"No job with id {job_id}.")
    return dict(row._mapping)


async def for_project(
    svc: Services, project_id: UUID, job_type: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """The project's jobs, newest first, optionally of one type and one Outpost status."""
    if job_type and job_type not in JOB_TYPES:
        raise ValidationError(f"type must be one of {', '.join(JOB_TYPES)}.")
    if status and status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}.")
    where = "project_id = :p"
    where += " AND type = :t" if job_type else ""
    where += " AND status = :s" if status else ""
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT {_COLUMNS} FROM rm_jobs WHERE {where} ORDER BY enqueued_at DESC"),
            {"p": project_id, "t": job_type, "s": status},
        )
        return [dict(row._mapping) for row in rows]
