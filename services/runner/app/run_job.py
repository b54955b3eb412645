"""Run one job: claim it, run the worker, record its steps and log live, record how it ended.

The job's own stream decides who runs it: ``JobStarted`` is appended with the version the runner
read, so of two runners that got the same command, exactly one starts the job.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog

from common import jobtokens, logging
from common.clock import Clock, new_id
from common.domain import jobs
from common.eventstore import ConcurrencyError, EventStore
from contracts import codec, commands
from contracts import events as ev
from contracts.base import EventData
from runner.ports import ExecutionResult, Executor, WorkerSpec

log = logging.get("runner")


class JobRunner:
    def __init__(
        self,
        store: EventStore,
        executor: Executor,
        clock: Clock,
        *,
        secret: bytes,
        api_url: str,
        runner_id: str,
        timeouts: dict[str, float],
        flush_s: float = 0.25,
    ) -> None:
        self._store = store
        self._executor = executor
        self._clock = clock
        self._secret = secret
        self._api_url = api_url
        self._runner_id = runner_id
        self._timeouts = timeouts
        self._flush_s = flush_s

    async def handle(self, cmd: commands.RunJob, correlation_id: UUID) -> None:
        structlog.contextvars.bind_contextvars(job_id=str(cmd.job_id), project_id=str(cmd.project_id))
        try:
            if not await self._claim(cmd, correlation_id):
                return
            timeout = self._timeouts.get(cmd.job_type, 600.0)
            token = jobtokens.mint(
                self._secret,
                jobtokens.JobClaims(
                    cmd.job_id, cmd.project_id, self._clock.now() + timedelta(seconds=timeout + 60)
                ),
            )
            spec = WorkerSpec(
                job_id=str(cmd.job_id),
                job_type=cmd.job_type,
                project_id=str(cmd.project_id),
                project_file=cmd.project_file,
                api_url=self._api_url,
                token=token,
                params=dict(cmd.params),
                timeout_s=timeout,
            )
            sink = _EventSink(self._store, cmd, correlation_id, self._flush_s)
            flusher = asyncio.create_task(sink.flush_forever())
            try:
                result = await self._executor.run(spec, sink.on_message)
            finally:
                flusher.cancel()
                await sink.flush()
            await self._record_end(cmd, correlation_id, result, timeout)
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "project_id")

    async def _claim(self, cmd: commands.RunJob, correlation_id: UUID) -> bool:
        async with self._store.transaction() as tx:
            history = await tx.load(ev.job_stream(cmd.job_id))
            state = jobs.fold([(codec.decode(e), e.occurred_at) for e in history])
            if state is None or state.status != "queued":
                log.info("job_not_claimed", action="claim", status=None if state is None else state.status)
                return False
            try:
                await tx.append(
                    ev.job_stream(cmd.job_id),
                    [ev.JobStarted(job_id=cmd.job_id, project_id=cmd.project_id, runner_id=self._runner_id)],
                    expected_version=len(history),
                    correlation_id=correlation_id,
                )
            except ConcurrencyError:
                log.info("job_claimed_elsewhere", action="claim")
                return False
        log.info("job_started", action="start", job_type=cmd.job_type)
        return True

    async def _record_end(
        self, cmd: commands.RunJob, correlation_id: UUID, result: ExecutionResult, timeout_s: float
    ) -> None:
        feedback: dict[str, Any] = dict(result.feedback or {})
        feedback["container_exit_code"] = result.exit_code
        end: EventData
        if result.timed_out:
            message = f"Timeout error! The job failed to finish within {int(timeout_s)} seconds."
            feedback.update(error=message, error_type="TIMEOUT", error_origin="runner")
            end = ev.JobFailed(
                job_id=cmd.job_id,
                project_id=cmd.project_id,
                job_type=cmd.job_type,
                error=message,
                error_type="TIMEOUT",
                feedback=feedback,
                exit_code=result.exit_code,
            )
        elif result.exit_code == 0 and result.feedback is not None and not feedback.get("error"):
            end = ev.JobFinished(
                job_id=cmd.job_id,
                project_id=cmd.project_id,
                job_type=cmd.job_type,
                feedback=feedback,
                exit_code=0,
            )
        else:
            message = str(feedback.get("error") or f"The worker crashed with exit code {result.exit_code}.")
            error_type = str(feedback.get("error_type") or "WORKER_CRASH")
            feedback.update(
                error=message, error_type=error_type, error_origin=feedback.get("error_origin", "container")
            )
            end = ev.JobFailed(
                job_id=cmd.job_id,
                project_id=cmd.project_id,
                job_type=cmd.job_type,
                error=message,
                error_type=error_type,
                feedback=feedback,
                exit_code=result.exit_code,
            )
        async with self._store.transaction() as tx:
            await tx.append(
                ev.job_stream(cmd.job_id), [end], expected_version=None, correlation_id=correlation_id
            )
        log.info("job_ended", action="end", outcome=end.TYPE, exit_code=result.exit_code)


class _EventSink:
    """Buffers worker log lines and appends them in small batches; step changes go out at once."""

    def __init__(self, store: EventStore, cmd: commands.RunJob, correlation_id: UUID, flush_s: float) -> None:
        self._store = store
        self._cmd = cmd
        self._correlation_id = correlation_id
        self._flush_s = flush_s
        self._lines: list[str] = []
        self._lock = asyncio.Lock()

    async def on_message(self, message: dict[str, Any]) -> None:
        if message.get("kind") == "step" and message.get("stage") in ("started", "finished", "failed"):
            await self.flush(
                ev.JobStepChanged(
                    job_id=self._cmd.job_id,
                    project_id=self._cmd.project_id,
                    step_id=str(message.get("step_id")),
                    name=str(message.get("name", "")),
                    stage=message["stage"],
                )
            )
        elif message.get("kind") == "log":
            self._lines.append(str(message.get("line", "")))
            if len(self._lines) >= 500:
                await self.flush()

    async def flush(self, extra: EventData | None = None) -> None:
        async with self._lock:
            batch: list[EventData] = []
            if self._lines:
                batch.append(
                    ev.JobLogged(job_id=self._cmd.job_id, project_id=self._cmd.project_id, lines=self._lines)
                )
                self._lines = []
            if extra is not None:
                batch.append(extra)
            if not batch:
                return
            async with self._store.transaction() as tx:
                await tx.append(
                    ev.job_stream(self._cmd.job_id),
                    batch,
                    expected_version=None,
                    correlation_id=self._correlation_id,
                    event_ids=[new_id() for _ in batch],
                )

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            await self.flush()
