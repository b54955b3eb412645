"""What only the docker executor has: the container's configuration, the real worker in the image (its
stdin ends, however attach and start race; it reaches an API on the host over the default bridge network),
the sweep of containers a crashed runner left behind, and the exit status mapping."""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import json
import threading
import time
import uuid
from typing import Any, ClassVar

import pytest
from docker.models.containers import Container

from runner.adapters.docker import (
    LABEL_JOB,
    LABEL_PROJECT,
    LABEL_RUNNER,
    DockerExecutor,
    exit_code_of,
    host_aliases,
)
from runner.ports import WorkerSpec
from tests.dockerengine import Engine

pytestmark = pytest.mark.integration


def make_spec(params: dict[str, Any], *, timeout_s: float = 60.0, memory_mb: int = 256) -> WorkerSpec:
    return WorkerSpec(
        job_id=str(uuid.uuid4()),
        job_type="process_projectfile",
        project_id=str(uuid.uuid4()),
        project_file="project.qgs",
        api_url="http://127.0.0.1:9/api/v1/",
        token=f"job-token-{uuid.uuid4().hex}",
        params=params,
        timeout_s=timeout_s,
        secret_env={"OUTPOST_TEST_SECRET": "not-the-token"},
        memory_mb=memory_mb,
        cpus=0.5,
    )


def containers_of(engine: Engine, label: str, value: str) -> list[Any]:
    found: list[Any] = engine.client.containers.list(all=True, filters={"label": f"{label}={value}"})
    return found


