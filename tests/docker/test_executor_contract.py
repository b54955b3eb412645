"""The executor contract, on real engines: the local executor (a process) and the docker executor (a
container from the worker image) behave the same for every way a job can end.

Both run the stand-in worker (``runner.noop_worker``, knobs in its params) and are called directly:
no API, no NATS. Each test also proves the worker is gone afterwards: no process with the job's marker
in its environment, no container with the job's label.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.adapters.docker import LABEL_JOB, DockerExecutor
from runner.adapters.local import LocalExecutor
from runner.ports import Executor, WorkerSpec
from tests.dockerengine import Engine

pytestmark = pytest.mark.integration

MARKER = "OUTPOST_TEST_JOB"  # in every worker's environment, to find a local worker's process
RUNNER_ID = f"contract-{uuid.uuid4().hex[:8]}"


@dataclass
class Collector:
    """The ``on_message`` callback: every message with the time it arrived."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    first: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.times.append(time.monotonic())
        self.first.set()

    def steps(self) -> list[tuple[str, str | None, str | None]]:
        return [(m["kind"], m.get("step_id"), m.get("stage")) for m in self.messages]

    def lines(self, stream: str | None = None) -> list[str]:
        return [str(m["line"]) for m in self.messages if m.get("kind") == "log" and m.get("stream") == stream]


@dataclass
class Harness:
    kind: str
    executor: Executor
    alive: Callable[[WorkerSpec], bool]

    def spec(
        self,
        params: dict[str, Any] | None = None,
        *,
        timeout_s: float = 60.0,
        memory_mb: int = 256,
        secret_env: dict[str, str] | None = None,
        pg_service: str = "",
    ) -> WorkerSpec:
        job_id = str(uuid.uuid4())
        return WorkerSpec(
            job_id=job_id,
            job_type="process_projectfile",
            project_id=str(uuid.uuid4()),
            project_file="project.qgs",
            api_url="http://127.0.0.1:9/api/v1/",
            token=f"job-token-{uuid.uuid4().hex}",
            params=params or {},
            timeout_s=timeout_s,
            secret_env={MARKER: job_id, **(secret_env or {})},
            pg_service=pg_service,
            memory_mb=memory_mb,
            cpus=1.0,
        )

    async def assert_gone(self, spec: WorkerSpec, within_s: float = 5.0) -> None:
        deadline = time.monotonic() + within_s
        while self.alive(spec):
            assert time.monotonic() < deadline, f"the {self.kind} worker of job {spec.job_id} is still there"
            await asyncio.sleep(0.1)


def local_worker_alive(spec: WorkerSpec) -> bool:
    needle = f"{MARKER}={spec.job_id}".encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in (proc / "environ").read_bytes().split(b"\0"):
                    return True
    return False


def docker_worker_alive(engine: Engine) -> Callable[[WorkerSpec], bool]:
    def alive(spec: WorkerSpec) -> bool:
        found = engine.client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={spec.job_id}"})
        return bool(found)

    return alive


