"""Outpost's own project settings (not in QFieldCloud's API): job timeouts per type, for now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.app import projects
from api.auth import CurrentPrincipal, Svc
from api.errors import ValidationError
from api.http import CompactJSONResponse, read_body
from common.clock import new_id
from contracts import events as ev

router = APIRouter()
JOB_TYPES = ("process_projectfile", "package", "delta_apply")
MAX_TIMEOUT_S = 24 * 3600


def _settings_json(project: dict[str, Any]) -> dict[str, Any]:
    settings = project.get("settings") or {}
    return {"job_timeouts": settings.get("job_timeouts") or {}}


@router.get("/projects/{project_id}/settings/")
async def get_settings(project_id: str, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    return CompactJSONResponse(_settings_json(project))


@router.patch("/projects/{project_id}/settings/")
async def change_settings(
    request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    """``{"job_timeouts": {"package": 3600}}``: seconds per job type; ``null`` restores the default."""
    project, _ = await projects.authorize(svc, principal, project_id, "manager")
    body = await read_body(request)
    timeouts = body.get("job_timeouts")
    if not isinstance(timeouts, dict) or not timeouts:
        raise ValidationError("job_timeouts must be an object of job type -> seconds.")
    merged = dict((project.get("settings") or {}).get("job_timeouts") or {})
    for job_type, seconds in timeouts.items():
        if job_type not in JOB_TYPES:
            raise ValidationError(f"Unknown job type {job_type!r}.")
        if seconds is None:
            merged.pop(job_type, None)
            continue
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 1 <= seconds <= MAX_TIMEOUT_S
        ):
            raise ValidationError(f"The timeout of {job_type} must be between 1 and {MAX_TIMEOUT_S} seconds.")
        merged[job_type] = float(seconds)
    event = ev.ProjectSettingsChanged(
        project_id=project["id"], changed_by=principal.username, settings={"job_timeouts": merged}
    )
    async with svc.store.transaction() as tx:
        await tx.append(
            ev.project_stream(project["id"]), [event], expected_version=None, correlation_id=new_id()
        )
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    return CompactJSONResponse(_settings_json(project))
