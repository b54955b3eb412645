"""Organizations (accounts of type 2) and their members, in PostgreSQL. Not events: see ADR 0003."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.adapters.accounts import USERNAME_RE, InvalidUsername, UserAlreadyExists

MEMBER_ROLES = ("admin", "member")
UNUSABLE_PASSWORD = "!"  # noqa: S105  (organizations cannot log in)


class UnknownAccount(Exception):
    """No user or organization with this name."""


class NotAllowed(Exception):
    """The caller may not act for this account."""


@dataclass(frozen=True)
class Organization:
    id: int
    username: str
    email: str
    owner: str


class Organizations:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, name: str, owner: str, email: str = "") -> Organization:
        if not USERNAME_RE.match(name):
            raise InvalidUsername(name)
        try:
            async with self._engine.begin() as conn:
                owner_id = await self._user_id(conn, owner)
                row = (
                    await conn.execute(
                        text(
                            "INSERT INTO users (username, email, password_hash, type, organization_owner_id)"
                            " VALUES (:n, :e, :p, 2, :o) RETURNING id"
                        ),
                        {"n": name, "e": email, "p": UNUSABLE_PASSWORD, "o": owner_id},
                    )
                ).one()
        except IntegrityError as exc:
            raise UserAlreadyExists(name) from exc
        return Organization(int(row[0]), name, email, owner)

    async def get(self, name: str) -> Organization | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT o.id, o.username, o.email, ou.username AS owner FROM users o"
                        " JOIN users ou ON ou.id = o.organization_owner_id"
                        " WHERE o.type = 2 AND lower(o.username) = lower(:n)"
                    ),
                    {"n": name},
                )
            ).first()
        return None if row is None else Organization(**row._mapping)

    async def role_of(self, org: Organization, username: str) -> str | None:
        """``owner``, ``admin``, ``member`` or None."""
        if org.owner.lower() == username.lower():
            return "owner"
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT m.role FROM organization_members m JOIN users u ON u.id = m.user_id"
                        " WHERE m.organization_id = :o AND lower(u.username) = lower(:u)"
                    ),
                    {"o": org.id, "u": username},
                )
            ).first()
        return None if row is None else str(row[0])

    async def check_can_own(self, me: str, owner: str) -> str:
        """The canonical name of ``owner`` if ``me`` may create or move projects there."""
        if owner.lower() == me.lower():
            return me
        org = await self.get(owner)
        if org is None:
            async with self._engine.connect() as conn:
                exists = (
                    await conn.execute(
                        text("SELECT 1 FROM users WHERE lower(username) = lower(:u)"), {"u": owner}
                    )
                ).first()
            if exists is None:
                raise UnknownAccount(owner)
            raise NotAllowed(f"Projects of {owner!r} can only be created by {owner!r}.")
        if await self.role_of(org, me) not in ("owner", "admin"):
            raise NotAllowed(f"Only owners and admins of {org.username!r} can create its projects.")
        return org.username

    async def members(self, org: Organization) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT u.username AS member, m.role, m.is_public FROM organization_members m"
                    " JOIN users u ON u.id = m.user_id WHERE m.organization_id = :o"
                    " ORDER BY lower(u.username)"
                ),
                {"o": org.id},
            )
            return [{"organization": org.username, **row._mapping} for row in rows]

    async def add_member(self, org: Organization, username: str, role: str, is_public: bool) -> None:
        try:
            async with self._engine.begin() as conn:
                user_id = await self._user_id(conn, username, person_only=True)
                await conn.execute(
                    text(
                        "INSERT INTO organization_members (organization_id, user_id, role, is_public)"
                        " VALUES (:o, :u, :r, :p)"
                    ),
                    {"o": org.id, "u": user_id, "r": role, "p": is_public},
                )
        except IntegrityError as exc:
            raise UserAlreadyExists(f"{username} is already a member of {org.username}") from exc

    async def change_member(
        self, org: Organization, username: str, role: str | None, is_public: bool | None
    ) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                text(
                    "UPDATE organization_members m SET role = coalesce(:r, m.role),"
                    " is_public = coalesce(:p, m.is_public) FROM users u"
                    " WHERE m.organization_id = :o AND u.id = m.user_id AND lower(u.username) = lower(:u)"
                ),
                {"o": org.id, "u": username, "r": role, "p": is_public},
            )
            return bool(result.rowcount)

    async def remove_member(self, org: Organization, username: str) -> bool:
        """Remove the member, and with them their places in the organization's teams."""
        async with self._engine.begin() as conn:
            await conn.execute(
                text(
                    "DELETE FROM team_members tm USING teams t, users u WHERE tm.team_id = t.id"
                    " AND t.organization_id = :o AND u.id = tm.user_id AND lower(u.username) = lower(:u)"
                ),
                {"o": org.id, "u": username},
            )
            result = await conn.execute(
                text(
                    "DELETE FROM organization_members m USING users u"
                    " WHERE m.organization_id = :o AND u.id = m.user_id AND lower(u.username) = lower(:u)"
                ),
                {"o": org.id, "u": username},
            )
            return bool(result.rowcount)

    async def of_user(self, username: str) -> list[tuple[Organization, str]]:
        """Organizations ``username`` owns or belongs to, with the role there."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT o.id, o.username, o.email, ou.username AS owner,"
                    " CASE WHEN lower(ou.username) = lower(:u) THEN 'owner' ELSE m.role END AS role"
                    " FROM users o JOIN users ou ON ou.id = o.organization_owner_id"
                    " LEFT JOIN users mu ON lower(mu.username) = lower(:u)"
                    " LEFT JOIN organization_members m ON m.organization_id = o.id AND m.user_id = mu.id"
                    " WHERE o.type = 2 AND (lower(ou.username) = lower(:u) OR m.user_id IS NOT NULL)"
                    " ORDER BY lower(o.username)"
                ),
                {"u": username},
            )
            return [(Organization(r.id, r.username, r.email, r.owner), str(r.role)) for r in rows]

    async def _user_id(self, conn: Any, username: str, person_only: bool = False) -> int:
        row = (
            await conn.execute(
                text("SELECT id, type FROM users WHERE lower(username) = lower(:u)"), {"u": username}
            )
        ).first()
        if row is None or (person_only and row.type != 1):
            raise UnknownAccount(username)
        return int(row.id)
