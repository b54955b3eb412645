"""Project endpoints (spec section 3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.app import files, projects
from api.app.access import access_for
from api.auth import CurrentPrincipal, PersonOrJob, Principal, Svc
from api.errors import ObjectNotFound, ValidationError
from api.http import CompactJSONResponse, as_bool, paginate, read_body, single_file
from common.clock import new_id
from contracts import events as ev
from storage.domain.digests import Digester

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


IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}
MAX_THUMBNAIL_BYTES = 5 * 1024 * 1024


@router.post("/projects/{project_id}/thumbnail/", status_code=204)
async def upload_thumbnail(request: Request, project_id: str, principal: PersonOrJob, svc: Svc) -> Response:
    """A PNG, JPEG or WebP image in field ``thumbnail``, from a manager or from a job of the project."""
    if principal.job is not None:
        project, _ = await projects.authorize(svc, principal, project_id, "reader")
    else:
        project, _ = await projects.authorize(svc, principal, project_id, "manager")
    async with single_file(request, field="thumbnail") as upload:
        head = await upload.read(16)
        content_type = next((kind for magic, kind in IMAGE_TYPES.items() if head.startswith(magic)), None)
        if content_type is None:
            raise ValidationError("The thumbnail must be a PNG, JPEG or WebP image.")
        await upload.seek(0)
        blob_key = f"projects/{project['id']}/thumbnails/{new_id()}"
        digester = Digester()
        size = await svc.blobs.put(blob_key, files.read_chunks(upload, digester))
        if size > MAX_THUMBNAIL_BYTES:
            await svc.blobs.delete(blob_key)
            raise ValidationError(f"The thumbnail must be at most {MAX_THUMBNAIL_BYTES // 1024 // 1024} MiB.")
    event = ev.ThumbnailSet(
        project_id=project["id"],
        blob_key=blob_key,
        content_type=content_type,
        size=size,
        set_by=principal.username,
    )
    async with svc.store.transaction() as tx:
        await tx.append(
            ev.project_stream(project["id"]), [event], expected_version=None, correlation_id=new_id()
        )
    return Response(status_code=204)


@router.get("/files/thumbnails/{project_id}/")
async def thumbnail(request: Request, project_id: str, principal: PersonOrJob, svc: Svc) -> Response:
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    found = await projects.thumbnail(svc, project["id"])
    if found is None:
        raise ObjectNotFound("This project has no thumbnail yet.")
    blob_key, content_type = found
    chunks = [chunk async for chunk in svc.blobs.read(blob_key)]  # at most 5 MiB
    return Response(
        b"".join(chunks), media_type=content_type, headers={"Cache-Control": "private, max-age=60"}
    )
