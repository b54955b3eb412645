"""Project endpoints (spec section 3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.app import projects
from api.app.access import access_for
from api.auth import CurrentPrincipal, Principal, Svc
from api.http import CompactJSONResponse, as_bool, paginate, read_body

router = APIRouter()


def _is_public(body: dict[str, Any]) -> bool | None:
    if "is_public" in body:
        return as_bool(body["is_public"], "is_public")
    if "private" in body:
        return not as_bool(body["private"], "private")
    return None


async def _listing(
    request: Request, principal: Principal, svc: Svc, include_public: bool, only_public: bool = False
) -> CompactJSONResponse:
    rows = await projects.list_visible(
        svc,
        principal,
        include_public=include_public,
        query=dict(request.query_params),
        only_public=only_public,
    )
    items = []
    for row in rows:
        found = access_for(principal, row)
        if found is not None:
            items.append(projects.to_json(row, found))
    return paginate(request, items)


@router.get("/projects/")
async def list_projects(request: Request, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    query = request.query_params
    include = query.get("include_public", query.get("include-public"))
    return await _listing(request, principal, svc, as_bool(include, "include_public"))


@router.get("/projects/public/")
async def public_projects(request: Request, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    return await _listing(request, principal, svc, include_public=True, only_public=True)


@router.post("/projects/", status_code=201)
async def create_project(request: Request, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    body = await read_body(request)
    is_public = _is_public(body)
    project_id = await projects.create(svc, principal, body, bool(is_public))
    project, found = await projects.authorize(svc, principal, project_id, "reader")
    return CompactJSONResponse(projects.to_json(project, found), status_code=201)


@router.get("/projects/{project_id}/")
async def get_project(project_id: str, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    project, found = await projects.authorize(svc, principal, project_id, "reader")
    return CompactJSONResponse(projects.to_json(project, found))


@router.patch("/projects/{project_id}/")
@router.put("/projects/{project_id}/")
async def update_project(
    request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "manager")
    body = await read_body(request)
    await projects.update(svc, principal, project, body, _is_public(body))
    project, found = await projects.authorize(svc, principal, project_id, "reader")
    return CompactJSONResponse(projects.to_json(project, found))


@router.delete("/projects/{project_id}/", status_code=204)
async def delete_project(project_id: str, principal: CurrentPrincipal, svc: Svc) -> Response:
    project, _ = await projects.authorize(svc, principal, project_id, "manager")
    await projects.delete(svc, principal, project)
    return Response(status_code=204)
