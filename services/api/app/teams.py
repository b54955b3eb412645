"""Teams of an organization (spec section 8): named groups of its members that collaborate on the
organization's projects as ``@<organization>/<team>``, every member getting the team's role.

Teams and their members are plain tables like accounts (ADR 0003); a team's place on a project is a
collaborator, a project event like any other, so renaming or deleting a team appends the collaborator
events that follow it, in the same transaction.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from api.adapters.organizations import Organization
from api.auth import Principal
from api.context import Services
from api.errors import ObjectNotFound, PermissionDenied, ValidationError
from common.clock import new_id
from contracts import events as ev

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MANAGERS = ("owner", "admin")


def collaborator_name(org: str, team: str) -> str:
    return f"@{org}/{team}"


def parse_collaborator(name: str) -> tuple[str, str] | None:
    """``@org/team`` -> (org, team); None for a person's username."""
    if not name.startswith("@") or "/" not in name:
        return None
    org, _, team = name[1:].partition("/")
    return (org, team) if org and team else None


async def organization(svc: Services, principal: Principal, name: str, *, manage: bool) -> Organization:
    """The organization if the caller belongs to it; to ``manage`` its teams, as its owner or an admin."""
    org = await svc.organizations.get(name)
    if org is None:
        raise ObjectNotFound(f"No organization named {name!r}.")
    role = await svc.organizations.role_of(org, principal.username)
    if role is None:
        raise PermissionDenied(f"You are not a member of {org.username!r}.")
    if manage and role not in MANAGERS:
        raise PermissionDenied(f"Only owners and admins of {org.username!r} can change its teams.")
    return org


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValidationError(
            "team must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit."
        )
    return name


async def list_for(svc: Services, org: Organization) -> list[dict[str, Any]]:
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT t.name, coalesce(array_agg(u.username ORDER BY lower(u.username))"
                "  FILTER (WHERE u.id IS NOT NULL), '{}') AS members"
                " FROM teams t LEFT JOIN team_members m ON m.team_id = t.id"
                " LEFT JOIN users u ON u.id = m.user_id"
                " WHERE t.organization_id = :o GROUP BY t.id ORDER BY lower(t.name)"
            ),
            {"o": org.id},
        )
        return [{"team": r.name, "organization": org.username, "members": list(r.members)} for r in rows]


async def get(svc: Services, org: Organization, name: str) -> dict[str, Any]:
    for team in await list_for(svc, org):
        if team["team"].lower() == name.lower():
            return team
    raise ObjectNotFound(f"{org.username!r} has no team named {name!r}.")


async def create(svc: Services, org: Organization, name: str) -> dict[str, Any]:
    try:
        async with svc.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO teams (organization_id, name) VALUES (:o, :n)"),
                {"o": org.id, "n": check_name(name)},
            )
    except IntegrityError as exc:
        raise ValidationError(f"{org.username!r} has a team named {name!r} already.") from exc
    return await get(svc, org, name)


async def rename(
    svc: Services, principal: Principal, org: Organization, name: str, new: str
) -> dict[str, Any]:
    current = (await get(svc, org, name))["team"]
    check_name(new)
    try:
        async with svc.store.transaction() as tx:
            await tx.conn.execute(
                text("UPDATE teams SET name = :new WHERE organization_id = :o AND lower(name) = lower(:n)"),
                {"o": org.id, "n": current, "new": new},
            )
            await _move_collaborations(tx, principal, org, current, new)
    except IntegrityError as exc:
        raise ValidationError(f"{org.username!r} has a team named {new!r} already.") from exc
    return await get(svc, org, new)


async def delete(svc: Services, principal: Principal, org: Organization, name: str) -> None:
    current = (await get(svc, org, name))["team"]
    async with svc.store.transaction() as tx:
        await tx.conn.execute(
            text("DELETE FROM teams WHERE organization_id = :o AND lower(name) = lower(:n)"),
            {"o": org.id, "n": current},
        )
        await _move_collaborations(tx, principal, org, current, None)


async def add_member(svc: Services, org: Organization, name: str, username: str) -> dict[str, str]:
    current = (await get(svc, org, name))["team"]
    async with svc.engine.begin() as conn:
        member = (
            await conn.execute(
                text(
                    "SELECT u.id, u.username FROM users u LEFT JOIN organization_members m"
                    "  ON m.user_id = u.id AND m.organization_id = :o"
                    " WHERE lower(u.username) = lower(:u) AND u.type = 1"
                    "  AND (m.user_id IS NOT NULL OR u.id = :owner)"
                ),
                {"o": org.id, "u": username, "owner": await _owner_id(conn, org)},
            )
        ).first()
        if member is None:
            raise ValidationError(f"{username!r} is not a member of {org.username!r}: add them there first.")
        added = await conn.execute(
            text(
                "INSERT INTO team_members (team_id, user_id) SELECT id, :u FROM teams"
                " WHERE organization_id = :o AND lower(name) = lower(:n) ON CONFLICT DO NOTHING"
            ),
            {"u": member.id, "o": org.id, "n": current},
        )
        if not added.rowcount:
            raise ValidationError(f"{member.username!r} is in team {current!r} already.")
    return {"member": member.username}


async def remove_member(svc: Services, org: Organization, name: str, username: str) -> None:
    current = (await get(svc, org, name))["team"]
    async with svc.engine.begin() as conn:
        removed = await conn.execute(
            text(
                "DELETE FROM team_members m USING teams t, users u"
                " WHERE m.team_id = t.id AND m.user_id = u.id"
                " AND t.organization_id = :o AND lower(t.name) = lower(:n) AND lower(u.username) = lower(:u)"
            ),
            {"o": org.id, "n": current, "u": username},
        )
    if not removed.rowcount:
        raise ObjectNotFound(f"{username!r} is not in team {current!r}.")


async def _owner_id(conn: AsyncConnection, org: Organization) -> int:
    return int(
        (
            await conn.execute(text("SELECT organization_owner_id FROM users WHERE id = :o"), {"o": org.id})
        ).scalar_one()
    )


async def _move_collaborations(
    tx: Any, principal: Principal, org: Organization, old: str, new: str | None
) -> None:
    """The team's collaborator entries follow a rename (removed, added under the new name) or a deletion."""
    rows = await tx.conn.execute(
        text(
            "SELECT project_id, collaborator, role FROM rm_collaborators"
            " WHERE lower(collaborator) = lower(:c)"
        ),
        {"c": collaborator_name(org.username, old)},
    )
    for row in rows.all():
        events: list[Any] = [
            ev.CollaboratorRemoved(
                project_id=row.project_id, collaborator=row.collaborator, removed_by=principal.username
            )
        ]
        if new is not None:
            events.append(
                ev.CollaboratorAdded(
                    project_id=row.project_id,
                    collaborator=collaborator_name(org.username, new),
                    role=row.role,
                    added_by=principal.username,
                )
            )
        await tx.append(
            ev.project_stream(row.project_id), events, expected_version=None, correlation_id=new_id()
        )