async def test_container_is_limited_labelled_and_never_sees_the_token(docker_engine: Engine) -> None:
    runner_id = f"config-{uuid.uuid4().hex[:8]}"
    executor = DockerExecutor(
        image=docker_engine.image, module="runner.noop_worker", network="host", runner_id=runner_id
    )
    spec = make_spec({"noop_sleep_s": 3}, memory_mb=300)
    started = asyncio.Event()

    async def on_message(message: dict[str, Any]) -> None:
        started.set()

    task = asyncio.create_task(executor.run(spec, on_message))
    await asyncio.wait_for(started.wait(), 30)
    (container,) = containers_of(docker_engine, LABEL_JOB, spec.job_id)
    attrs = container.attrs
    await task

    assert attrs["Config"]["Labels"][LABEL_PROJECT] == spec.project_id
    assert attrs["Config"]["Labels"][LABEL_RUNNER] == runner_id
    assert attrs["Config"]["Cmd"] == ["python3", "-m", "runner.noop_worker", "run"]
    assert attrs["Config"]["User"] == "10001:10001"
    assert attrs["Config"]["OpenStdin"] and attrs["Config"]["StdinOnce"]
    host = attrs["HostConfig"]
    assert host["Memory"] == host["MemorySwap"] == 300 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["NetworkMode"] == "host"
    assert host["Init"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["AutoRemove"] is False
    assert spec.token not in json.dumps(attrs)  # the job token goes in on stdin only
    assert "not-the-token" not in json.dumps(attrs)  # and so do the secrets
    assert not containers_of(docker_engine, LABEL_JOB, spec.job_id)


def start_before_attach(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lose the race between ``attach`` and ``start`` on purpose: an engine that sees the container running
    when it handles the attach keeps the attach connection open until the container exits."""
    attach = Container.attach_socket

    def started_then_attached(self: Container, **kwargs: Any) -> Any:
        self.start()
        return attach(self, **kwargs)

    monkeypatch.setattr(Container, "attach_socket", started_then_attached)


@pytest.mark.parametrize("race", ["attach-then-start", "start-then-attach"])
async def test_the_real_worker_reads_its_spec_to_end_of_file(
    docker_engine: Engine, race: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``runner.worker`` reads stdin to EOF (the noop worker reads one line): the half-closed attach
    socket must end its stdin, however the attach and the start raced. Its API is unreachable, so it
    fails cleanly, after starting up in the image: Debian's Python, the runner package, QGIS."""
    if race == "start-then-attach":
        start_before_attach(monkeypatch)
    executor = DockerExecutor(image=docker_engine.image, module="runner.worker", network="host")
    spec = make_spec({}, timeout_s=120, memory_mb=1024)
    messages: list[dict[str, Any]] = []

    async def on_message(message: dict[str, Any]) -> None:
        messages.append(message)

    result = await executor.run(spec, on_message)
    assert not result.timed_out, messages
    assert result.exit_code == 1, (result, messages)
    assert result.feedback is not None
    assert result.feedback.get("error"), result.feedback
    assert not containers_of(docker_engine, LABEL_JOB, spec.job_id)


async def test_output_streams_even_when_the_engine_holds_the_attach(
    docker_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executor never waits for the engine to close the attach connection: it would wait for the
    whole job, and read no output (nor count the timeout) until then."""
    start_before_attach(monkeypatch)
    executor = DockerExecutor(image=docker_engine.image, module="runner.noop_worker", network="host")
    spec = make_spec({"noop_sleep_s": 3})
    arrived: list[float] = []

    async def on_message(message: dict[str, Any]) -> None:
        arrived.append(time.monotonic())

    result = await executor.run(spec, on_message)
    ended = time.monotonic()
    assert result.exit_code == 0
    assert ended - arrived[0] > 2.0, (ended, arrived)


class _RecordingApi(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization", "")))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def test_bridge_network_reaches_the_api_on_the_host(docker_engine: Engine) -> None:
    """The default network mode: the worker reaches an API on the host as ``host.docker.internal``
    (the API must listen on an address the bridge routes to: here the bridge's own gateway address)."""
    gateway = docker_engine.client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    server = http.server.ThreadingHTTPServer((gateway, 0), _RecordingApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        executor = DockerExecutor(image=docker_engine.image, module="runner.worker", network="bridge")
        spec = dataclasses.replace(
            make_spec({}, timeout_s=120, memory_mb=1024),
            api_url=f"http://host.docker.internal:{server.server_address[1]}/api/v1/",
        )

        async def on_message(message: dict[str, Any]) -> None:
            pass

        result = await executor.run(spec, on_message)
    finally:
        server.shutdown()
        server.server_close()
    assert not result.timed_out
    assert result.exit_code == 1, result  # the fake API has no files: a clean failure
    assert (f"/api/v1/files/{spec.project_id}/?skip_metadata=1", f"Token {spec.token}") in _RecordingApi.seen


def test_orphans_of_this_runner_are_removed_at_start(docker_engine: Engine) -> None:
    mine, other = f"crashed-{uuid.uuid4().hex[:8]}", f"alive-{uuid.uuid4().hex[:8]}"
    for runner_id in (mine, mine, other):
        docker_engine.client.containers.run(
            docker_engine.image, ["sleep", "300"], detach=True, labels={LABEL_RUNNER: runner_id}
        )
    try:
        DockerExecutor(image=docker_engine.image, runner_id=mine)
        assert not containers_of(docker_engine, LABEL_RUNNER, mine)
        assert len(containers_of(docker_engine, LABEL_RUNNER, other)) == 1
    finally:
        for container in containers_of(docker_engine, LABEL_RUNNER, other):
            container.remove(force=True)


@pytest.mark.parametrize(
    ("status", "code"), [(0, 0), (1, 1), (3, 3), (128, 128), (137, -9), (139, -11), (143, -15), (255, 255)]
)
def test_exit_status_of_a_signal_is_negative(status: int, code: int) -> None:
    assert exit_code_of(status) == code


@pytest.mark.parametrize(
    ("network", "aliased"),
    [("bridge", True), ("outpost-jobs", False), ("host", False), ("none", False), ("container:abc", False)],
)
def test_only_the_default_bridge_gives_workers_a_name_for_the_host(network: str, aliased: bool) -> None:
    assert (host_aliases(network) is not None) == aliased
