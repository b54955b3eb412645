"""Job endpoints (spec section 6): list by project and type, newest first; one job with its log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from api.app import projects
from api.app.access import parse_uuid
from api.auth import CurrentPrincipal, Svc
from api.errors import ObjectNotFound, ValidationError
from api.http import CompactJSONResponse, paginate

router = APIRouter()
JOB_TYPES = ("package", "delta_apply", "process_projectfile")
_COLUMNS = "id, project_id, type, status, created_by_id, created_at, updated_at, started_at, finished_at"


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
        "status": row["status"],
        "type": row["type"],
        "updated_at": _iso(row["updated_at"]),
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
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM rm_jobs WHERE project_id = :p"
                + (" AND type = :t" if job_type else "")
                + " ORDER BY enqueued_at DESC"
            ),
            {"p": project["id"], "t": job_type},
        )
        items = [job_json(dict(row._mapping), detail=False) for row in rows]
    return paginate(request, items)


@router.get("/jobs/{job_id}/")
async def get_job(job_id: str, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    jid = parse_uuid(job_id, "job")
    async with svc.engine.connect() as conn:
        row = (
            await conn.execute(
                text(f"SELECT {_COLUMNS}, feedback, output, steps FROM rm_jobs WHERE id = :id"), {"id": jid}
            )
        ).first()
    if row is None:
        raise ObjectNotFound(f"No job with id {job_id}.")
    job = dict(row._mapping)
    await projects.authorize(svc, principal, str(job["project_id"]), "reporter")
    return CompactJSONResponse(job_json(job, detail=True))
