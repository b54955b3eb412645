"""Project files: streamed uploads that become FileUploaded events, listings and ranged downloads."""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import UploadFile

from api.app import projects, quota
from api.auth import Principal
from api.context import Services
from api.errors import ExplicitDeletionOfLastVersion, MultipleProjects, ObjectNotFound, ValidationError
from common.clock import new_id
from contracts import events as ev
from contracts.base import EventData
from storage.domain.digests import Digester
from storage.ports import CHUNK

MAX_PATH = 1024
PROJECT_EXTENSIONS = (".qgs", ".qgz")


def clean_path(raw: str) -> str:
    """A safe relative POSIX path, or ValidationError: no absolute paths, ``..``, backslashes or NUL."""
    if not raw or len(raw) > MAX_PATH or "\x00" in raw or "\\" in raw:
        raise ValidationError("Invalid file path: empty, too long, or with a backslash or NUL.")
    if raw.startswith("/") or any(part in ("", ".", "..") for part in raw.split("/")):
        raise ValidationError(
            f"Invalid file path {raw!r}: only relative paths inside the project are allowed."
        )
    return posixpath.normpath(raw)


def is_project_file(path: str) -> bool:
    return path.lower().endswith(PROJECT_EXTENSIONS)


async def read_chunks(upload: UploadFile, digester: Digester) -> AsyncIterator[bytes]:
    """The upload in chunks of at most 1 MiB, fed through ``digester`` on the way."""
    while chunk := await upload.read(CHUNK):
        digester.update(chunk)
        yield chunk


async def store_upload(
    svc: Services, principal: Principal, project: dict[str, Any], path: str, upload: UploadFile
) -> UUID:
    """Stream the file into the blob store, then record FileUploaded; returns the new version id."""
    if is_project_file(path) and project["project_file"] and project["project_file"] != path:
        raise MultipleProjects(f"The project already has the project file {project['project_file']!r}.")
    async with svc.engine.connect() as conn:  # a full account is refused before the bytes arrive
        await quota.check(conn, svc, principal, project["owner"], 0)
    version_id = new_id()
    blob_key = f"projects/{project['id']}/files/{version_id}"
    digester = Digester()
    await svc.blobs.put(blob_key, read_chunks(upload, digester))
    try:
        async with svc.store.transaction() as tx:
            await tx.lock()
            current = await projects.load(tx.conn, project["id"])
            if current is None:
                raise ObjectNotFound("The project was deleted during the upload.")
            pruned = await _versions_beyond(tx.conn, project["id"], path, svc.settings.file_versions_kept - 1)
            freed = await _size_of(tx.conn, project["id"], pruned)
            await quota.check(tx.conn, svc, principal, current["owner"], digester.size - freed)
            if is_project_file(path) and current["project_file"] and current["project_file"] != path:
                raise MultipleProjects(
                    f"The project already has the project file {current['project_file']!r}."
                )
            event = ev.FileUploaded(
                project_id=project["id"],
                path=path,
                version_id=version_id,
                blob_key=blob_key,
                size=digester.size,
                md5sum=digester.etag,
                sha256=digester.sha256,
                uploaded_by=principal.username,
                uploaded_at=svc.clock.now(),
                is_attachment=projects.is_attachment(path, projects.attachment_dirs(current)),
                is_project_file=is_project_file(path),
                by_job=principal.job.job_id if principal.job else None,
            )
            events: list[EventData] = [event]
            if pruned:
                events.append(ev.FileVersionsPruned(project_id=project["id"], path=path, version_ids=pruned))
            await tx.append(
                ev.project_stream(project["id"]), events, expected_version=None, correlation_id=new_id()
            )
    except BaseException:
        await svc.blobs.delete(blob_key)
        raise
    return version_id


