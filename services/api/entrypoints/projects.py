"""Project endpoints (spec section 3)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.app import projects
from api.auth import CurrentPrincipal, CurrentUser, Principal, Svc
from api.http import CompactJSONResponse, as_bool, paginate, read_body

router = APIRouter()


@router.get("/projects/")
async def list_projects(request: Request, user: CurrentUser, svc: Svc) -> CompactJSONResponse:
    query = request.query_params
    include = query.get("include_public", query.get("include-public"))
    principal = Principal(username=user.username, user=user)
    rows = await projects.list_visible(svc, principal, as_bool(include, "include_public"))
    owner, name, search = query.get("owner"), query.get("name"), query.get("search")
    if owner:
        rows = [r for r in rows if r["owner"].lower() == owner.lower()]
    if name:
        rows = [r for r in rows if r["name"].lower() == name.lower()]
    if search:
        needle = search.lower()
        rows = [r for r in rows if needle in r["owner"].lower() or needle in r["name"].lower()]
    ordering = query.get("ordering")
    if ordering and ordering.lstrip("-") in ("owner", "name", "created_at"):
        key = ordering.lstrip("-")
        rows.sort(
            key=lambda r: r[key].lower() if isinstance(r[key], str) else r[key], reverse=ordering[0] == "-"
        )
    items = []
    for row in rows:
        access = projects.access_for(principal, row)
        if access is not None:
            items.append(projects.to_json(row, access))
    return paginate(request, items)


@router.post("/projects/", status_code=201)
async def create_project(request: Request, user: CurrentUser, svc: Svc) -> CompactJSONResponse:
    body = await read_body(request)
    if "is_public" in body:
        is_public = as_bool(body["is_public"], "is_public")
    else:
        is_public = not as_bool(body.get("private"), "private", default=True)
    principal = Principal(username=user.username, user=user)
    project_id = await projects.create(svc, principal, body, is_public)
    project, access = await projects.authorize(svc, principal, str(project_id), "reader")
    return CompactJSONResponse(projects.to_json(project, access), status_code=201)


@router.get("/projects/{project_id}/")
async def get_project(project_id: str, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    project, access = await projects.authorize(svc, principal, project_id, "reader")
    return CompactJSONResponse(projects.to_json(project, access))
