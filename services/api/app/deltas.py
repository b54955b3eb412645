"""QField's deltafiles: validation, idempotent push, and the JSON QField polls.

A deltafile is checked completely before anything is stored; a bad one is a 400 ``invalid_deltafile``
with the reason, never a 500 (upstream answers 500 for schema errors). Deltas whose uuid is known are
skipped, so re-pushing is harmless. A reporter may only create features: its other deltas are kept as
``unpermitted`` (visible, never applied).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from sqlalchemy import text

from api.app.access import Access
from api.auth import Principal
from api.context import Services
from api.errors import ApiError, ObjectNotFound, ValidationError
from common.clock import new_id
from contracts import events as ev

METHODS = ("create", "patch", "delete")
REQUIRED = ("uuid", "localPk", "sourcePk", "localLayerId", "sourceLayerId", "method", "clientId")
STATUS_NAMES = {
    "pending": "STATUS_PENDING",
    "started": "STATUS_BUSY",
    "applied": "STATUS_APPLIED",
    "conflict": "STATUS_CONFLICT",
    "not_applied": "STATUS_NOT_APPLIED",
    "error": "STATUS_ERROR",
    "ignored": "STATUS_IGNORED",
    "unpermitted": "STATUS_UNPERMITTED",
}


class InvalidDeltafile(ApiError):
    """The deltafile is not valid JSON, not QField's deltafile format, or for another project."""

    code, status = "invalid_deltafile", 400


class NoQgisProject(ApiError):
    """The project has no QGIS project file: there is nothing to apply deltas to."""

    code, status = "no_qgis_project", 400


