"""The ``rm_jobs`` read model: one row per job, its status folded by :func:`common.domain.jobs.evolve`."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from common.domain import jobs
from contracts import events as ev
from contracts.base import Envelope, EventData

COLUMNS = (
    "id, project_id, type, status, created_by, created_by_id, reason, params, created_at, updated_at,"
    " timeout_s, max_attempts, attempt, retry_at, cancel_requested, started_at, finished_at, runner_id,"
    " steps, feedback"
)
_JSON = frozenset({"params", "steps", "feedback"})


def _value(name: str) -> str:
    return f"CAST(:{name} AS jsonb)" if name in _JSON else f":{name}"


_NAMES = [c.strip() for c in COLUMNS.split(",")]
_INSERT = f"INSERT INTO rm_jobs ({COLUMNS}, enqueued_at) VALUES ({', '.join(map(_value, _NAMES))}, :pos)"
_UPDATE = (
    "UPDATE rm_jobs SET "
    + ", ".join(f"{n} = {_value(n)}" for n in _NAMES if n not in ("id", "project_id", "type", "created_at"))
    + " WHERE id = :id"
)


class JobsProjection:
    name = "jobs"
    tables: tuple[str, ...] = ("rm_jobs",)

    async def apply(self, conn: AsyncConnection, env: Envelope, event: EventData) -> None:
        if not env.event_type.startswith("job."):
            return
        if isinstance(event, ev.JobLogged):
            await conn.execute(
                text("UPDATE rm_jobs SET output = output || :t, updated_at = :at WHERE id = :id"),
                {
                    "t": "".join(line + "\n" for line in event.lines),
                    "at": env.occurred_at,
                    "id": event.job_id,
                },
            )
            return
        if isinstance(event, ev.JobCreated):
            await _insert(conn, jobs.create(event, env.occurred_at), env.position or 0)
            return
        if not isinstance(event, ev.JobEvent):
            return
        current = await load(conn, event.job_id)
        await _update(conn, jobs.evolve(current, event, env.occurred_at))


async def load(conn: AsyncConnection, job_id: Any) -> jobs.Job | None:
    row = (await conn.execute(text(f"SELECT {COLUMNS} FROM rm_jobs WHERE id = :id"), {"id": job_id})).first()
    if row is None:
        return None
    values = dict(row._mapping)
    values["steps"] = tuple(values["steps"])
    return jobs.Job(**values)


def _params(job: jobs.Job) -> dict[str, Any]:
    values = asdict(job)
    values["params"] = json.dumps(job.params)
    values["steps"] = json.dumps(list(job.steps))
    values["feedback"] = None if job.feedback is None else json.dumps(job.feedback)
    return values


async def _insert(conn: AsyncConnection, job: jobs.Job, position: int) -> None:
    await conn.execute(text(_INSERT), {**_params(job), "pos": position})


async def _update(conn: AsyncConnection, job: jobs.Job) -> None:
    await conn.execute(text(_UPDATE), _params(job))
