"""Project secrets (Outpost's API; QFieldCloud has them in its admin only): values are write-only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import text

from api.app import projects
from api.auth import CurrentPrincipal, Svc
from api.errors import ObjectNotFound, ValidationError
from api.http import CompactJSONResponse, read_body
from common import secrets
from common.clock import new_id
from contracts import events as ev

router = APIRouter()


@router.get("/projects/{project_id}/secrets/")
async def list_secrets(project_id: str, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    """Names, types and who set them; never the values."""
    project, _ = await projects.authorize(svc, principal, project_id, "manager")
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT name, type, created_by, created_at FROM project_secrets"
                " WHERE project_id = :p ORDER BY name"
            ),
            {"p": project["id"]},
        )
        items: list[dict[str, Any]] = [
            {
                "name": r.name,
                "type": r.type,
                "created_by": r.created_by,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
    return CompactJSONResponse(items)


@router.post("/projects/{project_id}/secrets/", status_code=201)
async def set_secret(
    request: Request, project_id: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    """Create or replace ``{"name", "type": "envvar"|"pgservice", "value"}`` (project admins only)."""
    project, _ = await projects.authorize(svc, principal, project_id, "admin")
    body = await read_body(request)
    name, kind, value = str(body.get("name") or ""), str(body.get("type") or "envvar"), body.get("value")
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
    return CompactJSONResponse(
        {"name": name, "type": kind, "created_by": principal.username}, status_code=201
    )


@router.delete("/projects/{project_id}/secrets/{name}/", status_code=204)
async def delete_secret(project_id: str, name: str, principal: CurrentPrincipal, svc: Svc) -> Response:
    project, _ = await projects.authorize(svc, principal, project_id, "admin")
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
    return Response(status_code=204)
