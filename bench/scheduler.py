"""Job engine figures: dispatch latency, its cost at 10,000 busy projects, and complete job lifecycles.

Floors, measured in the same run: a raw NATS request/reply round trip and raw PostgreSQL INSERT commits.
Each scenario gets its own database, NATS server and scheduler process; the runner is either this
benchmark itself (holding a pull subscription on ``outpost.cmd.run_job``) or a real runner process with
the ``noop`` executor.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nats
import psycopg
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import text

from bench.report import Report
from common import db, jetstream, migrate
from common.clock import SystemClock
from common.devstack import NatsServer, PostgresServer
from common.eventstore import EventStore
from common.readmodels import all_projections
from contracts import codec, subjects
from contracts import events as ev
from contracts.base import CommandEnvelope


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def nats_round_trips(url: str, count: int = 1000) -> list[float]:
    nc = await nats.connect(url)

    async def echo(msg: Any) -> None:
        await msg.respond(msg.data)

    await nc.subscribe("bench.echo", cb=echo)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await nc.request("bench.echo", b"x" * 200, timeout=5)
        times.append((time.perf_counter() - started) * 1000)
    await nc.close()
    return times


def pg_commits_per_s(url: str, count: int = 2000) -> float:
    with psycopg.connect(db.psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, data jsonb)")
        started = time.perf_counter()
        for _ in range(count):
            conn.execute("INSERT INTO bench_floor (data) VALUES ('{\"k\": 1}')")
        return count / (time.perf_counter() - started)


class Scenario:
    """A database, a NATS server and a scheduler process of its own."""

    def __init__(self, work: Path, pg: PostgresServer, name: str) -> None:
        self.url = pg.create_database(f"bench_{name}")
        migrate.upgrade(self.url)
        self.nats = NatsServer(work / f"nats-{name}").start()
        self.env = {
            **os.environ,
            "OUTPOST_DATABASE_URL": self.url,
            "OUTPOST_NATS_URL": self.nats.url,
            "OUTPOST_SECRET_KEY": "bench" * 8,
            "OUTPOST_LOG_LEVEL": "warning",
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.engine = db.make_engine(self.url, pool_size=4)
        self.store = EventStore(self.engine, all_projections(), SystemClock())

    def spawn(self, module: str, **env: str) -> None:
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", module], env={**self.env, **env}, stderr=subprocess.DEVNULL
            )
        )

    async def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await self.engine.dispose()
        self.nats.stop()

    async def projects(self, count: int, blocked: bool) -> list[uuid.UUID]:
        """``count`` projects; ``blocked`` ones hold a started job and a pending one behind it."""
        ids = [uuid.uuid4() for _ in range(count)]
        for start in range(0, count, 500):
            async with self.store.transaction() as tx:
                for pid in ids[start : start + 500]:
                    created = ev.ProjectCreated(
                        project_id=pid, name=f"p{pid.hex[:12]}", owner="bench", created_by="bench"
                    )
                    await tx.append(ev.project_stream(pid), [created], expected_version=0, correlation_id=pid)
                    if blocked:
                        await _blocked_jobs(tx, pid)
        return ids

    async def trigger(self, project_id: uuid.UUID) -> uuid.UUID:
        job_id = uuid.uuid4()
        created = ev.JobCreated(
            job_id=job_id,
            project_id=project_id,
            job_type="process_projectfile",
            created_by="bench",
            created_by_id=0,
            reason="bench",
        )
        async with self.store.transaction() as tx:
            await tx.append(ev.job_stream(job_id), [created], expected_version=0, correlation_id=job_id)
        return job_id


async def _blocked_jobs(tx: Any, project_id: uuid.UUID) -> None:
    running, waiting = uuid.uuid4(), uuid.uuid4()
    base = {
        "project_id": project_id,
        "job_type": "process_projectfile",
        "created_by": "bench",
        "created_by_id": 0,
        "reason": "bench",
    }
    await tx.append(
        ev.job_stream(running),
        [
            ev.JobCreated(job_id=running, **base),
            ev.JobQueued(job_id=running, project_id=project_id),
            ev.JobStarted(job_id=running, project_id=project_id, runner_id="bench"),
        ],
        expected_version=0,
        correlation_id=running,
    )
    await tx.conn.execute(
        text(
            "INSERT INTO job_leases (job_id, project_id, runner_id, attempt, expires_at)"
            " VALUES (:j, :p, 'bench', 1, now() + interval '1 day')"
        ),
        {"j": running, "p": project_id},
    )
    await tx.append(
        ev.job_stream(waiting),
        [ev.JobCreated(job_id=waiting, **base)],
        expected_version=0,
        correlation_id=waiting,
    )


async def dispatch_latencies(scenario: Scenario, samples: int) -> list[float]:
    """Commit of job.created -> the RunJob command is in a runner's hands, one job at a time."""
    fresh = await scenario.projects(samples, blocked=False)
    nc = await nats.connect(scenario.nats.url)
    js = nc.jetstream()
    await jetstream.ensure_streams(js)
    sub = await js.pull_subscribe(
        subjects.RUN_JOB,
        durable="runners",
        stream=subjects.COMMANDS_STREAM,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
    )
    scenario.spawn("scheduler")
    await _caught_up(scenario, js)
    await _warm_up(scenario, sub)
    times = []
    for pid in fresh[1:]:
        started = time.perf_counter()
        job_id = await scenario.trigger(pid)
        while True:
            [msg] = await sub.fetch(1, timeout=10)
            await msg.ack()
            if codec.decode_command(CommandEnvelope.model_validate_json(msg.data)).job_id == job_id:  # type: ignore[attr-defined]
                break
        times.append((time.perf_counter() - started) * 1000)
    await nc.close()
    return times


