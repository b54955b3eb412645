"""Project secrets (Outpost's API; QFieldCloud has them in its admin only): values are write-only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.app import projects
from api.app import secrets as project_secrets
from api.auth import CurrentPrincipal, Svc
from api.http import CompactJSONResponse, read_body

router = APIRouter()


@router.get("/projects/{project_id}/secrets/")
async def list_secrets(project_id: str, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    """Names, types and who set them; never the values."""
    project, _ = await projects.authorize(svc, principal, project_id, "manager")
    return CompactJSONResponse(
        [
            {
                "name": secret.name,
                "type": secret.type,
                "created_by": secret.created_by,
                "created_at": secret.created_at.isoformat(),
            }
            for secret in await project_secrets.names(svc, project["id"])
        ]
    )


@router.post("/projects/{project_id}/secrets/", status_code=201)
async def set_secret(
    request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    """Create or replace ``{"name", "type": "envvar"|"pgservice", "value"}`` (project admins only)."""
    project, _ = await projects.authorize(svc, principal, project_id, "admin")
    body = await read_body(request)
    name, kind = str(body.get("name") or ""), str(body.get("type") or "envvar")
    await project_secrets.put(svc, principal, project, name=name, kind=kind, value=body.get("value"))
    return CompactJSONResponse(
        {"name": name, "type": kind, "created_by": principal.username}, status_code=201
    )


@router.delete("/projects/{project_id}/secrets/{name}/", status_code=204)
async def delete_secret(project_id: str, name: str, principal: CurrentPrincipal, svc: Svc) -> Response:
    project, _ = await projects.authorize(svc, principal, project_id, "admin")
    await project_secrets.remove(svc, principal, project, name)
    return Response(status_code=204)
