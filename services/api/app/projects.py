"""Project reads and writes: access rules, the JSON QField and the SDK expect, and ProjectCreated."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth import Principal
from api.context import Services
from api.errors import ObjectNotFound, PermissionDenied, ProjectAlreadyExists, ValidationError
from common.clock import new_id
from common.eventstore import ProjectionConflict
from contracts import events as ev

NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]+$")
DEFAULT_ATTACHMENT_DIRS = ("DCIM",)
ROLE_RANK = {"reader": 1, "reporter": 2, "editor": 3, "manager": 4, "admin": 5}

_PROJECT_COLUMNS = (
    "p.id, p.name, p.owner, p.description, p.is_public, p.created_at, p.updated_at, p.project_file,"
    " p.project_details, p.data_last_updated_at, p.data_last_packaged_at,"
    " EXISTS (SELECT 1 FROM rm_jobs j WHERE j.project_id = p.id"
    " AND j.status IN ('queued', 'started')) AS busy,"
    " (SELECT coalesce(sum(f.size), 0) FROM rm_files f WHERE f.project_id = p.id) AS file_storage_bytes"
)


@dataclass(frozen=True)
class Access:
    role: str
    origin: str

    def allows(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]


def access_for(principal: Principal, project: dict[str, Any]) -> Access | None:
    if principal.job is not None:
        return Access("editor", "worker") if principal.job.project_id == project["id"] else None
    if principal.username.lower() == str(project["owner"]).lower():
        return Access("admin", "project_owner")
    if project["is_public"]:
        return Access("reader", "public")
    return None


def parse_uuid(value: str, what: str = "project") -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise ObjectNotFound(f"No {what} with id {value!r}.") from exc


async def load(conn: AsyncConnection, project_id: UUID) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            text(f"SELECT {_PROJECT_COLUMNS} FROM rm_projects p WHERE p.id = :id"), {"id": project_id}
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def authorize(
    svc: Services, principal: Principal, project_id: str, needed: str
) -> tuple[dict[str, Any], Access]:
    """The project and the caller's access, or 404 (unknown) / 403 (role too low)."""
    pid = parse_uuid(project_id)
    async with svc.engine.connect() as conn:
        project = await load(conn, pid)
    if project is None:
        raise ObjectNotFound(f"No project with id {project_id}.")
    access = access_for(principal, project)
    if access is None or not access.allows(needed):
        raise PermissionDenied("You do not have the permission to do this on the project.")
    return project, access


def status(project: dict[str, Any]) -> str:
    if project["busy"]:
        return "busy"
    if not project["project_file"] or not project["project_details"]:
        return "failed"
    return "ok"


def attachment_dirs(project: dict[str, Any]) -> tuple[str, ...]:
    details = project.get("project_details") or {}
    dirs = details.get("attachment_dirs") or DEFAULT_ATTACHMENT_DIRS
    return tuple(str(d).strip("/") for d in dirs if str(d).strip("/"))


def is_attachment(path: str, dirs: tuple[str, ...]) -> bool:
    """A path inside an attachment dir (``DCIM/a.jpg``); unlike upstream, ``DCIMx.txt`` is not one."""
    return any(path == d or path.startswith(d + "/") for d in dirs)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def to_json(project: dict[str, Any], access: Access) -> dict[str, Any]:
    details = project["project_details"]
    has_online = details is None or any(
        layer.get("type_name") in ("Vector", "VectorLayer") and not layer.get("filename")
        for layer in (details.get("layers_by_id") or {}).values()
    )
    needs_repackaging = (
        has_online
        or project["data_last_packaged_at"] is None
        or project["data_last_updated_at"] is None
        or project["data_last_packaged_at"] < project["data_last_updated_at"]
    )
    return {
        "id": str(project["id"]),
        "name": project["name"],
        "owner": project["owner"],
        "description": project["description"],
        "private": not project["is_public"],
        "is_public": project["is_public"],
        "created_at": _iso(project["created_at"]),
        "updated_at": _iso(project["updated_at"]),
        "data_last_packaged_at": _iso(project["data_last_packaged_at"]),
        "data_last_updated_at": _iso(project["data_last_updated_at"]),
        "restricted_data_last_updated_at": None,
        "can_repackage": True,
        "needs_repackaging": needs_repackaging,
        "status": status(project),
        "user_role": access.role,
        "user_role_origin": access.origin,
        "project_type": "regular",
        "shared_datasets_project_id": None,
        "is_shared_datasets_project": False,
        "is_featured": False,
        "is_attachment_download_on_demand": False,
        "has_restricted_projectfiles": False,
        "overwrite_conflicts": True,
        "file_storage_bytes": int(project.get("file_storage_bytes") or 0),
        "the_qgis_file_name": project["project_file"],
    }


async def list_visible(svc: Services, principal: Principal, include_public: bool) -> list[dict[str, Any]]:
    clause = "lower(p.owner) = lower(:me)" + (" OR p.is_public" if include_public else "")
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT {_PROJECT_COLUMNS} FROM rm_projects p WHERE {clause}"
                " ORDER BY lower(p.owner), lower(p.name)"
            ),
            {"me": principal.username},
        )
        return [dict(row._mapping) for row in rows]


async def create(svc: Services, principal: Principal, fields: dict[str, Any], is_public: bool) -> UUID:
    name = str(fields.get("name") or "")
    if not NAME_RE.match(name):
        raise ValidationError(
            "name: only letters, digits, '-', '_' and '.' are allowed, and it may not be empty."
        )
    owner = str(fields.get("owner") or principal.username)
    if owner.lower() != principal.username.lower():
        raise PermissionDenied(f"You cannot create projects for {owner!r}.")
    project_id = new_id()
    event = ev.ProjectCreated(
        project_id=project_id,
        name=name,
        owner=principal.username,
        description=str(fields.get("description") or ""),
        is_public=is_public,
        created_by=principal.username,
    )
    try:
        async with svc.store.transaction() as tx:
            await tx.append(
                ev.project_stream(project_id), [event], expected_version=0, correlation_id=new_id()
            )
    except ProjectionConflict as exc:
        raise ProjectAlreadyExists(f"A project named {name!r} already exists for {owner}.") from exc
    return project_id
