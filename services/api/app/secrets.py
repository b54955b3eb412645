"""Project secrets: names listed, values encrypted on the way in and never read back (ADR 0009)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text

from api.auth import Principal
from api.context import Services
from api.errors import ObjectNotFound, ValidationError
from common import secrets
from common.clock import new_id
from contracts import events as ev


@dataclass(frozen=True)
class SecretName:
    name: str
    type: str
    created_by: str
    created_at: datetime


async def names(svc: Services, project_id: UUID) -> list[SecretName]:
    """Names, types and who set them; never the values."""
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT name, type, created_by, created_at FROM project_secrets"
                " WHERE project_id = :p ORDER BY name"
            ),
            {"p": project_id},
        )
        return [SecretName(**row._mapping) for row in rows]


async def put(
    svc: Services, principal: Principal, project: dict[str, Any], *, name: str, kind: str, value: Any
) -> None:
    """Create or replace a secret: the ciphertext and the SecretSet event in one transaction."""
    if not isinstance(value, str):
        raise ValidationError("value must be a string.")
    try:
        secrets.validate(name, kind, value)
    except secrets.InvalidSecret as exc:
        raise ValidationError(str(exc)) from exc
    ciphertext = secrets.cipher(svc.secret).encrypt(value.encode())
    event = ev.SecretSet(project_id=project["id"], name=name, secret_type=kind, set_by=principal.username)  # type: ignore[arg-type]
    async with svc.store.transaction() as tx:
        await tx.conn.execute(
            text(
                "INSERT INTO project_secrets (project_id, name, type, ciphertext, created_by)"
                " VALUES (:p, :n, :t, :c, :b) ON CONFLICT (project_id, name) DO UPDATE SET"
                " type = excluded.type, ciphertext = excluded.ciphertext, created_by = excluded.created_by,"
                " created_at = now()"
            ),
            {"p": project["id"], "n": name, "t": kind, "c": ciphertext, "b": principal.username},
        )
        await tx.append(
            ev.project_stream(project["id"]), [event], expected_version=None, correlation_id=new_id()
        )


async def remove(svc: Services, principal: Principal, project: dict[str, Any], name: str) -> None:
    event = ev.SecretDeleted(project_id=project["id"], name=name, deleted_by=principal.username)
    async with svc.store.transaction() as tx:
        gone = await tx.conn.execute(
            text("DELETE FROM project_secrets WHERE project_id = :p AND name = :n RETURNING name"),
            {"p": project["id"], "n": name},
        )
        if gone.first() is None:
            raise ObjectNotFound(f"No secret named {name!r} in this project.")
        await tx.append(
            ev.project_stream(project["id"]), [event], expected_version=None, correlation_id=new_id()
        )
