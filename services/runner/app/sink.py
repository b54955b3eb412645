"""Live job progress: worker log lines and step changes become events while the job runs.

Log lines are buffered and appended in small batches; step changes go out at once. Secret values are
removed from every line before it is stored. Progress is best effort: a database hiccup keeps the lines
for the next flush instead of failing the job.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from uuid import UUID

from sqlalchemy.exc import SQLAlchemyError

from common import secrets
from common.clock import new_id
from common.eventstore import EventStore
from contracts import commands
from contracts import events as ev
from contracts.base import EventData

MAX_BATCH = 500


class EventSink:
    def __init__(
        self,
        store: EventStore,
        cmd: commands.RunJob,
        correlation_id: UUID,
        flush_s: float,
        secret_values: list[str],
    ) -> None:
        self._store = store
        self._cmd = cmd
        self._correlation_id = correlation_id
        self._flush_s = flush_s
        self._secret_values = secret_values
        self._lines: list[str] = []
        self._lock = asyncio.Lock()

    async def on_message(self, message: dict[str, Any]) -> None:
        if message.get("kind") == "step" and message.get("stage") in ("started", "finished", "failed"):
            step = ev.JobStepChanged(
                job_id=self._cmd.job_id,
                project_id=self._cmd.project_id,
                step_id=str(message.get("step_id")),
                name=str(message.get("name", "")),
                stage=message["stage"],
            )
            with contextlib.suppress(SQLAlchemyError, OSError):
                await self.flush(step)
        elif message.get("kind") == "log":
            self._lines.append(secrets.redact(str(message.get("line", "")), self._secret_values))
            if len(self._lines) >= MAX_BATCH:
                with contextlib.suppress(SQLAlchemyError, OSError):
                    await self.flush()

    async def flush(self, extra: EventData | None = None) -> None:
        async with self._lock:
            lines, self._lines = self._lines, []
            batch: list[EventData] = []
            if lines:
                batch.append(
                    ev.JobLogged(job_id=self._cmd.job_id, project_id=self._cmd.project_id, lines=lines)
                )
            if extra is not None:
                batch.append(extra)
            if not batch:
                return
            try:
                async with self._store.transaction() as tx:
                    await tx.append(
                        ev.job_stream(self._cmd.job_id),
                        batch,
                        expected_version=None,
                        correlation_id=self._correlation_id,
                        event_ids=[new_id() for _ in batch],
                    )
            except BaseException:
                self._lines = lines + self._lines  # keep them, in order, for the next flush
                raise

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            with contextlib.suppress(SQLAlchemyError, OSError):
                await self.flush()
