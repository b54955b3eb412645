"""Who may do what on a project: the five roles and where a role comes from (spec section 13).

Roles: admin > manager > editor > reporter > reader. A caller's role is the highest of: project owner
(admin), owner or admin of the owning organization (admin), collaborator (its role), member of a team
that collaborates (the team's role), and reader on a public project. A worker's job token acts as an
editor on its own project's files only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from api.auth import Principal
from api.errors import ObjectNotFound

ROLE_RANK = {"reader": 1, "reporter": 2, "editor": 3, "manager": 4, "admin": 5}
ROLES = tuple(ROLE_RANK)

# The collaborations on project ``p`` of the teams the caller (``:me``) is a member of, as ``c``.
TEAM_COLLABORATIONS = (
    " FROM rm_collaborators c"
    " JOIN users o ON o.type = 2 AND lower(o.username) = lower(p.owner)"
    " JOIN teams t ON t.organization_id = o.id"
    "  AND lower(c.collaborator) = lower('@' || o.username || '/' || t.name)"
    " JOIN team_members tm ON tm.team_id = t.id"
    " JOIN users tu ON tu.id = tm.user_id AND lower(tu.username) = lower(:me)"
    " WHERE c.project_id = p.id"
)

# Extra columns for a project row ``p``, computed for the caller bound as ``:me``.
ROLE_COLUMNS = (
    " (SELECT c.role FROM rm_collaborators c WHERE c.project_id = p.id"
    "  AND lower(c.collaborator) = lower(:me)) AS collaborator_role,"
    " (SELECT CASE WHEN lower(ou.username) = lower(:me) THEN 'owner' ELSE m.role END"
    "  FROM users o LEFT JOIN users ou ON ou.id = o.organization_owner_id"
    "  LEFT JOIN users mu ON lower(mu.username) = lower(:me)"
    "  LEFT JOIN organization_members m ON m.organization_id = o.id AND m.user_id = mu.id"
    "  WHERE o.type = 2 AND lower(o.username) = lower(p.owner)) AS org_role,"
    " (SELECT array_agg(c.role)" + TEAM_COLLABORATIONS + ") AS team_roles"
)


@dataclass(frozen=True)
class Access:
    role: str
    origin: str

    def allows(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]


def access_for(principal: Principal, project: dict[str, Any]) -> Access | None:
    """The caller's best role on ``project`` (a row with ROLE_COLUMNS), or None: no access at all."""
    if principal.job is not None:
        return Access("editor", "worker") if principal.job.project_id == project["id"] else None
    candidates: list[Access] = []
    if principal.username.lower() == str(project["owner"]).lower():
        candidates.append(Access("admin", "project_owner"))
    if project.get("org_role") == "owner":
        candidates.append(Access("admin", "organization_owner"))
    if project.get("org_role") == "admin":
        candidates.append(Access("admin", "organization_admin"))
    if project.get("collaborator_role"):
        candidates.append(Access(str(project["collaborator_role"]), "collaborator"))
    for role in project.get("team_roles") or ():
        candidates.append(Access(str(role), "team_member"))
    if project["is_public"]:
        candidates.append(Access("reader", "public"))
    if not candidates:
        return None
    return max(candidates, key=lambda a: ROLE_RANK[a.role])  # max keeps the first of equals


def parse_uuid(value: str, what: str = "project") -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise ObjectNotFound(f"No {what} with id {value!r}.") from exc
