"""The projects list and one project's overview: files, status, layer checks and thumbnail."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.app import files, projects, quota
from api.app.access import Access, access_for
from api.auth import Svc
from api.errors import ObjectNotFound
from api.web import render
from api.web.session import Viewer

router = APIRouter()


def project_context(project: dict[str, Any], found: Access, tab: str) -> dict[str, Any]:
    """What every project page shows in its header and tabs."""
    return {
        "project": project,
        "access": found,
        "status": projects.status(project),
        "tab": tab,
        "base": f"{render.PREFIX}/projects/{project['id']}",
    }


def layer_rows(details: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The layer check table of the last processed project file, in the project's layer order."""
    if not details:
        return []
    by_id: dict[str, dict[str, Any]] = details.get("layers_by_id") or {}
    order = [i for i in details.get("ordered_layer_ids") or [] if i in by_id]
    order += [i for i in by_id if i not in order]
    return [
        {
            "name": by_id[i].get("name") or i,
            "type": by_id[i].get("type_name") or "",
            "provider": by_id[i].get("provider_name") or "",
            "valid": bool(by_id[i].get("is_valid")),
            "status": by_id[i].get("error_code") or ("no_error" if by_id[i].get("is_valid") else "unknown"),
            "error": by_id[i].get("error_summary") or "",
            "provider_error": by_id[i].get("provider_error_summary") or "",
        }
        for i in order
    ]


@router.get("/")
async def project_list(request: Request, viewer: Viewer, svc: Svc) -> Response:
    rows = await projects.list_visible(svc, viewer, include_public=False, query={})
    items = []
    for row in rows:
        found = access_for(viewer, row)
        if found is not None:
            items.append({"project": row, "role": found.role, "status": projects.status(row)})
    storage = await quota.of(svc, viewer.username)
    return render.page(request, "projects.html", viewer, items=items, storage=storage)


@router.get("/projects/{project_id}/")
async def project_page(request: Request, project_id: str, viewer: Viewer, svc: Svc) -> Response:
    project, found = await projects.authorize(svc, viewer, project_id, "reader")
    listing = files.listing(await files.versions(svc, project["id"]), projects.attachment_dirs(project), True)
    details = project["project_details"]
    return render.page(
        request,
        "project.html",
        viewer,
        files=listing,
        layers=layer_rows(details),
        details=details or {},
        has_thumbnail=await projects.thumbnail(svc, project["id"]) is not None,
        **project_context(project, found, "overview"),
    )


@router.get("/projects/{project_id}/thumbnail")
async def thumbnail(project_id: str, viewer: Viewer, svc: Svc) -> Response:
    project, _ = await projects.authorize(svc, viewer, project_id, "reader")
    found = await projects.thumbnail(svc, project["id"])
    if found is None:
        raise ObjectNotFound("This project has no thumbnail yet.")
    blob_key, content_type = found
    chunks = [chunk async for chunk in svc.blobs.read(blob_key)]  # at most 5 MiB
    return Response(
        b"".join(chunks), media_type=content_type, headers={"Cache-Control": "private, max-age=60"}
    )
