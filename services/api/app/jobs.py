"""Asking the scheduler for a job (NATS request/reply): the API keeps no job rules of its own."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from api.auth import Principal
from api.context import Services
from api.errors import ApiError, ServiceUnavailable
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
