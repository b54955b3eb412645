"""Package endpoints (spec section 5): the latest successful package, its files, and the worker's uploads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import text
from starlette.datastructures import UploadFile

from api import blobserve
from api.app import files, projects
from api.app.access import parse_uuid
from api.auth import PersonOrJob, Svc
from api.context import Services
from api.errors import ApiError, ObjectNotFound, PermissionDenied
from api.http import CompactJSONResponse, as_bool, single_file
from common.clock import new_id
from contracts import events as ev
from storage.domain.digests import Digester

router = APIRouter()


class InvalidJob(ApiError):
    """The project has no package yet (never packaged, or no package job succeeded)."""

    code, status = "invalid_job", 400


@router.post("/packages/{project_id}/{job_id}/files/{path:path}", status_code=201)
async def upload_package_file(
    request: Request, project_id: str, job_id: str, path: str, principal: PersonOrJob, svc: Svc
) -> CompactJSONResponse:
    """Only the worker of a running package job, with its job token, may add files to its package."""
    jid = parse_uuid(job_id, "job")
    if principal.job is None or principal.job.job_id != jid:
        raise PermissionDenied("Only the worker of this package job can upload its files.")
    project, _ = await projects.authorize(svc, principal, project_id, "reporter")
    async with svc.engine.connect() as conn:
        job_type = (
            await conn.execute(text("SELECT type FROM rm_jobs WHERE id = :id"), {"id": jid})
        ).scalar_one()
    if job_type != "package":
        raise PermissionDenied("Only package jobs have package files.")
    clean = files.clean_path(path.removesuffix("/"))
    async with single_file(request) as upload:
        stored = await _store(svc, project["id"], jid, clean, upload)
    return CompactJSONResponse(stored, status_code=201)


async def _store(
    svc: Services, project_id: UUID, job_id: UUID, path: str, upload: UploadFile
) -> dict[str, Any]:
    blob_key = f"projects/{project_id}/packages/{job_id}/{new_id()}"
    digester = Digester()
    await svc.blobs.put(blob_key, files.read_chunks(upload, digester))
    event = ev.PackageFileStored(
        job_id=job_id,
        project_id=project_id,
        path=path,
        blob_key=blob_key,
        size=digester.size,
        md5sum=digester.etag,
        sha256=digester.sha256,
    )
    try:
        async with svc.store.transaction() as tx:
            await tx.append(ev.job_stream(job_id), [event], expected_version=None, correlation_id=new_id())
    except BaseException:
        await svc.blobs.delete(blob_key)
        raise
    return {"name": path, "size": digester.size, "sha256": digester.sha256, "md5sum": digester.etag}


async def _latest(svc: Services, project: dict[str, Any]) -> tuple[UUID, list[dict[str, Any]]]:
    async with svc.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT last_package_job_id, last_package_layers FROM rm_projects WHERE id = :id"),
                {"id": project["id"]},
            )
        ).one()
        if row.last_package_job_id is None:
            raise InvalidJob("Packaging has never been triggered or successful.")
        stored = await conn.execute(
            text(
                "SELECT path, blob_key, size, md5sum, sha256, stored_at FROM rm_package_files"
                " WHERE job_id = :j ORDER BY path"
            ),
            {"j": row.last_package_job_id},
        )
        package_files = [dict(r._mapping) for r in stored]
    if not package_files:
        raise InvalidJob("Empty project package.")
    return row.last_package_job_id, package_files


@router.get("/packages/{project_id}/latest/")
async def latest_package(
    request: Request, project_id: str, principal: PersonOrJob, svc: Svc
) -> CompactJSONResponse:
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    package_id, package_files = await _latest(svc, project)
    skip = as_bool(request.query_params.get("skip_metadata"), "skip_metadata")
    listed = [
        _file_json(
            f["path"],
            f["size"],
            f["md5sum"],
            f["sha256"],
            f["stored_at"],
            is_attachment=False,
            skip_metadata=skip,
        )
        for f in package_files
    ]
    dirs = projects.attachment_dirs(project)
    for version in await files.versions(svc, project["id"]):
        if version.is_latest and projects.is_attachment(version.path, dirs):
            listed.append(
                _file_json(
                    version.path,
                    version.size,
                    version.md5sum,
                    version.sha256,
                    version.uploaded_at,
                    is_attachment=True,
                    skip_metadata=skip,
                )
            )
    async with svc.engine.connect() as conn:
        layers = (
            await conn.execute(
                text("SELECT last_package_layers FROM rm_projects WHERE id = :id"), {"id": project["id"]}
            )
        ).scalar_one()
    return CompactJSONResponse(
        {
            "files": listed,
            "layers": layers,
            "status": "finished",
            "package_id": str(package_id),
            "packaged_at": _iso(project["data_last_packaged_at"]),
            "data_last_updated_at": _iso(project["data_last_updated_at"]),
        }
    )


@router.get("/packages/{project_id}/latest/files/{path:path}")
async def latest_package_file(
    request: Request, project_id: str, path: str, principal: PersonOrJob, svc: Svc
) -> Response:
    """A file of the latest package; attachments (DCIM/...) come from the project's files."""
    project, _ = await projects.authorize(svc, principal, project_id, "reader")
    clean = files.clean_path(path.removesuffix("/"))
    _, package_files = await _latest(svc, project)
    found = next((f for f in package_files if f["path"] == clean), None)
    if found is not None:
        return blobserve.serve(
            svc, request, blob_key=found["blob_key"], size=found["size"], etag=found["md5sum"], name=clean
        )
    if projects.is_attachment(clean, projects.attachment_dirs(project)):
        history = await files.versions(svc, project["id"], clean)
        if history:
            latest = history[0]
            return blobserve.serve(
                svc, request, blob_key=latest.blob_key, size=latest.size, etag=latest.md5sum, name=clean
            )
    raise ObjectNotFound(f"No file {clean!r} in the latest package.")


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _file_json(
    name: str, size: int, md5sum: str, sha256: str, at: Any, *, is_attachment: bool, skip_metadata: bool
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "size": size,
        "md5sum": md5sum,
        "last_modified": _iso(at),
        "is_attachment": is_attachment,
    }
    if not skip_metadata:
        data["sha256"] = sha256
    return data
