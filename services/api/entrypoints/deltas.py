"""Delta endpoints (spec section 7): QField pushes its field edits and polls their status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.app import deltas, projects
from api.app.access import parse_uuid
from api.auth import CurrentPrincipal, Svc
from api.http import CompactJSONResponse, paginate, single_file

router = APIRouter()
MAX_DELTAFILE_BYTES = 20 * 1024 * 1024


@router.post("/deltas/{project_id}/")
async def push_deltas(request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc) -> Response:
    """Multipart field ``file`` = the deltafile JSON. 200 with an empty body, as QFieldCloud answers."""
    project, found = await projects.authorize(svc, principal, project_id, "reporter")
    async with single_file(request) as upload:
        raw = await upload.read(MAX_DELTAFILE_BYTES + 1)
    if len(raw) > MAX_DELTAFILE_BYTES:
        raise deltas.InvalidDeltafile(
            f"The deltafile is larger than {MAX_DELTAFILE_BYTES // 1024 // 1024} MiB."
        )
    await deltas.push(svc, principal, project, found, raw)
    return Response(status_code=200)


@router.get("/deltas/{project_id}/")
async def list_deltas(
    request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "reporter")
    return paginate(request, await deltas.listing(svc, project["id"]))


@router.get("/deltas/{project_id}/{deltafile_id}/")
async def list_deltafile(
    request: Request, project_id: str, deltafile_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "reporter")
    return paginate(request, await deltas.listing(svc, project["id"], parse_uuid(deltafile_id, "deltafile")))
