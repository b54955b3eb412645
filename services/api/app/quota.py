"""Storage quotas: how much the projects of one account (a user or an organization) may hold.

An account's limit is its own ``users.storage_quota_bytes`` (``outpost user quota``), else the server's
``OUTPOST_STORAGE_QUOTA_MB`` (0: no limit). Usage is the size of every stored version of every file of the
account's projects. Uploads by QField itself and by jobs are never refused, only counted, as upstream does:
field data and job results are not lost to a full quota (the pipeline upstream users saw poisoned by one,
shared/spec/peers.md #20). Everyone else gets ``402 over_quota``, which QField and the SDK recognise.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth import Principal
from api.context import Services
from api.errors import OverQuota

EXEMPT_CLIENTS = frozenset({"qfield"})
MIB = 1024 * 1024


@dataclass(frozen=True)
class Storage:
    used: int
    limit: int | None  # bytes; None: no limit

    def allows(self, adding: int) -> bool:
        return self.limit is None or self.used + adding <= self.limit


def exempt(principal: Principal) -> bool:
    return principal.job is not None or principal.client_type in EXEMPT_CLIENTS


async def storage(conn: AsyncConnection, owner: str, default_mb: int) -> Storage:
    row = (
        await conn.execute(
            text(
                "SELECT (SELECT storage_quota_bytes FROM users WHERE lower(username) = lower(:o)) AS quota,"
                " (SELECT coalesce(sum(f.size), 0) FROM rm_files f JOIN rm_projects p ON p.id = f.project_id"
                "  WHERE lower(p.owner) = lower(:o)) AS used"
            ),
            {"o": owner},
        )
    ).one()
    limit = row.quota if row.quota is not None else (default_mb * MIB if default_mb else None)
    return Storage(used=int(row.used), limit=None if limit is None else int(limit))


async def of(svc: Services, owner: str) -> Storage:
    async with svc.engine.connect() as conn:
        return await storage(conn, owner, svc.settings.storage_quota_mb)


async def check(conn: AsyncConnection, svc: Services, principal: Principal, owner: str, adding: int) -> None:
    """Refuse with ``over_quota`` unless ``adding`` more bytes fit (or the principal is exempt)."""
    if exempt(principal):
        return
    found = await storage(conn, owner, svc.settings.storage_quota_mb)
    if not found.allows(adding):
        assert found.limit is not None
        raise OverQuota(
            f"The storage of {owner} is full: {found.used / MIB:.1f} MiB used of {found.limit / MIB:.1f} MiB"
            f"{f', this needs {adding / MIB:.1f} MiB more' if adding > 0 else ''}."
        )
