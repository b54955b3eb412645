"""Project collaborators: who has which of the five roles. Every change is a project event."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text

from api.app import teams
from api.app.access import ROLES
from api.auth import Principal
from api.context import Services
from api.errors import ObjectNotFound, ValidationError
from common.clock import new_id
from contracts import events as ev
from contracts.base import EventData


def check_role(role: Any) -> str:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}.")
    return str(role)


async def list_for(svc: Services, project_id: UUID) -> list[dict[str, Any]]:
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT project_id, collaborator, role, created_by, updated_by, created_at, updated_at"
                " FROM rm_collaborators WHERE project_id = :p ORDER BY lower(collaborator)"
            ),
            {"p": project_id},
        )
        return [to_json(dict(row._mapping)) for row in rows]


async def get(svc: Services, project_id: UUID, username: str) -> dict[str, Any]:
    for item in await list_for(svc, project_id):
        if item["collaborator"].lower() == username.lower():
            return item
    raise ObjectNotFound(f"{username!r} is not a collaborator of this project.")


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    def iso(value: datetime) -> str:
        return value.isoformat()

    return {
        "project_id": str(row["project_id"]),
        "collaborator": row["collaborator"],
        "role": row["role"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


async def add(svc: Services, principal: Principal, project: dict[str, Any], username: str, role: str) -> None:
    """Add a person, or a team of the owning organization as ``@<organization>/<team>``."""
    name = await _team_collaborator(svc, project, username) if teams.parse_collaborator(username) else None
    if name is None:
        user = await svc.accounts.get(username)
        if user is None:
            raise ValidationError(f"There is no user named {username!r}.")
        if user.username.lower() == str(project["owner"]).lower():
            raise ValidationError("The project owner cannot be a collaborator of their own project.")
        name = user.username
    if any(c["collaborator"].lower() == name.lower() for c in await list_for(svc, project["id"])):
        raise ValidationError(f"{name!r} is already a collaborator of this project.")
    event = ev.CollaboratorAdded(
        project_id=project["id"],
        collaborator=name,
        role=role,
        added_by=principal.username,  # type: ignore[arg-type]
    )
    await _append(svc, project["id"], event)


async def _team_collaborator(svc: Services, project: dict[str, Any], name: str) -> str:
    """The canonical ``@org/team`` of an existing team of the organization that owns the project."""
    parsed = teams.parse_collaborator(name)
    assert parsed is not None
    org_name, team_name = parsed
    if org_name.lower() != str(project["owner"]).lower():
        raise ValidationError("A team can only collaborate on the projects of its own organization.")
    org = await svc.organizations.get(org_name)
    if org is None:
        raise ValidationError(f"There is no organization named {org_name!r}.")
    try:
        team = await teams.get(svc, org, team_name)
    except ObjectNotFound as exc:
        raise ValidationError(exc.message) from exc
    return teams.collaborator_name(org.username, team["team"])


async def change(
    svc: Services, principal: Principal, project: dict[str, Any], username: str, role: str
) -> None:
    current = await get(svc, project["id"], username)
    event = ev.CollaboratorRoleChanged(
        project_id=project["id"],
        collaborator=current["collaborator"],
        role=role,  # type: ignore[arg-type]
        changed_by=principal.username,
    )
    await _append(svc, project["id"], event)


async def remove(svc: Services, principal: Principal, project: dict[str, Any], username: str) -> None:
    current = await get(svc, project["id"], username)
    event = ev.CollaboratorRemoved(
        project_id=project["id"], collaborator=current["collaborator"], removed_by=principal.username
    )
    await _append(svc, project["id"], event)


async def _append(svc: Services, project_id: UUID, event: EventData) -> None:
    async with svc.store.transaction() as tx:
        await tx.append(
            ev.project_stream(project_id), [event], expected_version=None, correlation_id=new_id()
        )
