"""Collaborator endpoints (spec section 8): who has which role on a project."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.app import collaborators, projects
from api.auth import CurrentPrincipal, Svc
from api.errors import ValidationError
from api.http import CompactJSONResponse, paginate, read_body

router = APIRouter()


@router.get("/collaborators/{project_id}/")
async def list_collaborators(
    request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    return paginate(request, await collaborators.list_for(svc, project["id"]))


@router.post("/collaborators/{project_id}/", status_code=201)
async def add_collaborator(
    request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "manager")
    body = await read_body(request)
    username = str(body.get("collaborator") or "")
    if not username:
        raise ValidationError("collaborator is required.")
    await collaborators.add(svc, principal, project, username, collaborators.check_role(body.get("role")))
    return CompactJSONResponse(await collaborators.get(svc, project["id"], username), status_code=201)


@router.get("/collaborators/{project_id}/{username:path}")
async def get_collaborator(
    project_id: str, username: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    return CompactJSONResponse(await collaborators.get(svc, project["id"], username.removesuffix("/")))


@router.patch("/collaborators/{project_id}/{username:path}")
@router.put("/collaborators/{project_id}/{username:path}")
async def change_collaborator(
    request: Request, project_id: str, username: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "manager")
    body = await read_body(request)
    username = username.removesuffix("/")
    await collaborators.change(svc, principal, project, username, collaborators.check_role(body.get("role")))
    return CompactJSONResponse(await collaborators.get(svc, project["id"], username))


@router.delete("/collaborators/{project_id}/{username:path}", status_code=204)
async def remove_collaborator(
    project_id: str, username: str, principal: CurrentPrincipal, svc: Svc
) -> Response:
    project, _ = await projects.authorize(svc, principal, project_id, "manager")
    await collaborators.remove(svc, principal, project, username.removesuffix("/"))
    return Response(status_code=204)
