"""The scheduler's handlers: one transaction per event, holding the append lock while it decides.

Every decision reads the read models and appends its events in a single transaction that holds
the event store's append lock, so two scheduler instances can never decide on the same state; and
the database's one-active-job index refuses anything that slips past. The message id goes into
``consumer_inbox`` in the same transaction, so a redelivered event changes nothing.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from common import logging
from common.clock import new_id
from common.eventstore import EventStore, Transaction
from contracts import codec, commands
from contracts import events as ev
from contracts.base import Envelope
from scheduler.domain import rules

log = logging.get("scheduler")
CONSUMER = "scheduler"


class Scheduler:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def handle(self, env: Envelope) -> None:
        async with self._store.transaction() as tx:
            await tx.lock()
            if not await _first_time(tx.conn, env.event_id):
                return
            event = codec.decode(env)
            project_id: UUID | None = getattr(event, "project_id", None)
            if isinstance(event, ev.FileUploaded):
                await self._on_upload(tx, env, event)
            if project_id is not None and env.event_type in DISPATCH_ON:
                await self.dispatch(tx, project_id, env)

    async def sweep(self) -> int:
        """Dispatch every project that has pending jobs and none active: the safety net for lost events."""
        dispatched = 0
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT DISTINCT project_id FROM rm_jobs p WHERE status = 'pending' AND NOT EXISTS"
                    " (SELECT 1 FROM rm_jobs a WHERE a.project_id = p.project_id"
                    " AND a.status IN ('queued', 'started'))"
                )
            )
            project_ids = [row[0] for row in rows]
        for project_id in project_ids:
            async with self._store.transaction() as tx:
                await tx.lock()
                dispatched += await self.dispatch(tx, project_id, None)
        return dispatched

    async def _on_upload(self, tx: Transaction, env: Envelope, upload: ev.FileUploaded) -> None:
        project = await _project_view(tx.conn, upload.project_id)
        if project is None:
            return
        user_id = await _user_id(tx.conn, upload.uploaded_by)
        for created in rules.on_file_uploaded(project, upload, new_id(), user_id):
            await tx.append(
                ev.job_stream(created.job_id),
                [created],
                expected_version=0,
                correlation_id=env.correlation_id,
                causation_id=env.event_id,
            )
            log.info(
                "job_created",
                action="create_job",
                job_id=str(created.job_id),
                project_id=str(created.project_id),
                job_type=created.job_type,
                reason=created.reason,
            )

    async def dispatch(self, tx: Transaction, project_id: UUID, cause: Envelope | None) -> int:
        project = await _project_view(tx.conn, project_id)
        if project is None:
            return 0
        job = rules.next_to_dispatch(project)
        if job is None:
            return 0
        row = (
            await tx.conn.execute(
                text("SELECT created_by, params FROM rm_jobs WHERE id = :id"), {"id": job.id}
            )
        ).one()
        correlation_id = cause.correlation_id if cause else new_id()
        queued_id = new_id()
        await tx.append(
            ev.job_stream(job.id),
            [ev.JobQueued(job_id=job.id, project_id=project_id)],
            expected_version=None,
            correlation_id=correlation_id,
            causation_id=cause.event_id if cause else None,
            event_ids=[queued_id],
        )
        await tx.send(
            commands.RunJob(
                job_id=job.id,
                project_id=project_id,
                job_type=job.type,  # type: ignore[arg-type]
                project_file=project.project_file,
                created_by=row.created_by,
                params=row.params,
            ),
            correlation_id=correlation_id,
            causation_id=queued_id,
            command_id=queued_id,
        )
        log.info("job_queued", action="dispatch", job_id=str(job.id), project_id=str(project_id))
        return 1


DISPATCH_ON = frozenset({"project.file_uploaded", "job.created", "job.finished", "job.failed"})


async def _first_time(conn: AsyncConnection, message_id: UUID) -> bool:
    row = await conn.execute(
        text(
            "INSERT INTO consumer_inbox (consumer, message_id) VALUES (:c, :m)"
            " ON CONFLICT DO NOTHING RETURNING message_id"
        ),
        {"c": CONSUMER, "m": message_id},
    )
    return row.first() is not None


async def _project_view(conn: AsyncConnection, project_id: UUID) -> rules.ProjectView | None:
    project = (
        await conn.execute(
            text("SELECT id, project_file FROM rm_projects WHERE id = :id"), {"id": project_id}
        )
    ).first()
    if project is None:
        return None
    rows = await conn.execute(
        text(
            "SELECT id, type, status, enqueued_at FROM rm_jobs"
            " WHERE project_id = :id AND status NOT IN ('finished', 'failed') ORDER BY enqueued_at"
        ),
        {"id": project_id},
    )
    jobs = tuple(rules.JobView(**row._mapping) for row in rows)
    return rules.ProjectView(id=project.id, project_file=project.project_file, jobs=jobs)


async def _user_id(conn: AsyncConnection, username: str) -> int:
    row = (
        await conn.execute(text("SELECT id FROM users WHERE lower(username) = lower(:u)"), {"u": username})
    ).first()
    return int(row[0]) if row else 0
