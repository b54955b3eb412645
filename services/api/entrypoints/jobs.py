"""Job endpoints (spec section 6): list by project and type, newest first; one job with its log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from api.app import jobs as job_requests
from api.app import projects
from api.app.access import parse_uuid
from api.auth import CurrentPrincipal, Svc
from api.errors import PermissionDenied, ValidationError
from api.http import CompactJSONResponse, as_bool, paginate, read_body
from common.clock import new_id
from contracts import events as ev

router = APIRouter()
JOB_TYPES = job_requests.JOB_TYPES
MAX_PARAMS_BYTES = 4096


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def job_json(row: dict[str, Any], detail: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(row["id"]),
        "created_at": _iso(row["created_at"]),
        "created_by": row["created_by_id"],
        "finished_at": _iso(row["finished_at"]),
        "project_id": str(row["project_id"]),
        "started_at": _iso(row["started_at"]),
        # QFieldCloud clients know no "cancelled": they see a failed job; Outpost's own status is beside it
        "status": "failed" if row["status"] == "cancelled" else row["status"],
        "type": row["type"],
        "updated_at": _iso(row["updated_at"]),
        "outpost_status": row["status"],
        "attempt": row["attempt"],
        "max_attempts": row["max_attempts"],
        "retry_at": _iso(row["retry_at"]),
        "timeout_s": row["timeout_s"],
        "cancel_requested": row["cancel_requested"],
    }
    if detail:
        data["feedback"] = row["feedback"]
        data["output"] = row["output"] or None
        data["steps"] = row["steps"]
    return data


@router.get("/jobs/")
async def list_jobs(request: Request, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    project_id = request.query_params.get("project_id")
    if not project_id:
        raise ValidationError("project_id is required.")
    job_type = request.query_params.get("type")
    if job_type and job_type not in JOB_TYPES:
        raise ValidationError(f"type must be one of {', '.join(JOB_TYPES)}.")
    project, _ = await projects.authorize(svc, principal, project_id, "reporter")
    rows = await job_requests.for_project(svc, project["id"], job_type)
    return paginate(request, [job_json(row, detail=False) for row in rows])


@router.get("/jobs/{job_id}/")
async def get_job(job_id: str, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    job = await job_requests.load(svc, parse_uuid(job_id, "job"))
    await projects.authorize(svc, principal, str(job["project_id"]), "reporter")
    return CompactJSONResponse(job_json(job, detail=True))


@router.post("/jobs/")
async def create_job(request: Request, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    """Ask the scheduler for a job: 201 with a new one, or 200 with the waiting one it joins."""
    body = await read_body(request)
    job_type = str(body.get("type") or "")
    if job_type not in JOB_TYPES:
        raise ValidationError(f"type must be one of {', '.join(JOB_TYPES)}.")
    project, _ = await projects.authorize(svc, principal, str(body.get("project_id") or ""), "reporter")
    job_id, created = await job_requests.request_job(
        svc,
        principal,
        project["id"],
        job_type,
        force=as_bool(body.get("force"), "force"),
        params=_params(body.get("params")),
    )
    job = await job_requests.load(svc, job_id)
    return CompactJSONResponse(job_json(job, detail=True), status_code=201 if created else 200)


def _params(raw: Any) -> dict[str, Any]:
    """Outpost's extension: a small JSON object handed to the worker with the job."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValidationError("params must be a JSON object.") from exc
    if not isinstance(raw, dict) or len(json.dumps(raw)) > MAX_PARAMS_BYTES:
        raise ValidationError(f"params must be a JSON object of at most {MAX_PARAMS_BYTES} bytes.")
    return raw


@router.post("/jobs/{job_id}/cancel/")
async def cancel_job(job_id: str, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    """Outpost's cancel: pending and queued jobs end at once, a started one within a heartbeat."""
    job = await job_requests.load(svc, parse_uuid(job_id, "job"))
    _, found = await projects.authorize(svc, principal, job["project_id"], "reporter")
    if not found.allows("manager") and job["created_by"].lower() != principal.username.lower():
        raise PermissionDenied("Only the job's creator or a project manager can cancel it.")
    if job["status"] in ("finished", "failed", "cancelled"):
        raise ValidationError(f"The job has ended already ({job['status']}).")
    event = ev.JobCancelRequested(
        job_id=job["id"], project_id=job["project_id"], requested_by=principal.username
    )
    async with svc.store.transaction() as tx:
        await tx.append(ev.job_stream(job["id"]), [event], expected_version=None, correlation_id=new_id())
    return CompactJSONResponse(
        job_json(await job_requests.load(svc, job["id"]), detail=True), status_code=202
    )
