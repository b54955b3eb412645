"""The ``rm_deltas`` read model: every delta with its last apply status."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as ev
from contracts.base import Envelope, EventData

_INSERT = (
    "INSERT INTO rm_deltas (id, deltafile_id, project_id, position, client_id, created_by, created_at,"
    " updated_at, last_status, last_feedback, content) VALUES (:id, :df, :p, :pos, :c, :by, :at, :at, :s,"
    " CAST(:f AS jsonb), CAST(:content AS jsonb))"
)
_STATUS = (
    "UPDATE rm_deltas SET last_status = :s, last_feedback = coalesce(CAST(:f AS jsonb), last_feedback),"
    " last_modified_pk = coalesce(:pk, last_modified_pk), job_id = coalesce(:j, job_id), updated_at = :at"
    " WHERE id = :id"
)


class DeltasProjection:
    name = "deltas"
    tables: tuple[str, ...] = ("rm_deltas",)

    async def apply(self, conn: AsyncConnection, env: Envelope, event: EventData) -> None:
        match event:
            case ev.DeltasPushed():
                for index, delta in enumerate(event.deltas):
                    await conn.execute(
                        text(_INSERT),
                        {
                            "id": delta["delta_id"],
                            "df": event.deltafile_id,
                            "p": event.project_id,
                            "pos": (env.position or 0) * 100_000 + index,
                            "c": delta.get("client_id"),
                            "by": event.pushed_by,
                            "at": env.occurred_at,
                            "s": delta["status"],
                            "f": json.dumps(delta.get("feedback")),
                            "content": json.dumps(delta["content"]),
                        },
                    )
            case ev.DeltaResolved():
                await _resolved(conn, env, event)
            case ev.DeltaStatusChanged():
                await conn.execute(
                    text(_STATUS),
                    {
                        "s": event.status,
                        "f": None if event.feedback is None else json.dumps(event.feedback),
                        "pk": event.modified_pk,
                        "j": event.job_id,
                        "at": env.occurred_at,
                        "id": event.delta_id,
                    },
                )
            case (
                ev.JobFinished(job_type="delta_apply")
                | ev.JobFailed(job_type="delta_apply")
                | ev.JobCancelled(job_type="delta_apply")
            ):
                await conn.execute(
                    text(
                        "UPDATE rm_deltas SET last_status = 'error', last_feedback = CAST(:f AS jsonb),"
                        " updated_at = :at WHERE job_id = :j AND last_status = 'started'"
                    ),
                    {"f": json.dumps({"msg": _why(event)}), "at": env.occurred_at, "j": event.job_id},
                )
            case ev.ProjectDeleted():
                await conn.execute(
                    text("DELETE FROM rm_deltas WHERE project_id = :p"), {"p": event.project_id}
                )


def _why(event: EventData) -> str:
    if isinstance(event, ev.JobFailed):
        return f"The apply job failed: {event.error}"
    if isinstance(event, ev.JobCancelled):
        return "The apply job was cancelled."
    return "The apply job ended without a result for this delta."


async def _resolved(conn: AsyncConnection, env: Envelope, event: ev.DeltaResolved) -> None:
    """A resolved conflict is pending again (forced past the conflict check), or ignored."""
    row = (
        await conn.execute(text("SELECT content FROM rm_deltas WHERE id = :id"), {"id": event.delta_id})
    ).first()
    if row is None:
        return
    content = dict(row[0])
    status = "ignored" if event.resolution == "keep_current" else "pending"
    if event.resolution != "keep_current":
        content["force"] = True
    if event.resolution == "merge" and event.merged is not None:
        incoming = dict(content.get("new") or {})
        incoming["attributes"] = {
            **(incoming.get("attributes") or {}),
            **(event.merged.get("attributes") or {}),
        }
        if "geometry" in event.merged:
            incoming["geometry"] = event.merged["geometry"]
        content["new"] = incoming
    feedback = {"msg": f"Conflict resolved by {event.resolved_by}: {event.resolution.replace('_', ' ')}."}
    await conn.execute(
        text(
            "UPDATE rm_deltas SET last_status = :s, content = CAST(:c AS jsonb),"
            " last_feedback = CAST(:f AS jsonb), updated_at = :at WHERE id = :id"
        ),
        {
            "s": status,
            "c": json.dumps(content),
            "f": json.dumps(feedback),
            "at": env.occurred_at,
            "id": event.delta_id,
        },
    )
