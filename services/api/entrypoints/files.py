"""File endpoints (spec section 4): list, streamed upload, download with ETag and Range."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.datastructures import UploadFile

from api.app import files, projects
from api.auth import PersonOrJob, Svc
from api.errors import EmptyContent, InvalidHttpRange, MultipleContents, ObjectNotFound
from api.http import CompactJSONResponse, as_bool

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
    form = await request.form(max_files=4, max_fields=16)
    try:
        parts = [value for value in form.getlist("file") if isinstance(value, UploadFile)]
        if not parts:
            raise EmptyContent("The request has no 'file' part.")
        if len(parts) > 1:
            raise MultipleContents("The request has more than one 'file' part.")
        await files.store_upload(svc, principal, project, clean, parts[0])
    finally:
        await form.close()
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
    headers = {
        "ETag": f'"{chosen.md5sum}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(clean.rsplit('/', 1)[-1])}",
    }
    if request.headers.get("if-none-match", "").strip('"') == chosen.md5sum:
        return Response(status_code=304, headers=headers)
    range_header = request.headers.get("range")
    if range_header is None:
        headers["Content-Length"] = str(chosen.size)
        return StreamingResponse(
            _stream(svc, chosen.blob_key, 0, None), headers=headers, media_type="application/octet-stream"
        )
    start, end = parse_range(range_header, chosen.size)
    headers["Content-Range"] = f"bytes {start}-{end}/{chosen.size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        _stream(svc, chosen.blob_key, start, end),
        status_code=206,
        headers=headers,
        media_type="application/octet-stream",
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


def parse_range(header: str, size: int) -> tuple[int, int]:
    """One ``bytes=a-b`` range within the file; anything else is 416 (never a full 200)."""
    match = RANGE_RE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise InvalidHttpRange(f"Unsupported Range header {header!r}.")
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        raise InvalidHttpRange(f"Range {header!r} is outside the file of {size} bytes.")
    return start, end


async def _stream(svc: Svc, key: str, start: int, end: int | None) -> AsyncIterator[bytes]:
    async for chunk in svc.blobs.read(key, start, end):
        yield chunk