def _uuid(value: Any, where: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError as exc:
        raise InvalidDeltafile(f"{where} must be a UUID, got {value!r}.") from exc


def parse(raw: bytes, project_id: UUID) -> tuple[UUID, list[dict[str, Any]]]:
    """The deltafile id and its deltas, or :class:`InvalidDeltafile` saying what is wrong."""
    try:
        document = json.loads(raw.decode("utf-8").replace("\\u0000", ""))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidDeltafile(f"The deltafile is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidDeltafile("The deltafile must be a JSON object.")
    if document.get("version") != "1.0":
        raise InvalidDeltafile(f'Unsupported deltafile version {document.get("version")!r}; expected "1.0".')
    if _uuid(document.get("project"), "project") != project_id:
        raise InvalidDeltafile("The deltafile is for another project than the one in the URL.")
    deltafile_id = _uuid(document.get("id"), "id")
    deltas, files = document.get("deltas"), document.get("files")
    if not isinstance(deltas, list) or not isinstance(files, list):
        raise InvalidDeltafile("deltas and files must be lists.")
    for index, delta in enumerate(deltas):
        _check_delta(index, delta)
    return deltafile_id, deltas


def _check_delta(index: int, delta: Any) -> None:
    if not isinstance(delta, dict):
        raise InvalidDeltafile(f"deltas[{index}] must be an object.")
    missing = [key for key in REQUIRED if key not in delta]
    if missing:
        raise InvalidDeltafile(f"deltas[{index}] lacks {', '.join(missing)}.")
    _uuid(delta["uuid"], f"deltas[{index}].uuid")
    _uuid(delta["clientId"], f"deltas[{index}].clientId")
    if delta["method"] not in METHODS:
        raise InvalidDeltafile(f"deltas[{index}].method must be one of {', '.join(METHODS)}.")
    for side in ("old", "new"):
        value = delta.get(side)
        if value is not None and (
            not isinstance(value, dict) or not isinstance(value.get("attributes", {}), dict)
        ):
            raise InvalidDeltafile(f"deltas[{index}].{side} must be an object with an attributes object.")


async def push(
    svc: Services, principal: Principal, project: dict[str, Any], found: Access, raw: bytes
) -> tuple[UUID, int]:
    """Store the new deltas of a deltafile; returns its id and how many deltas were new."""
    deltafile_id, deltas = parse(raw, project["id"])
    if not project["project_file"]:
        raise NoQgisProject("The project has no QGIS project file; deltas cannot be applied to it.")
    async with svc.store.transaction() as tx:
        await tx.lock()
        ids = [UUID(str(d["uuid"])) for d in deltas]
        known = {
            row[0]
            for row in await tx.conn.execute(
                text("SELECT id FROM rm_deltas WHERE id = ANY(:ids)"), {"ids": ids}
            )
        }
        fresh: list[dict[str, Any]] = []
        for delta, delta_id in zip(deltas, ids, strict=True):
            if delta_id in known or delta_id in {UUID(str(f["delta_id"])) for f in fresh}:
                continue
            allowed = found.allows("editor") or delta["method"] == "create"
            feedback = None if allowed else {"msg": f"Your role {found.role!r} may only create features."}
            fresh.append(
                {
                    "delta_id": str(delta_id),
                    "client_id": str(delta["clientId"]),
                    "status": "pending" if allowed else "unpermitted",
                    "feedback": feedback,
                    "content": delta,
                }
            )
        if fresh:
            event = ev.DeltasPushed(
                deltafile_id=deltafile_id,
                project_id=project["id"],
                pushed_by=principal.username,
                deltas=fresh,
            )
            await tx.append(
                ev.deltafile_stream(deltafile_id), [event], expected_version=None, correlation_id=new_id()
            )
    return deltafile_id, len(fresh)


async def listing(svc: Services, project_id: UUID, deltafile_id: UUID | None = None) -> list[dict[str, Any]]:
    where = "project_id = :p" + (" AND deltafile_id = :df" if deltafile_id else "")
    async with svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, deltafile_id, created_by, created_at, updated_at, last_status, last_feedback,"
                f" content FROM rm_deltas WHERE {where} ORDER BY position"
            ),
            {"p": project_id, "df": deltafile_id},
        )
        return [to_json(dict(row._mapping)) for row in rows]


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    feedback = row["last_feedback"]
    return {
        "id": str(row["id"]),
        "deltafile_id": str(row["deltafile_id"]),
        "created_by": row["created_by"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "status": STATUS_NAMES[row["last_status"]],
        "output": None if feedback is None else str(feedback),
        "last_status": row["last_status"],
        "last_feedback": feedback,
        "content": row["content"],
    }


RESOLUTIONS = ("apply_incoming", "keep_current", "merge")


async def resolve(svc: Services, principal: Principal, project: dict[str, Any], raw: Any) -> int:
    """Record every resolution, or none: each delta must be in conflict, each resolution well formed."""
    if not isinstance(raw, list) or not raw:
        raise ValidationError("resolutions must be a non-empty list.")
    async with svc.store.transaction() as tx:
        await tx.lock()
        events = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict) or item.get("resolution") not in RESOLUTIONS:
                raise ValidationError(
                    f"resolutions[{index}].resolution must be one of {', '.join(RESOLUTIONS)}."
                )
            delta_id = _uuid(item.get("delta_id"), f"resolutions[{index}].delta_id")
            row = (
                await tx.conn.execute(
                    text(
                        "SELECT deltafile_id, last_status FROM rm_deltas WHERE id = :id AND project_id = :p"
                    ),
                    {"id": delta_id, "p": project["id"]},
                )
            ).first()
            if row is None:
                raise ObjectNotFound(f"No delta {delta_id} in this project.")
            if row.last_status != "conflict":
                raise ValidationError(f"Delta {delta_id} is not in conflict (it is {row.last_status}).")
            merged = item.get("merged")
            if item["resolution"] == "merge" and not isinstance(merged, dict):
                raise ValidationError(f"resolutions[{index}].merged must be an object for a merge.")
            events.append(
                ev.DeltaResolved(
                    deltafile_id=row.deltafile_id,
                    project_id=project["id"],
                    delta_id=delta_id,
                    resolution=item["resolution"],
                    merged=merged if item["resolution"] == "merge" else None,
                    resolved_by=principal.username,
                )
            )
        for event in events:
            await tx.append(
                ev.deltafile_stream(event.deltafile_id),
                [event],
                expected_version=None,
                correlation_id=new_id(),
            )
    return len(events)
