"""The ``rm_projects`` and ``rm_files`` read models."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as ev
from contracts.base import Envelope, EventData


class ProjectsProjection:
    name = "projects"
    tables: tuple[str, ...] = ("rm_projects", "rm_files", "rm_collaborators")

    async def apply(self, conn: AsyncConnection, env: Envelope, event: EventData) -> None:
        at = env.occurred_at
        match event:
            case ev.ProjectCreated():
                await conn.execute(
                    text(
                        "INSERT INTO rm_projects (id, name, owner, description, is_public, created_by,"
                        " created_at, updated_at) VALUES (:id, :name, :owner, :d, :p, :by, :at, :at)"
                    ),
                    {
                        "id": event.project_id,
                        "name": event.name,
                        "owner": event.owner,
                        "d": event.description,
                        "p": event.is_public,
                        "by": event.created_by,
                        "at": at,
                    },
                )
            case ev.ProjectUpdated():
                await _project_updated(conn, event, at)
            case ev.ThumbnailSet():
                await conn.execute(
                    text(
                        "UPDATE rm_projects SET thumbnail_blob_key = :k, thumbnail_type = :t WHERE id = :id"
                    ),
                    {"k": event.blob_key, "t": event.content_type, "id": event.project_id},
                )
            case ev.ProjectSettingsChanged():
                await conn.execute(
                    text(
                        "UPDATE rm_projects SET settings = settings || CAST(:s AS jsonb), updated_at = :at"
                        " WHERE id = :id"
                    ),
                    {"s": json.dumps(event.settings), "at": at, "id": event.project_id},
                )
            case ev.ProjectDeleted():
                for table in ("rm_files", "rm_collaborators"):
                    await conn.execute(
                        text(f"DELETE FROM {table} WHERE project_id = :id"), {"id": event.project_id}
                    )
                await conn.execute(text("DELETE FROM rm_projects WHERE id = :id"), {"id": event.project_id})
            case ev.CollaboratorAdded() | ev.CollaboratorRoleChanged() | ev.CollaboratorRemoved():
                await _collaborator(conn, event, at)
            case ev.FileUploaded():
                await _file_uploaded(conn, env, event)
            case ev.FileDeleted():
                await _file_deleted(conn, event, at)
            case ev.FileVersionsPruned():
                await conn.execute(
                    text("DELETE FROM rm_files WHERE project_id = :p AND version_id = ANY(:v)"),
                    {"p": event.project_id, "v": event.version_ids},
                )
            case ev.JobFinished(job_type="process_projectfile", feedback=feedback):
                details = (feedback.get("outputs") or {}).get("project_details", {}).get("project_details")
                await _set_details(conn, event.project_id, details, at)
            case ev.JobFailed(job_type="process_projectfile"):
                await _set_details(conn, event.project_id, None, at)


async def _file_uploaded(conn: AsyncConnection, env: Envelope, event: ev.FileUploaded) -> None:
    await conn.execute(
        text(
            "INSERT INTO rm_files (project_id, path, version_id, position, blob_key, size, md5sum, sha256,"
            " uploaded_by, uploaded_at) VALUES (:pid, :path, :vid, :pos, :key, :size, :md5, :sha, :by, :at)"
        ),
        {
            "pid": event.project_id,
            "path": event.path,
            "vid": event.version_id,
            "pos": env.position,
            "key": event.blob_key,
            "size": event.size,
            "md5": event.md5sum,
            "sha": event.sha256,
            "by": event.uploaded_by,
            "at": event.uploaded_at,
        },
    )
    await conn.execute(
        text(
            "UPDATE rm_projects SET data_last_updated_at = :at, updated_at = :at,"
            " project_file = CASE WHEN :is_pf THEN :path ELSE project_file END WHERE id = :pid"
        ),
        {"at": env.occurred_at, "is_pf": event.is_project_file, "path": event.path, "pid": event.project_id},
    )


async def _set_details(conn: AsyncConnection, project_id: object, details: object, at: object) -> None:
    await conn.execute(
        text("UPDATE rm_projects SET project_details = CAST(:d AS jsonb), updated_at = :at WHERE id = :id"),
        {"d": None if details is None else json.dumps(details), "at": at, "id": project_id},
    )


async def _project_updated(conn: AsyncConnection, event: ev.ProjectUpdated, at: object) -> None:
    changes = {
        key: value
        for key, value in (
            ("name", event.name),
            ("owner", event.owner),
            ("description", event.description),
            ("is_public", event.is_public),
            ("overwrite_conflicts", event.overwrite_conflicts),
        )
        if value is not None
    }
    assignments = "".join(f"{key} = :{key}, " for key in changes)
    await conn.execute(
        text(f"UPDATE rm_projects SET {assignments}updated_at = :at WHERE id = :id"),
        {**changes, "at": at, "id": event.project_id},
    )


async def _collaborator(
    conn: AsyncConnection,
    event: ev.CollaboratorAdded | ev.CollaboratorRoleChanged | ev.CollaboratorRemoved,
    at: object,
) -> None:
    key = {"p": event.project_id, "c": event.collaborator, "at": at}
    match event:
        case ev.CollaboratorAdded(role=role, added_by=by):
            await conn.execute(
                text(
                    "INSERT INTO rm_collaborators (project_id, collaborator, role, created_by, updated_by,"
                    " created_at, updated_at) VALUES (:p, :c, :r, :by, :by, :at, :at)"
                ),
                {**key, "r": role, "by": by},
            )
        case ev.CollaboratorRoleChanged(role=role, changed_by=by):
            await conn.execute(
                text(
                    "UPDATE rm_collaborators SET role = :r, updated_by = :by, updated_at = :at"
                    " WHERE project_id = :p AND collaborator = :c"
                ),
                {**key, "r": role, "by": by},
            )
        case ev.CollaboratorRemoved():
            await conn.execute(
                text("DELETE FROM rm_collaborators WHERE project_id = :p AND collaborator = :c"), key
            )


async def _file_deleted(conn: AsyncConnection, event: ev.FileDeleted, at: object) -> None:
    if event.version_id is None:
        await conn.execute(
            text("DELETE FROM rm_files WHERE project_id = :p AND path = :path"),
            {"p": event.project_id, "path": event.path},
        )
    else:
        await conn.execute(
            text("DELETE FROM rm_files WHERE project_id = :p AND path = :path AND version_id = :v"),
            {"p": event.project_id, "path": event.path, "v": event.version_id},
        )
    await conn.execute(
        text(
            "UPDATE rm_projects SET project_file = NULL, project_details = NULL, updated_at = :at"
            " WHERE id = :p AND project_file = :path"
            " AND NOT EXISTS (SELECT 1 FROM rm_files WHERE project_id = :p AND path = :path)"
        ),
        {"p": event.project_id, "path": event.path, "at": at},
    )
