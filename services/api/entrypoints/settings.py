"""Outpost's own project settings (not in QFieldCloud's API): job timeouts per type, for now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.app import projects
from api.app import settings as project_settings
from api.auth import CurrentPrincipal, Svc
from api.http import CompactJSONResponse, read_body

router = APIRouter()


def _settings_json(project: dict[str, Any]) -> dict[str, Any]:
    return {"job_timeouts": project_settings.job_timeouts(project)}


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
    await project_settings.change_timeouts(svc, principal, project, body.get("job_timeouts"))
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    return CompactJSONResponse(_settings_json(project))
