"""The scheduler's handlers: one transaction per decision, holding the append lock while it decides.

Every decision reads the read models and appends its events in a single transaction that holds the
event store's append lock, so two scheduler instances can never decide on the same state, and the
database's one-active-job index refuses anything that slips past. Handled message ids go into
``consumer_inbox`` in the same transaction, so a redelivered event changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from common import logging
from common.clock import Clock, new_id
from common.eventstore import EventStore, Transaction
from contracts import codec, commands
from contracts import events as ev
from contracts.base import Envelope, EventData
from scheduler.domain import rules

log = logging.get("scheduler")
CONSUMER = "scheduler"
DISPATCH_ON = frozenset(
    {
        "project.file_uploaded",
        "deltafile.pushed",
        "job.created",
        "job.finished",
        "job.failed",
        "job.cancelled",
        "job.retry_scheduled",
    }
)
RELEVANT = DISPATCH_ON | {"job.cancel_requested"}


class Scheduler:
    def __init__(self, store: EventStore, clock: Clock, policy: rules.Policy) -> None:
        self._store = store
        self._clock = clock
        self.policy = policy

    async def handle(self, env: Envelope) -> None:
        if env.event_type not in RELEVANT:
            return  # steps, logs and starts change no decision: no transaction for them
        async with self._store.transaction() as tx:
            await tx.lock()
            if not await _first_time(tx.conn, env.event_id):
                return
            event = codec.decode(env)
            if isinstance(event, ev.FileUploaded | ev.DeltasPushed):
                await self._on_trigger(tx, env, event)
            if isinstance(event, ev.JobCancelRequested):
                await self._on_cancel_requested(tx, env, event)
            project_id: UUID | None = getattr(event, "project_id", None)
            if project_id is not None and env.event_type in DISPATCH_ON:
                await self.dispatch(tx, project_id, env)

    async def request_job(self, request: rules.JobRequest) -> tuple[UUID, bool]:
        """``POST /jobs/``: returns the job id and whether it is new. Raises :class:`rules.Refused`."""
        async with self._store.transaction() as tx:
            await tx.lock()
            project = await _project_view(tx.conn, request.project_id)
            if project is None:
                raise rules.Refused("object_not_found", f"No project with id {request.project_id}.")
            job_id, created = rules.on_job_requested(self.policy, project, request, new_id())
            if created is not None:
                await tx.append(ev.job_stream(job_id), [created], expected_version=0, correlation_id=new_id())
                _log_created(created)
                await self.dispatch(tx, request.project_id, tx.appended[-1])
            return job_id, created is not None

    async def _on_trigger(
        self, tx: Transaction, env: Envelope, event: ev.FileUploaded | ev.DeltasPushed
    ) -> None:
        """Apply the trigger rule of an upload or a push, and create the jobs it decides."""
        project = await _project_view(tx.conn, event.project_id)
        if project is None:
            return
        if isinstance(event, ev.FileUploaded):
            user_id = await _user_id(tx.conn, event.uploaded_by)
            decided = rules.on_file_uploaded(self.policy, project, event, new_id(), user_id)
        else:
            user_id = await _user_id(tx.conn, event.pushed_by)
            decided = rules.on_deltas_pushed(self.policy, project, event, new_id(), user_id)
        for created in decided:
            await tx.append(
                ev.job_stream(created.job_id),
                [created],
                expected_version=0,
                correlation_id=env.correlation_id,
                causation_id=env.event_id,
            )
            _log_created(created)

    async def _on_cancel_requested(
        self, tx: Transaction, env: Envelope, event: ev.JobCancelRequested
    ) -> None:
        """A job that has not started is cancelled here; a started one is cancelled by its runner."""
        row = (
            await tx.conn.execute(
                text("SELECT status, type FROM rm_jobs WHERE id = :id"), {"id": event.job_id}
            )
        ).first()
        if row is None or row.status not in ("pending", "queued"):
            return
        cancelled = ev.JobCancelled(
            job_id=event.job_id,
            project_id=event.project_id,
            job_type=row.type,
            cancelled_by=event.requested_by,
        )
        await tx.append(
            ev.job_stream(event.job_id),
            [cancelled],
            expected_version=None,
            correlation_id=env.correlation_id,
            causation_id=env.event_id,
        )
        log.info("job_cancelled", action="cancel", job_id=str(event.job_id), project_id=str(event.project_id))

    async def dispatch(self, tx: Transaction, project_id: UUID, cause: Envelope | None) -> int:
        project = await _project_view(tx.conn, project_id)
        if project is None:
            return 0
        job = rules.next_to_dispatch(project)
        if job is None:
            return 0
        queued_id = new_id()
        correlation_id = cause.correlation_id if cause else new_id()
        await tx.append(
            ev.job_stream(job.id),
            [ev.JobQueued(job_id=job.id, project_id=project_id)],
            expected_version=None,
            correlation_id=correlation_id,
            causation_id=cause.event_id if cause else None,
            event_ids=[queued_id],
        )
        await self.send_run(tx, job.id, correlation_id, queued_id)
        log.info("job_queued", action="dispatch", job_id=str(job.id), project_id=str(project_id))
        return 1

    async def send_run(self, tx: Transaction, job_id: UUID, correlation_id: UUID, cause: UUID) -> None:
        """Queue the RunJob command for the job's next attempt (the command id is its cause's id)."""
        row = (
            await tx.conn.execute(
                text(
                    "SELECT j.project_id, j.type, j.created_by, j.params, j.attempt, j.timeout_s,"
                    " p.project_file FROM rm_jobs j LEFT JOIN rm_projects p ON p.id = j.project_id"
                    " WHERE j.id = :id"
                ),
                {"id": job_id},
            )
        ).one()
        command = commands.RunJob(
            job_id=job_id,
            project_id=row.project_id,
            job_type=row.type,
            project_file=row.project_file,
            created_by=row.created_by,
            params=row.params,
            attempt=row.attempt + 1,
            timeout_s=row.timeout_s,
        )
        await tx.send(command, correlation_id=correlation_id, causation_id=cause, command_id=cause)

    async def append(
        self, tx: Transaction, job_id: UUID, event: EventData, cause: UUID | None = None
    ) -> UUID:
        event_id = new_id()
        await tx.append(
            ev.job_stream(job_id),
            [event],
            expected_version=None,
            correlation_id=new_id(),
            causation_id=cause,
            event_ids=[event_id],
        )
        return event_id

    def now(self) -> datetime:
        return self._clock.now()


def _log_created(created: ev.JobCreated) -> None:
    log.info(
        "job_created",
        action="create_job",
        job_id=str(created.job_id),
        project_id=str(created.project_id),
        job_type=created.job_type,
        reason=created.reason,
    )


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
            text(
                "SELECT id, project_file, project_details IS NOT NULL AS processed, settings"
                " FROM rm_projects WHERE id = :id"
            ),
            {"id": project_id},
        )
    ).first()
    if project is None:
        return None
    rows = await conn.execute(
        text(
            "SELECT id, type, status, enqueued_at FROM rm_jobs"
            " WHERE project_id = :id AND status NOT IN ('finished', 'failed', 'cancelled')"
            " ORDER BY enqueued_at"
        ),
        {"id": project_id},
    )
    jobs = tuple(rules.JobView(**row._mapping) for row in rows)
    settings: dict[str, Any] = project.settings or {}
    return rules.ProjectView(
        id=project.id,
        project_file=project.project_file,
        jobs=jobs,
        processed=project.processed,
        settings=settings,
    )


async def _user_id(conn: AsyncConnection, username: str) -> int:
    row = (
        await conn.execute(text("SELECT id FROM users WHERE lower(username) = lower(:u)"), {"u": username})
    ).first()
    return int(row[0]) if row else 0
