"""Run one job: claim it, hold its lease, run the worker, record its steps and log live, record the end.

Guarantees kept here (docs/adr/0008-job-liveness.md):
- Claim: ``job.started`` is appended with the stream version the runner read, and the lease row is
  written in the same transaction; of two runners holding the same command exactly one starts the job.
- Lease: renewed every ``heartbeat_s`` (database time). A runner that cannot renew before its lease
  would run out kills its worker and records nothing: by then the scheduler may retry the job elsewhere.
- End: ``job.finished``/``failed``/``cancelled`` is appended only while this runner still holds the
  lease for this attempt (the row is locked and deleted in the same transaction).
- Cancel: the heartbeat also reads ``cancel_requested``; the worker is killed within one heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from common import jobtokens, logging, secrets
from common.clock import Clock
from common.domain import jobs
from common.domain import projects as project_rules
from common.eventstore import ConcurrencyError, EventStore
from common.health import Metrics
from contracts import codec, commands
from contracts import events as ev
from contracts.base import EventData
from runner.app import deltas as delta_rules
from runner.app.sink import EventSink
from runner.domain import outcome as outcome_rules
from runner.ports import ExecutionResult, Executor, WorkerSpec

log = logging.get("runner")


class NotYet(Exception):
    """The job's next attempt may not start before ``delay_s`` from now (retry backoff)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(f"retry in {delay_s:.1f}s")
        self.delay_s = delay_s


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 2048
    cpus: float = 1.0


@dataclass(frozen=True)
class Liveness:
    lease_s: float = 15.0
    heartbeat_s: float = 2.0
    fence_margin_s: float = 3.0


