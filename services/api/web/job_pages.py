"""Jobs: the project's list with filters, one job with steps, log and result, and its live log stream.

The live log is a server-sent event stream read from ``rm_jobs``, the read model the page itself is
rendered from: the page says how much of the log it shows (``data-offset``, characters), the stream sends
only what came after that, and each event's id is the new offset, so a reconnecting browser resumes
where it stopped (``Last-Event-ID``). Without JavaScript the page is the log as of its rendering.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import text

from api.app import jobs, projects
from api.app.access import Access, parse_uuid
from api.auth import Principal, Svc
from api.context import Services
from api.errors import ObjectNotFound, ValidationError
from api.web import render
from api.web.project_pages import project_context
from api.web.session import Csrf, Viewer
from common.domain.jobs import TERMINAL

router = APIRouter()
POLL_S = 0.5
STREAM_S = 300.0  # then the browser reconnects with Last-Event-ID: no request lives for ever
REQUESTABLE = ("process_projectfile", "package")


@router.get("/projects/{project_id}/jobs/")
async def job_list(request: Request, project_id: str, viewer: Viewer, svc: Svc) -> Response:
    project, found = await projects.authorize(svc, viewer, project_id, "reporter")
    job_type = request.query_params.get("type") or None
    status = request.query_params.get("status") or None
    items = await jobs.for_project(svc, project["id"], job_type, status)
    return render.page(
        request,
        "jobs.html",
        viewer,
        jobs=items,
        job_types=jobs.JOB_TYPES,
        statuses=jobs.STATUSES,
        requestable=REQUESTABLE,
        chosen={"type": job_type or "", "status": status or ""},
        **project_context(project, found, "jobs"),
    )


@router.post("/projects/{project_id}/jobs/", dependencies=[Csrf])
async def request_job(request: Request, project_id: str, viewer: Viewer, svc: Svc) -> Response:
    """Ask the scheduler for a job, as ``POST /api/v1/jobs/`` does; then show it."""
    project, _ = await projects.authorize(svc, viewer, project_id, "reporter")
    job_type = str((await request.form()).get("type") or "")
    if job_type not in REQUESTABLE:
        raise ValidationError(f"type must be one of {', '.join(REQUESTABLE)}.")
    job_id, _ = await jobs.request_job(svc, viewer, project["id"], job_type, force=False, params={})
    return render.redirect(f"{render.PREFIX}/jobs/{job_id}/?notice=job")


async def _job_for(
    svc: Services, viewer: Principal, job_id: str
) -> tuple[dict[str, Any], dict[str, Any], Access]:
    job = await jobs.load(svc, parse_uuid(job_id, "job"))
    project, found = await projects.authorize(svc, viewer, job["project_id"], "reporter")
    return job, project, found


@router.get("/jobs/{job_id}/")
async def job_page(request: Request, job_id: str, viewer: Viewer, svc: Svc) -> Response:
    job, project, found = await _job_for(svc, viewer, job_id)
    output = job["output"] or ""
    return render.page(
        request,
        "job.html",
        viewer,
        job=job,
        log=output,
        offset=len(output),
        live=job["status"] not in TERMINAL,
        feedback=job["feedback"] or {},
        **project_context(project, found, "jobs"),
    )


def _offset(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("offset") or "0"
    try:
        return max(int(raw), 0)
    except ValueError as exc:
        raise ValidationError("offset must be a number of characters.") from exc


@router.get("/jobs/{job_id}/events")
async def job_events(request: Request, job_id: str, viewer: Viewer, svc: Svc) -> StreamingResponse:
    """``text/event-stream``: ``log`` (new lines), ``steps``, ``status``, then ``end`` once it is over."""
    job, _, _ = await _job_for(svc, viewer, job_id)
    return StreamingResponse(
        _stream(request, svc, job["id"], _offset(request)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _event(name: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


async def _progress(svc: Services, job_id: UUID, offset: int) -> Any:
    async with svc.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT status, steps, length(output) AS size, substr(output, :o + 1) AS tail"
                    " FROM rm_jobs WHERE id = :id"
                ),
                {"id": job_id, "o": offset},
            )
        ).first()
    if row is None:
        raise ObjectNotFound(f"No job with id {job_id}.")
    return row


async def _stream(request: Request, svc: Services, job_id: UUID, offset: int) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    steps: Any = None
    status = None
    deadline = time.monotonic() + STREAM_S
    while time.monotonic() < deadline and not await request.is_disconnected():
        row = await _progress(svc, job_id, offset)
        complete = row.tail[: row.tail.rfind("\n") + 1] if row.tail else ""
        if complete:
            offset += len(complete)
            yield _event("log", {"lines": complete.splitlines()}, offset)
        if row.steps != steps:
            steps = row.steps
            yield _event("steps", steps, offset)
        if row.status != status:
            status = row.status
            yield _event("status", {"status": status}, offset)
        if status in TERMINAL:
            yield _event("end", {"status": status}, offset)
            return
        await asyncio.sleep(POLL_S)