@pytest.fixture(params=["local", "docker"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "local":
        yield Harness("local", LocalExecutor(sys.executable, "runner.noop_worker"), local_worker_alive)
        return
    engine: Engine = request.getfixturevalue("docker_engine")
    executor = DockerExecutor(
        image=engine.image, module="runner.noop_worker", network="host", runner_id=RUNNER_ID
    )
    yield Harness("docker", executor, docker_worker_alive(engine))


STEPS = [
    ("step", "prepare", "started"),
    ("log", None, None),
    ("step", "prepare", "finished"),
    ("step", "work", "started"),
    ("log", None, None),
    ("step", "work", "finished"),
]


async def test_success_streams_steps_and_logs_in_order_while_running(harness: Harness) -> None:
    spec = harness.spec({"noop_sleep_s": 2})
    collect = Collector()
    gaps: list[float] = []

    async def tick() -> None:  # the event loop must never block on the engine
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        result = await harness.executor.run(spec, collect)
    finally:
        ticker.cancel()
    ended = time.monotonic()

    assert result.exit_code == 0, result
    assert not result.timed_out
    assert not result.oom_killed
    assert result.feedback is not None
    assert result.feedback["workflow_id"] == "noop"
    assert [step["id"] for step in result.feedback["steps"]] == ["prepare", "work"]
    assert collect.steps() == STEPS
    assert collect.lines() == [
        f"Prepare: job {spec.job_id} of project {spec.project_id}",
        f"Work: job {spec.job_id} of project {spec.project_id}",
    ]
    # streamed, not collected at the end: the first step arrived while the worker still had ~2 s to go,
    # the second step's start about halfway through
    assert ended - collect.times[0] > 1.5, (ended, collect.times)
    assert ended - collect.times[3] > 0.6, (ended, collect.times)
    assert max(gaps) < 0.5, max(gaps)
    if harness.kind == "docker":
        assert result.limits == "docker"
    await harness.assert_gone(spec, within_s=0)


async def test_clean_failure_reports_exit_code_and_error(harness: Harness) -> None:
    spec = harness.spec({"noop_exit": 3, "noop_sleep_s": 0})
    result = await harness.executor.run(spec, Collector())
    assert result.exit_code == 3
    assert not result.timed_out
    assert not result.oom_killed
    assert result.feedback is not None
    assert result.feedback["error"] == "The no-op worker was told to fail."
    await harness.assert_gone(spec, within_s=0)


async def test_timeout_kills_the_worker(harness: Harness) -> None:
    spec = harness.spec({"noop_sleep_s": 30}, timeout_s=2)
    collect = Collector()
    started = time.monotonic()
    result = await harness.executor.run(spec, collect)
    elapsed = time.monotonic() - started
    assert result.timed_out
    assert result.feedback is None
    assert not result.oom_killed
    assert elapsed < 12, elapsed
    assert ("step", "prepare", "started") in collect.steps()  # what it said before the kill is kept
    await harness.assert_gone(spec, within_s=0)


async def test_out_of_memory_is_reported_as_oom(harness: Harness) -> None:
    spec = harness.spec({"noop_alloc_mb": 600, "noop_sleep_s": 0}, memory_mb=128)
    result = await harness.executor.run(spec, Collector())
    assert result.oom_killed, result
    assert result.exit_code == -9, result
    assert not result.timed_out
    assert result.feedback is None
    await harness.assert_gone(spec, within_s=0)


async def test_segfault_is_reported_with_its_signal(harness: Harness) -> None:
    spec = harness.spec({"noop_crash": "segv", "noop_sleep_s": 0})
    collect = Collector()
    result = await harness.executor.run(spec, collect)
    assert result.exit_code == -11, result
    assert not result.oom_killed
    assert not result.timed_out
    assert result.feedback is None
    assert ("step", "work", "started") in collect.steps()
    await harness.assert_gone(spec, within_s=0)


async def test_secrets_reach_the_worker(harness: Harness) -> None:
    value = f"s3cr3t-{uuid.uuid4().hex}"
    password = f"pw-{uuid.uuid4().hex}"
    service = f"[gisdb]\nhost=db.example\ndbname=gis\nuser=reader\npassword={password}\n"
    spec = harness.spec(
        {"noop_echo_env": ["OUTPOST_TEST_SECRET", "PGSERVICEFILE"], "noop_echo_pgservice": True},
        secret_env={"OUTPOST_TEST_SECRET": value},
        pg_service=service,
    )
    collect = Collector()
    result = await harness.executor.run(spec, collect)
    assert result.exit_code == 0, (result, collect.messages)
    assert f"env OUTPOST_TEST_SECRET={value}" in collect.lines()
    assert collect.lines("stderr") == [f"pg_service.conf: {line}" for line in service.splitlines()]
    await harness.assert_gone(spec, within_s=0)


async def test_cancel_stops_the_worker_promptly(harness: Harness) -> None:
    spec = harness.spec({"noop_sleep_s": 30})
    collect = Collector()
    task = asyncio.create_task(harness.executor.run(spec, collect))
    await asyncio.wait_for(collect.first.wait(), 30)
    assert harness.alive(spec)
    cancelled = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled < 5
    await harness.assert_gone(spec, within_s=2)