class _Lost(Exception):
    """This runner no longer holds the job's lease."""


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
        liveness: Liveness = Liveness(),
        limits: Limits = Limits(),
        flush_s: float = 0.25,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._executor = executor
        self._clock = clock
        self._secret = secret
        self._api_url = api_url
        self._runner_id = runner_id
        self._liveness = liveness
        self._limits = limits
        self._fernet = secrets.cipher(secret)
        self._flush_s = flush_s
        self._metrics = metrics or Metrics("outpost_runner")
        self._running = 0
        self._metrics.gauge("jobs_running", lambda: self._running)

    async def handle(self, cmd: commands.RunJob, correlation_id: UUID) -> None:
        structlog.contextvars.bind_contextvars(job_id=str(cmd.job_id), project_id=str(cmd.project_id))
        try:
            if await self._claim(cmd, correlation_id):
                self._running += 1
                try:
                    await self._run(cmd, correlation_id)
                finally:
                    self._running -= 1
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "project_id")

    async def _claim(self, cmd: commands.RunJob, correlation_id: UUID) -> bool:
        async with self._store.transaction() as tx:
            await tx.lock()
            history = await tx.load(ev.job_stream(cmd.job_id))
            state = jobs.fold([(codec.decode(e), e.occurred_at) for e in history])
            if (
                state is None
                or state.status != "queued"
                or state.attempt + 1 != cmd.attempt
                or state.cancel_requested
            ):
                log.info("job_not_claimed", action="claim", status=None if state is None else state.status)
                return False
            if state.retry_at is not None and state.retry_at > self._clock.now():
                raise NotYet((state.retry_at - self._clock.now()).total_seconds())
            started = ev.JobStarted(
                job_id=cmd.job_id,
                project_id=cmd.project_id,
                runner_id=self._runner_id,
                attempt=cmd.attempt,
                lease_s=self._liveness.lease_s,
            )
            try:
                await tx.append(
                    ev.job_stream(cmd.job_id),
                    [started],
                    expected_version=len(history),
                    correlation_id=correlation_id,
                )
            except ConcurrencyError:
                return False
            await tx.conn.execute(
                text(
                    "INSERT INTO job_leases (job_id, project_id, runner_id, attempt, expires_at)"
                    " VALUES (:j, :p, :r, :a, now() + make_interval(secs => :s))"
                    " ON CONFLICT (job_id) DO UPDATE SET runner_id = excluded.runner_id,"
                    " attempt = excluded.attempt, expires_at = excluded.expires_at"
                ),
                {
                    "j": cmd.job_id,
                    "p": cmd.project_id,
                    "r": self._runner_id,
                    "a": cmd.attempt,
                    "s": self._liveness.lease_s,
                },
            )
            if cmd.job_type == "delta_apply":
                taken = await delta_rules.take_pending(tx, cmd.project_id, cmd.job_id, correlation_id)
                log.info("deltas_taken", action="start", deltas=taken)
        log.info("job_started", action="start", job_type=cmd.job_type, attempt=cmd.attempt)
        return True

    async def _run(self, cmd: commands.RunJob, correlation_id: UUID) -> None:
        inputs_hash = None
        if cmd.job_type == "package":
            inputs_hash, reusable = await self._package_inputs(cmd.project_id)
            if reusable is not None:
                await self._record_end(cmd, correlation_id, outcome_rules.reused(cmd, reusable, inputs_hash))
                return
        token = jobtokens.mint(
            self._secret,
            jobtokens.JobClaims(
                cmd.job_id,
                cmd.project_id,
                self._clock.now() + timedelta(seconds=cmd.timeout_s + 60),
                cmd.attempt,
            ),
        )
        job_secrets = await self._secrets(cmd.project_id)
        secret_values = [s.value for s in job_secrets]
        spec = WorkerSpec(
            job_id=str(cmd.job_id),
            job_type=cmd.job_type,
            project_id=str(cmd.project_id),
            project_file=cmd.project_file,
            api_url=self._api_url,
            token=token,
            params=await self._params(cmd),
            timeout_s=cmd.timeout_s,
            secret_env={s.name: s.value for s in job_secrets if s.type == "envvar"},
            pg_service=secrets.pg_service_file(job_secrets),
            memory_mb=self._limits.memory_mb,
            cpus=self._limits.cpus,
        )
        sink = EventSink(self._store, cmd, correlation_id, self._flush_s, secret_values)
        work = asyncio.create_task(self._executor.run(spec, sink.on_message))
        watch = asyncio.create_task(self._watch(cmd))
        flusher = asyncio.create_task(sink.flush_forever())
        try:
            done, _ = await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
            if work in done:
                result = work.result()
                outcome: str | None = None
            else:
                outcome = watch.result()  # "cancel" or "lost"
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                result = ExecutionResult(exit_code=None, timed_out=False, feedback=None)
        finally:
            for task in (watch, flusher):
                task.cancel()
            with contextlib.suppress(Exception):
                await sink.flush()
        if outcome == "lost":
            log.warning("lease_lost", action="fence", attempt=cmd.attempt)
            self._metrics.inc("jobs_total", job_type=cmd.job_type, outcome="lease_lost")
            return
        end = outcome_rules.end_event(
            cmd,
            result,
            cancelled=outcome == "cancel",
            memory_mb=self._limits.memory_mb,
            secret_values=secret_values,
        )
        if inputs_hash is not None and isinstance(end, ev.JobFinished):
            end = end.model_copy(update={"feedback": {**end.feedback, "inputs_hash": inputs_hash}})
        await self._record_end(cmd, correlation_id, end)
        self._metrics.inc("jobs_total", job_type=cmd.job_type, outcome=end.TYPE.removeprefix("job."))

    async def _params(self, cmd: commands.RunJob) -> dict[str, Any]:
        params = dict(cmd.params)
        if cmd.job_type == "delta_apply":
            async with self._store.engine.connect() as conn:
                params["deltafile"] = await delta_rules.deltafile_for(conn, cmd.project_id, cmd.job_id)
                params["overwrite_conflicts"] = await delta_rules.overwrite_conflicts(conn, cmd.project_id)
        return params

    async def _secrets(self, project_id: UUID) -> list[secrets.Secret]:
        async with self._store.engine.connect() as conn:
            return await secrets.load_for_job(conn, self._fernet, project_id)

    async def _package_inputs(self, project_id: UUID) -> tuple[str, UUID | None]:
        """The hash of what a package depends on now, and the last package if it was made from the same."""
        async with self._store.engine.connect() as conn:
            project = (
                await conn.execute(
                    text(
                        "SELECT p.project_details, p.settings, p.last_package_job_id,"
                        " p.last_package_inputs_hash, EXISTS (SELECT 1 FROM rm_package_files f"
                        " WHERE f.job_id = p.last_package_job_id) AS stored"
                        " FROM rm_projects p WHERE p.id = :p"
                    ),
                    {"p": project_id},
                )
            ).one()
            rows = await conn.execute(
                text(
                    "SELECT DISTINCT ON (path) path, sha256 FROM rm_files WHERE project_id = :p"
                    " ORDER BY path, position DESC"
                ),
                {"p": project_id},
            )
            dirs = project_rules.attachment_dirs(project.project_details)
            inputs = [(r.path, r.sha256) for r in rows if not project_rules.is_attachment(r.path, dirs)]
        settings = {k: v for k, v in (project.settings or {}).items() if k != "job_timeouts"}
        inputs_hash = project_rules.package_inputs_hash(inputs, settings)
        same = project.stored and project.last_package_inputs_hash == inputs_hash
        return inputs_hash, project.last_package_job_id if same else None

    async def _watch(self, cmd: commands.RunJob) -> str:
        """Renew the lease until told to cancel ("cancel") or the lease is lost ("lost")."""
        deadline = time.monotonic() + self._liveness.lease_s - self._liveness.fence_margin_s
        while True:
            await asyncio.sleep(self._liveness.heartbeat_s)
            try:
                async with self._store.engine.begin() as conn:
                    row = (
                        await conn.execute(
                            text(
                                "UPDATE job_leases l SET expires_at = now() + make_interval(secs => :s)"
                                " WHERE l.job_id = :j AND l.runner_id = :r AND l.attempt = :a"
                                " RETURNING (SELECT cancel_requested FROM rm_jobs WHERE id = l.job_id)"
                            ),
                            {
                                "s": self._liveness.lease_s,
                                "j": cmd.job_id,
                                "r": self._runner_id,
                                "a": cmd.attempt,
                            },
                        )
                    ).first()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("heartbeat_failed", action="heartbeat", error=repr(exc))
                if time.monotonic() >= deadline:
                    return "lost"
                continue
            if row is None:
                return "lost"
            deadline = time.monotonic() + self._liveness.lease_s - self._liveness.fence_margin_s
            if row[0]:
                return "cancel"

    async def _record_end(self, cmd: commands.RunJob, correlation_id: UUID, end: EventData) -> None:
        """Append the end while holding the lease; retry through short database outages."""
        deadline = time.monotonic() + self._liveness.lease_s
        while True:
            try:
                async with self._store.transaction() as tx:
                    await tx.lock()
                    held = (
                        await tx.conn.execute(
                            text(
                                "DELETE FROM job_leases WHERE job_id = :j AND runner_id = :r AND attempt = :a"
                                " RETURNING job_id"
                            ),
                            {"j": cmd.job_id, "r": self._runner_id, "a": cmd.attempt},
                        )
                    ).first()
                    if held is None:
                        raise _Lost
                    if cmd.job_type == "delta_apply" and isinstance(end, ev.JobFinished | ev.JobFailed):
                        for deltafile_id, change in await delta_rules.outcome(
                            tx.conn, cmd.project_id, cmd.job_id, end.feedback
                        ):
                            await tx.append(
                                ev.deltafile_stream(deltafile_id),
                                [change],
                                expected_version=None,
                                correlation_id=correlation_id,
                            )
                    await tx.append(
                        ev.job_stream(cmd.job_id), [end], expected_version=None, correlation_id=correlation_id
                    )
                log.info("job_ended", action="end", outcome=end.TYPE)
                return
            except _Lost:
                log.warning("lease_lost_before_end", action="end", outcome=end.TYPE)
                return
            except (SQLAlchemyError, OSError) as exc:
                if time.monotonic() > deadline:
                    log.error("end_not_recorded", action="end", error=repr(exc))
                    return
                await asyncio.sleep(0.5)
