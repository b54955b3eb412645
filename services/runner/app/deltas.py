"""What a delta_apply job reads at its start and reports at its end, for the deltas it took.

At the claim (same transaction as ``job.started``) every pending delta of the project is marked
``started`` by this job: a job applies the deltas pending when it starts, so a push that arrives while
it waits simply joins it. A retried attempt takes the same deltas again. At the end each delta gets the
status the worker reported (QFieldCloud's mapping); the read model turns any delta the worker did not
report, and every delta of a failed or cancelled job, into ``error``: none stays pending or busy.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from common.clock import new_id
from common.eventstore import Transaction
from contracts import events as ev

WORKER_STATUS = {
    "status_applied": "applied",
    "status_conflict": "conflict",
    "status_apply_failed": "not_applied",
}


async def take_pending(tx: Transaction, project_id: UUID, job_id: UUID, correlation_id: UUID) -> int:
    rows = (
        await tx.conn.execute(
            text(
                "SELECT id, deltafile_id FROM rm_deltas WHERE project_id = :p AND (last_status = 'pending'"
                " OR (last_status = 'started' AND job_id = :j)) ORDER BY position"
            ),
            {"p": project_id, "j": job_id},
        )
    ).all()
    by_file: dict[UUID, list[ev.DeltaStatusChanged]] = defaultdict(list)
    for delta_id, deltafile_id in rows:
        by_file[deltafile_id].append(
            ev.DeltaStatusChanged(
                deltafile_id=deltafile_id,
                project_id=project_id,
                delta_id=delta_id,
                status="started",
                job_id=job_id,
            )
        )
    for deltafile_id, events in by_file.items():
        await tx.append(
            ev.deltafile_stream(deltafile_id), events, expected_version=None, correlation_id=correlation_id
        )
    return len(rows)


async def deltafile_for(conn: AsyncConnection, project_id: UUID, job_id: UUID) -> dict[str, Any]:
    """The deltafile the worker applies: the job's deltas in push order, and the client pk mapping."""
    rows = (
        await conn.execute(
            text(
                "SELECT content FROM rm_deltas WHERE job_id = :j AND last_status = 'started'"
                " ORDER BY position"
            ),
            {"j": job_id},
        )
    ).all()
    mapping = await conn.execute(
        text(
            "SELECT client_id, content->>'localLayerId' AS layer, content->>'localPk' AS local_pk,"
            " last_modified_pk FROM rm_deltas"
            " WHERE project_id = :p AND last_modified_pk IS NOT NULL AND client_id IS NOT NULL"
        ),
        {"p": project_id},
    )
    return {
        "version": "1.0",
        "id": str(new_id()),
        "project": str(project_id),
        "files": [],
        "deltas": [row[0] for row in rows],
        "clientPks": _client_pks(mapping),
    }


async def outcome(
    conn: AsyncConnection, project_id: UUID, job_id: UUID, feedback: dict[str, Any]
) -> list[tuple[UUID, ev.DeltaStatusChanged]]:
    """(deltafile id, status event) for each delta the worker reported on."""
    reported = ((feedback.get("outputs") or {}).get("apply_deltas") or {}).get("delta_feedback") or []
    rows = await conn.execute(
        text("SELECT id, deltafile_id FROM rm_deltas WHERE job_id = :j AND last_status = 'started'"),
        {"j": job_id},
    )
    files = {row.id: row.deltafile_id for row in rows}
    changes = []
    for entry in reported:
        try:
            delta_id = UUID(str(entry.get("delta_id")))
        except ValueError:
            continue
        if delta_id not in files:
            continue
        status = WORKER_STATUS.get(str(entry.get("status")), "error")
        modified = entry.get("modified_pk")
        changes.append(
            (
                files[delta_id],
                ev.DeltaStatusChanged(
                    deltafile_id=files[delta_id],
                    project_id=project_id,
                    delta_id=delta_id,
                    status=status,  # type: ignore[arg-type]
                    feedback=entry,
                    modified_pk=None if modified is None else str(modified),
                    job_id=job_id,
                ),
            )
        )
    return changes


async def overwrite_conflicts(conn: AsyncConnection, project_id: UUID) -> bool:
    """The project's conflict policy when the job starts: last wins (true) or manual (false)."""
    row = (
        await conn.execute(
            text("SELECT overwrite_conflicts FROM rm_projects WHERE id = :p"), {"p": project_id}
        )
    ).first()
    return True if row is None else bool(row[0])


def _client_pks(rows: object) -> dict[str, str]:
    """QFieldCloud's ``<client>__<localPk>`` keys, and ``<client>__<layer>__<localPk>`` ones that cannot
    mix up two layers whose local keys collide (the worker tries those first)."""
    pks: dict[str, str] = {}
    for row in rows:  # type: ignore[attr-defined]
        pks[f"{row.client_id}__{row.local_pk}"] = row.last_modified_pk
        pks[f"{row.client_id}__{row.layer}__{row.local_pk}"] = row.last_modified_pk
    return pks
