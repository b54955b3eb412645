"""The reaper and the sweep: what keeps any job from blocking its project forever.

Every sweep, in one transaction per job and under the append lock:
- a started job whose runner lease ran out (database time, so no clock skew) is retried, failed or
  cancelled (``rules.on_dead_attempt``); its lease row is deleted in the same transaction, so a runner
  that comes back cannot record a result for the dead attempt;
- a started job past its timeout plus a grace, whatever its lease says, gets the same treatment (a
  runner that heartbeats but never ends);
- a queued job whose RunJob command may be lost (nothing started it for ``redispatch_s``) is sent again;
- a project with pending jobs and nothing active is dispatched (the safety net for lost events).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import text

from common import logging
from common.clock import new_id
from contracts import events as ev
from scheduler.app.handlers import Scheduler
from scheduler.domain import rules

log = logging.get("scheduler.reaper")


class Reaper:
    def __init__(self, scheduler: Scheduler, *, grace_s: float = 5.0, redispatch_s: float = 120.0) -> None:
        self._scheduler = scheduler
        self._store = scheduler._store
        self._grace_s = grace_s
        self._redispatch_s = redispatch_s

    async def sweep(self) -> int:
        acted = 0
        for job_id, reason in await self._dead_attempts():
            acted += await self._reap(job_id, reason)
        for job_id in await self._stale_queued():
            acted += await self._redispatch(job_id)
        for project_id in await self._idle_projects():
            async with self._store.transaction() as tx:
                await tx.lock()
                acted += await self._scheduler.dispatch(tx, project_id, None)
        return acted

    async def _dead_attempts(self) -> list[tuple[UUID, str]]:
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT j.id, CASE WHEN l.job_id IS NULL THEN 'no lease'"
                    "  WHEN l.expires_at < now() THEN 'runner lease expired'"
                    "  ELSE 'timeout exceeded' END AS reason"
                    " FROM rm_jobs j LEFT JOIN job_leases l ON l.job_id = j.id"
                    " WHERE j.status = 'started' AND (l.job_id IS NULL OR l.expires_at < now()"
                    "  OR j.started_at < now() - make_interval(secs => j.timeout_s + :grace))"
                ),
                {"grace": self._grace_s},
            )
            return [(row.id, row.reason) for row in rows]

    async def _reap(self, job_id: UUID, reason: str) -> int:
        async with self._store.transaction() as tx:
            await tx.lock()
            row = (
                await tx.conn.execute(
                    text(
                        "SELECT j.project_id, j.type, j.status, j.attempt, j.max_attempts,"
                        " j.cancel_requested, j.timeout_s, (l.expires_at < now()) AS expired"
                        " FROM rm_jobs j LEFT JOIN job_leases l ON l.job_id = j.id WHERE j.id = :id"
                    ),
                    {"id": job_id},
                )
            ).first()
            if row is None or row.status != "started":
                return 0
            if reason == "timeout exceeded":
                outcome: ev.JobRetryScheduled | ev.JobFailed | ev.JobCancelled = _timed_out(job_id, row)
            else:
                outcome = rules.on_dead_attempt(
                    self._scheduler.policy,
                    job_id=job_id,
                    project_id=row.project_id,
                    job_type=row.type,
                    attempt=row.attempt,
                    max_attempts=row.max_attempts,
                    cancel_requested=row.cancel_requested,
                    reason=reason,
                    now=self._scheduler.now(),
                )
            await tx.conn.execute(text("DELETE FROM job_leases WHERE job_id = :id"), {"id": job_id})
            event_id = await self._scheduler.append(tx, job_id, outcome)
            if isinstance(outcome, ev.JobRetryScheduled):
                await self._scheduler.send_run(tx, job_id, new_id(), event_id)
            else:
                await self._scheduler.dispatch(tx, row.project_id, None)
        log.warning(
            "attempt_reaped",
            action="reap",
            job_id=str(job_id),
            project_id=str(row.project_id),
            reason=reason,
            outcome=outcome.TYPE,
            attempt=row.attempt,
        )
        return 1

    async def _stale_queued(self) -> list[UUID]:
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT id FROM rm_jobs WHERE status = 'queued'"
                    " AND updated_at < now() - make_interval(secs => :s)"
                    " AND (retry_at IS NULL OR retry_at < now() - make_interval(secs => :s))"
                ),
                {"s": self._redispatch_s},
            )
            return [row[0] for row in rows]

    async def _redispatch(self, job_id: UUID) -> int:
        async with self._store.transaction() as tx:
            await tx.lock()
            row = (
                await tx.conn.execute(
                    text("SELECT project_id, status FROM rm_jobs WHERE id = :id"), {"id": job_id}
                )
            ).first()
            if row is None or row.status != "queued":
                return 0
            event_id = await self._scheduler.append(
                tx, job_id, ev.JobQueued(job_id=job_id, project_id=row.project_id)
            )
            await self._scheduler.send_run(tx, job_id, new_id(), event_id)
        log.warning("job_redispatched", action="redispatch", job_id=str(job_id))
        return 1

    async def _idle_projects(self) -> list[UUID]:
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT DISTINCT project_id FROM rm_jobs p WHERE status = 'pending' AND NOT EXISTS"
                    " (SELECT 1 FROM rm_jobs a WHERE a.project_id = p.project_id"
                    " AND a.status IN ('queued', 'started'))"
                )
            )
            return [row[0] for row in rows]


def _timed_out(job_id: UUID, row: Any) -> ev.JobFailed:
    message = f"Timeout error! The job failed to finish within {int(row.timeout_s)} seconds."
    return ev.JobFailed(
        job_id=job_id,
        project_id=row.project_id,
        job_type=row.type,
        error=message,
        error_type="TIMEOUT",
        feedback={"error": message, "error_type": "TIMEOUT", "error_origin": "scheduler"},
    )