async def _caught_up(scenario: Scenario, js: Any, limit_s: float = 600) -> None:
    """Wait until the setup's events are published and the scheduler has handled every one of them."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        async with scenario.engine.connect() as conn:
            outbox = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
        try:
            info = await js.consumer_info(subjects.EVENTS_STREAM, "scheduler")
            pending = info.num_pending + info.num_ack_pending
        except Exception:  # the scheduler has not created its consumer yet
            pending = 1
        if outbox == 0 and pending == 0:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("the scheduler did not catch up with the setup")


async def _warm_up(scenario: Scenario, sub: Any) -> None:
    """Wait until the scheduler dispatches at all (it has just started)."""
    [pid] = await scenario.projects(1, blocked=False)
    await scenario.trigger(pid)
    [msg] = await sub.fetch(1, timeout=60)
    await msg.ack()


async def lifecycles_per_s(scenario: Scenario, projects: int, jobs: int) -> float:
    ids = await scenario.projects(projects, blocked=False)
    scenario.spawn("scheduler")
    scenario.spawn("runner", OUTPOST_EXECUTOR="noop", OUTPOST_CAPACITY="16", OUTPOST_RUNNER_ID="bench-runner")
    await asyncio.sleep(2)
    started = time.perf_counter()
    for i in range(jobs):
        await scenario.trigger(ids[i % projects])
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        async with scenario.engine.connect() as conn:
            done = (
                await conn.execute(text("SELECT count(*) FROM rm_jobs WHERE status = 'finished'"))
            ).scalar_one()
        if done >= jobs:
            return jobs / (time.perf_counter() - started)
        await asyncio.sleep(0.05)
    raise TimeoutError("jobs did not finish")


async def run(report: Report, work: Path, pg: PostgresServer) -> None:
    floor_nats = NatsServer(work / "nats-floor").start()
    try:
        round_trips = await nats_round_trips(floor_nats.url)
    finally:
        floor_nats.stop()
    rr50, rr99 = percentile(round_trips, 0.5), percentile(round_trips, 0.99)
    report.add("nats_request_reply_p50_ms", rr50, "ms", notes="1000 round trips, 200 B")
    report.add("nats_request_reply_p99_ms", rr99, "ms", notes="1000 round trips, 200 B")
    commits = pg_commits_per_s(pg.create_database("bench_floor"))
    report.add("pg_insert_commits_per_s", commits, "1/s", notes="single-row INSERT, autocommit, 2000 rows")

    small = Scenario(work, pg, "dispatch10")
    try:
        await small.projects(10, blocked=True)
        latencies = await dispatch_latencies(small, 300)
    finally:
        await small.close()
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    report.add(
        "dispatch_latency_p50_ms",
        p50,
        "ms",
        floor="nats_request_reply_p50_ms",
        floor_value=rr50,
        target="p99 < 25 ms",
        notes="job.created commit -> RunJob held by a runner; 300 jobs, 10 busy projects",
    )
    report.add(
        "dispatch_latency_p99_ms",
        p99,
        "ms",
        floor="nats_request_reply_p99_ms",
        floor_value=rr99,
        target="p99 < 25 ms",
        notes="QFieldCloud's loop sleeps up to 5 s between polls",
    )

    large = Scenario(work, pg, "dispatch10k")
    try:
        await large.projects(10_000, blocked=True)
        big = await dispatch_latencies(large, 300)
    finally:
        await large.close()
    ratio = statistics.median(big) / statistics.median(latencies)
    report.add(
        "dispatch_cost_ratio_10k_vs_10",
        ratio,
        "x",
        target="about 1",
        notes=f"median dispatch {statistics.median(big):.2f} ms with 10,000 projects holding pending jobs,"
        f" {statistics.median(latencies):.2f} ms with 10",
    )

    lifecycle = Scenario(work, pg, "lifecycles")
    try:
        rate = await lifecycles_per_s(lifecycle, projects=50, jobs=500)
    finally:
        await lifecycle.close()
    report.add(
        "job_lifecycles_per_s",
        rate,
        "1/s",
        floor="pg_insert_commits_per_s",
        floor_value=commits,
        higher_is_better=True,
        notes="500 jobs over 50 projects, 1 scheduler, 1 runner (noop executor, 16 slots)",
    )
