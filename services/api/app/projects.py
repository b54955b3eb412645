"""Projects: queries with the caller's role, the JSON QField and the SDK expect, and project events."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.app import access, quota
from api.app.access import Access, access_for, parse_uuid
from api.auth import Principal
from api.context import Services
from api.errors import ObjectNotFound, PermissionDenied, ProjectAlreadyExists, ValidationError
from api.http import as_bool
from common.clock import new_id
from common.domain import projects as project_rules
from common.eventstore import ProjectionConflict
from contracts import events as ev

NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,255}$")
ORDERINGS = ("owner", "name", "created_at")

_PROJECT_COLUMNS = (
    "p.id, p.name, p.owner, p.description, p.is_public, p.created_at, p.updated_at, p.project_file,"
    " p.settings, p.overwrite_conflicts, p.project_details, p.data_last_updated_at, p.data_last_packaged_at,"
    " EXISTS (SELECT 1 FROM rm_jobs j WHERE j.project_id = p.id"
    " AND j.status IN ('queued', 'started')) AS busy,"
    " (SELECT coalesce(sum(f.size), 0) FROM rm_files f WHERE f.project_id = p.id) AS file_storage_bytes,"
    " (SELECT array_agg(c.collaborator ORDER BY lower(c.collaborator)) FROM rm_collaborators c"
    "  WHERE c.project_id = p.id AND c.collaborator LIKE '@%') AS teams," + access.ROLE_COLUMNS
)
_VISIBLE = (
    "lower(p.owner) = lower(:me)"
    " OR EXISTS (SELECT 1 FROM rm_collaborators c"
    "  WHERE c.project_id = p.id AND lower(c.collaborator) = lower(:me))"
    " OR EXISTS (SELECT 1 FROM users o LEFT JOIN users ou ON ou.id = o.organization_owner_id"
    "  LEFT JOIN users mu ON lower(mu.username) = lower(:me)"
    "  LEFT JOIN organization_members m ON m.organization_id = o.id AND m.user_id = mu.id"
    "  WHERE o.type = 2 AND lower(o.username) = lower(p.owner)"
    "  AND (lower(ou.username) = lower(:me) OR m.role = 'admin'))"
    " OR EXISTS (SELECT 1" + access.TEAM_COLLABORATIONS + ")"
)


async def load(conn: AsyncConnection, project_id: UUID, me: str = "") -> dict[str, Any] | None:
    row = (
        await conn.execute(
            text(f"SELECT {_PROJECT_COLUMNS} FROM rm_projects p WHERE p.id = :id"),
            {"id": project_id, "me": me},
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def authorize(
    svc: Services, principal: Principal, project_id: str | UUID, needed: str
) -> tuple[dict[str, Any], Access]:
    """The project and the caller's access, or 404 (unknown) / 403 (role too low)."""
    pid = project_id if isinstance(project_id, UUID) else parse_uuid(project_id)
    async with svc.engine.connect() as conn:
        project = await load(conn, pid, principal.username)
    if project is None:
        raise ObjectNotFound(f"No project with id {project_id}.")
    found = access_for(principal, project)
    if found is None:
        raise PermissionDenied("You do not have access to this project.")
    if not found.allows(needed):
        raise PermissionDenied(
            f"Your role {found.role!r} on this project does not allow this; {needed} is needed."
        )
    return project, found


async def list_visible(
    svc: Services,
    principal: Principal,
    *,
    include_public: bool,
    query: dict[str, str],
    only_public: bool = False,
) -> list[dict[str, Any]]:
    """Projects the caller belongs to (and public ones if asked), filtered and ordered as QFieldCloud does."""
    where = ["p.is_public"] if only_public else [f"({_VISIBLE}{' OR p.is_public' if include_public else ''})"]
    params: dict[str, Any] = {"me": principal.username}
    if query.get("owner"):
        where.append("lower(p.owner) = lower(:owner)")
        params["owner"] = query["owner"]
    if query.get("name"):
        where.append("lower(p.name) = lower(:name)")
        params["name"] = query["name"]
    if query.get("search"):
        where.append("(p.owner ILIKE :search OR p.name ILIKE :search)")
        params["search"] = (
            "%" + query["search"].replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        )
    order = "lower(p.owner), lower(p.name)"
    ordering = query.get("ordering", "")
    if ordering.lstrip("-") in ORDERINGS:
        column = ordering.lstrip("-")
        column = f"lower(p.{column})" if column != "created_at" else "p.created_at"
        order = f"{column} {'DESC' if ordering.startswith('-') else 'ASC'}, p.id"
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT {_PROJECT_COLUMNS} FROM rm_projects p WHERE {' AND '.join(where)} ORDER BY {order}"
            ),
            params,
        )
        return [dict(row._mapping) for row in rows]


