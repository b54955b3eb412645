"""The request/reply entrypoint: ``outpost.rpc.create_job`` (queue group ``scheduler``)."""

from __future__ import annotations

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from common import logging
from contracts import rpc, subjects
from scheduler.app.handlers import Scheduler
from scheduler.domain import rules

log = logging.get("scheduler.rpc")


async def serve(nc: Client, scheduler: Scheduler) -> Subscription:
    async def on_request(msg: Msg) -> None:
        try:
            request = rpc.CreateJobRequest.model_validate_json(msg.data)
            job_id, created = await scheduler.request_job(
                rules.JobRequest(
                    project_id=request.project_id,
                    job_type=request.job_type,
                    force=request.force,
                    requested_by=request.requested_by,
                    requested_by_id=request.requested_by_id,
                    params=dict(request.params),
                )
            )
            reply = rpc.CreateJobReply(job_id=job_id, created=created)
        except rules.Refused as exc:
            reply = rpc.CreateJobReply(code=exc.code, message=exc.message)
        except ValidationError as exc:
            reply = rpc.CreateJobReply(code="validation_error", message=str(exc))
        except Exception as exc:  # the API answers 503; the error is logged here
            log.error("create_job_failed", action="rpc", error=repr(exc))
            reply = rpc.CreateJobReply(
                code="service_unavailable", message="The scheduler could not create the job."
            )
        await msg.respond(reply.model_dump_json().encode())

    return await nc.subscribe(subjects.RPC_CREATE_JOB, queue=subjects.RPC_QUEUE, cb=on_request)