async def _size_of(conn: AsyncConnection, project_id: UUID, version_ids: list[UUID]) -> int:
    """Bytes the given versions occupy (the ones an upload prunes leave the account's usage)."""
    if not version_ids:
        return 0
    size = (
        await conn.execute(
            text(
                "SELECT coalesce(sum(size), 0) FROM rm_files WHERE project_id = :p AND version_id = ANY(:v)"
            ),
            {"p": project_id, "v": version_ids},
        )
    ).scalar_one()
    return int(size)


async def _versions_beyond(conn: AsyncConnection, project_id: UUID, path: str, keep: int) -> list[UUID]:
    """Ids of the stored versions of ``path`` older than the newest ``keep``."""
    rows = await conn.execute(
        text(
            "SELECT version_id FROM rm_files WHERE project_id = :p AND path = :path"
            " ORDER BY position DESC OFFSET :keep"
        ),
        {"p": project_id, "path": path, "keep": max(keep, 0)},
    )
    return [row[0] for row in rows]


async def delete(
    svc: Services, principal: Principal, project: dict[str, Any], path: str, version: str | None
) -> None:
    """Delete one version (``version`` set) or the whole file; its blobs go to the collector."""
    history = await versions(svc, project["id"], path)
    if not history:
        raise ObjectNotFound(f"No file {path!r} in this project.")
    version_id = None
    if version:
        match = next((v for v in history if str(v.version_id) == version), None)
        if match is None:
            raise ObjectNotFound(f"No version {version!r} of {path!r}.")
        if len(history) == 1:
            raise ExplicitDeletionOfLastVersion("This is the only version; delete the file instead.")
        version_id = match.version_id
    event = ev.FileDeleted(
        project_id=project["id"], path=path, version_id=version_id, deleted_by=principal.username
    )
    async with svc.store.transaction() as tx:
        await tx.append(
            ev.project_stream(project["id"]), [event], expected_version=None, correlation_id=new_id()
        )


@dataclass(frozen=True)
class Version:
    path: str
    version_id: UUID
    blob_key: str
    size: int
    md5sum: str
    sha256: str
    uploaded_at: datetime
    is_latest: bool


async def versions(svc: Services, project_id: UUID, path: str | None = None) -> list[Version]:
    """All versions of the project's files (or of one path), newest first per path."""
    where = "project_id = :pid" + (" AND path = :path" if path is not None else "")
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT path, version_id, blob_key, size, md5sum, sha256, uploaded_at,"
                " row_number() OVER (PARTITION BY path ORDER BY position DESC) = 1 AS is_latest"
                f" FROM rm_files WHERE {where} ORDER BY path, position DESC"
            ),
            {"pid": project_id, "path": path},
        )
        return [Version(**row._mapping) for row in rows]


def legacy_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%d.%m.%Y %H:%M:%S UTC")


def listing(items: list[Version], dirs: tuple[str, ...], skip_metadata: bool) -> list[dict[str, Any]]:
    by_path: dict[str, list[Version]] = {}
    for version in items:
        by_path.setdefault(version.path, []).append(version)
    result = []
    for path, history in by_path.items():
        latest = history[0]
        entry: dict[str, Any] = {
            "name": path,
            "size": latest.size,
            "md5sum": latest.md5sum,
            "last_modified": legacy_time(latest.uploaded_at),
            "uploaded_at": latest.uploaded_at.isoformat(),
            "is_attachment": projects.is_attachment(path, dirs),
            "versions": [_version_json(v, skip_metadata) for v in history],
        }
        if not skip_metadata:
            entry["sha256"] = latest.sha256
        result.append(entry)
    return result


def _version_json(version: Version, skip_metadata: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version_id": str(version.version_id),
        "md5sum": version.md5sum,
        "size": version.size,
        "last_modified": legacy_time(version.uploaded_at),
        "uploaded_at": version.uploaded_at.isoformat(),
        "is_latest": version.is_latest,
        "display": version.uploaded_at.astimezone(UTC).strftime("v%Y%m%d%H%M%S"),
    }
    if not skip_metadata:
        data["sha256"] = version.sha256
    return data