def status(project: dict[str, Any]) -> str:
    if project["busy"]:
        return "busy"
    if not project["project_file"] or not project["project_details"]:
        return "failed"
    return "ok"


def attachment_dirs(project: dict[str, Any]) -> tuple[str, ...]:
    return project_rules.attachment_dirs(project.get("project_details"))


is_attachment = project_rules.is_attachment


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def needs_repackaging(project: dict[str, Any]) -> bool:
    details = project["project_details"]
    has_online = details is None or any(
        layer.get("type_name") in ("Vector", "VectorLayer") and not layer.get("filename")
        for layer in (details.get("layers_by_id") or {}).values()
    )
    return bool(
        has_online
        or project["data_last_packaged_at"] is None
        or project["data_last_updated_at"] is None
        or project["data_last_packaged_at"] < project["data_last_updated_at"]
    )


def to_json(project: dict[str, Any], found: Access) -> dict[str, Any]:
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
        "needs_repackaging": needs_repackaging(project),
        "status": status(project),
        "user_role": found.role,
        "user_role_origin": found.origin,
        "project_type": "regular",
        "shared_datasets_project_id": None,
        "is_shared_datasets_project": False,
        "is_featured": False,
        "is_attachment_download_on_demand": False,
        "has_restricted_projectfiles": False,
        "overwrite_conflicts": project["overwrite_conflicts"],
        "file_storage_bytes": int(project.get("file_storage_bytes") or 0),
        "the_qgis_file_name": project["project_file"],
        "teams": list(project.get("teams") or []),  # the teams collaborating, as @<organization>/<team>
    }


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValidationError("name: only letters, digits, '-', '_' and '.' are allowed, 1 to 255 of them.")
    return name


async def _append(
    svc: Services, project_id: UUID, events: list[Any], expected: int | None, name: str
) -> None:
    try:
        async with svc.store.transaction() as tx:
            await tx.append(
                ev.project_stream(project_id), events, expected_version=expected, correlation_id=new_id()
            )
    except ProjectionConflict as exc:
        raise ProjectAlreadyExists(f"A project named {name!r} already exists for this owner.") from exc


async def create(svc: Services, principal: Principal, fields: dict[str, Any], is_public: bool) -> UUID:
    name = check_name(str(fields.get("name") or ""))
    owner = str(fields.get("owner") or principal.username)
    owner = await svc.organizations.check_can_own(principal.username, owner)
    project_id = new_id()
    event = ev.ProjectCreated(
        project_id=project_id,
        name=name,
        owner=owner,
        description=str(fields.get("description") or ""),
        is_public=is_public,
        created_by=principal.username,
    )
    await _append(svc, project_id, [event], 0, name)
    return project_id


async def update(
    svc: Services,
    principal: Principal,
    project: dict[str, Any],
    fields: dict[str, Any],
    is_public: bool | None,
) -> None:
    name = check_name(str(fields["name"])) if fields.get("name") else None
    owner = None
    if fields.get("owner") and str(fields["owner"]).lower() != str(project["owner"]).lower():
        owner = await svc.organizations.check_can_own(principal.username, str(fields["owner"]))
        async with svc.engine.connect() as conn:  # the project's files move into the new owner's storage
            await quota.check(conn, svc, principal, owner, int(project.get("file_storage_bytes") or 0))
    description = str(fields["description"]) if "description" in fields else None
    overwrite = (
        as_bool(fields["overwrite_conflicts"], "overwrite_conflicts")
        if "overwrite_conflicts" in fields
        else None
    )
    event = ev.ProjectUpdated(
        project_id=project["id"],
        updated_by=principal.username,
        name=name,
        owner=owner,
        description=description,
        is_public=is_public,
        overwrite_conflicts=overwrite,
    )
    await _append(svc, project["id"], [event], None, name or project["name"])


async def delete(svc: Services, principal: Principal, project: dict[str, Any]) -> None:
    event = ev.ProjectDeleted(project_id=project["id"], deleted_by=principal.username)
    await _append(svc, project["id"], [event], None, project["name"])


async def thumbnail(svc: Services, project_id: UUID) -> tuple[str, str] | None:
    """The blob key and content type of the project's thumbnail, or None when it has none yet."""
    async with svc.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT thumbnail_blob_key, thumbnail_type FROM rm_projects WHERE id = :id"),
                {"id": project_id},
            )
        ).first()
    if row is None or row.thumbnail_blob_key is None:
        return None
    return str(row.thumbnail_blob_key), str(row.thumbnail_type)
