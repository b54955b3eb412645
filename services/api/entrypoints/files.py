"""File endpoints (spec section 4): list, streamed upload, download with ETag and Range."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import blobserve
from api.app import files, projects
from api.auth import PersonOrJob, Svc
from api.errors import ObjectNotFound
from api.http import CompactJSONResponse, as_bool, single_file

router = APIRouter()
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@router.get("/files/{project_id}/")
async def list_files(
    request: Request, project_id: str, principal: PersonOrJob, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    skip = as_bool(request.query_params.get("skip_metadata"), "skip_metadata")
    items = await files.versions(svc, project["id"])
    return CompactJSONResponse(files.listing(items, projects.attachment_dirs(project), skip))


@router.post("/files/{project_id}/{path:path}", status_code=201)
async def upload_file(
    request: Request, project_id: str, path: str, principal: PersonOrJob, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "reporter")
    clean = files.clean_path(path.removesuffix("/"))
    async with single_file(request) as upload:
        await files.store_upload(svc, principal, project, clean, upload)
    location = f"/api/v1/files/{project_id}/{quote(clean)}/"
    return CompactJSONResponse({}, status_code=201, headers={"Location": location})


@router.get("/files/{project_id}/{path:path}")
async def download_file(
    request: Request, project_id: str, path: str, principal: PersonOrJob, svc: Svc
) -> Response:
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    clean = files.clean_path(path.removesuffix("/"))
    history = await files.versions(svc, project["id"], clean)
    wanted = request.query_params.get("version")
    if wanted:
        chosen = next((v for v in history if str(v.version_id) == wanted), None)
    else:
        chosen = history[0] if history else None
    if chosen is None:
        raise ObjectNotFound(f"No file {clean!r} in this project.")
    return blobserve.serve(
        svc, request, blob_key=chosen.blob_key, size=chosen.size, etag=chosen.md5sum, name=clean
    )


@router.delete("/files/{project_id}/{path:path}")
async def delete_file(
    request: Request, project_id: str, path: str, principal: PersonOrJob, svc: Svc
) -> Response:
    """The file with all versions, or one version (``x-file-version`` header or ``?version=``)."""
    project, _ = await projects.authorize(svc, principal, project_id, "editor")
    clean = files.clean_path(path.removesuffix("/"))
    version = request.headers.get("x-file-version") or request.query_params.get("version")
    await files.delete(svc, principal, project, clean, version)
    return Response(status_code=204)
