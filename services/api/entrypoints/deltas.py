"""Delta endpoints (spec section 7): QField pushes its field edits and polls their status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.app import deltas, projects
from api.app import jobs as job_requests
from api.app.access import parse_uuid
from api.auth import CurrentPrincipal, Svc
from api.http import CompactJSONResponse, as_bool, paginate, read_body, single_file

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


@router.post("/deltas/apply/{project_id}/")
async def apply_pending(project_id: str, principal: CurrentPrincipal, svc: Svc) -> Response:
    """QFieldCloud's deprecated "apply pending changes": a delta_apply job over every pending delta."""
    project, _ = await projects.authorize(svc, principal, project_id, "reporter")
    if not project["project_file"]:
        raise deltas.NoQgisProject("The project has no QGIS project file; deltas cannot be applied to it.")
    await job_requests.request_job(svc, principal, project["id"], "delta_apply", force=False, params={})
    return Response(status_code=200)


@router.get("/deltas/{project_id}/conflicts/")
async def conflicts(
    request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    """Deltas in conflict, each with base, current and incoming values per field and for the geometry."""
    project, _ = await projects.authorize(svc, principal, project_id, "reporter")
    items = [d for d in await deltas.listing(svc, project["id"]) if d["last_status"] == "conflict"]
    for item in items:
        item["conflicts"] = (item["last_feedback"] or {}).get("conflicts") or []
    return paginate(request, items)


@router.post("/deltas/{project_id}/resolve/")
async def resolve(
    request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    """Managers resolve conflicts ("Save all"): ``{"resolutions": [{"delta_id", "resolution", "merged"}],
    "apply": true}``; ``apply`` then asks for a delta_apply job over every pending delta."""
    project, _ = await projects.authorize(svc, principal, project_id, "manager")
    body = await read_body(request)
    resolved = await deltas.resolve(svc, principal, project, body.get("resolutions"))
    job_id = None
    if as_bool(body.get("apply"), "apply"):
        job_id, _ = await job_requests.request_job(
            svc, principal, project["id"], "delta_apply", force=False, params={}
        )
    return CompactJSONResponse({"resolved": resolved, "job_id": None if job_id is None else str(job_id)})


@router.get("/deltas/{project_id}/{deltafile_id}/")
async def list_deltafile(
    request: Request, project_id: str, deltafile_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "reporter")
    return paginate(request, await deltas.listing(svc, project["id"], parse_uuid(deltafile_id, "deltafile")))
