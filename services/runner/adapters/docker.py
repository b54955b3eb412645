"""The ``docker`` executor: one throwaway container per job, from the worker image (infra/docker/).

Same contract as the ``local`` executor (runner/ports.py): the job spec goes in as one JSON line on the
worker's stdin, protocol lines stream out of its stdout while it runs, its stderr lines become log
messages, and the result says how it ended.

How a job runs:
- ``create`` (not started): ``python3 -m <module> run`` as the image's unprivileged user (uid 10001),
  ``docker-init`` as PID 1 (so signals a worker sends itself, or a real crash, end it like a host process),
  all capabilities dropped, no new privileges, a pid limit, memory limited to ``spec.memory_mb`` with no
  swap (``memswap_limit == mem_limit``), ``spec.cpus`` as ``nano_cpus``, labels ``outpost.job_id``,
  ``outpost.project_id``, ``outpost.runner_id``. Secrets of type ``envvar`` travel with the job spec
  (``env``) and the worker puts them in its own environment, so ``docker inspect`` never shows them; the
  pg service file is copied into the stopped container as ``/tmp/pg_service.conf`` (mode 0600, owned by
  the worker user) with ``PGSERVICEFILE`` pointing at it.
- The job spec (it holds the job token) goes through the attach socket, never through the environment
  or the command line: attach stdin before ``start``, write one line, half-close. The container is created
  with ``StdinOnce``, so the half-close is the worker's end of file.
- Two threads follow ``logs(stdout)`` and ``logs(stderr)`` and feed an asyncio queue; the event loop only
  ever waits on that queue, every other blocking SDK call runs in ``asyncio.to_thread``.
- Timeout: kill, report ``timed_out``. Cancelled task: kill and remove at once, re-raise. Otherwise the
  exit status comes from ``wait()``, ``State.OOMKilled`` tells an out-of-memory kill, and the container is
  removed only after its logs were read. A status above 128 is reported as a negative signal number
  (137 -> -9, 139 -> -11), as the local executor reports a process killed by a signal.
- ``remove_orphans(runner_id)`` (called at construction) removes containers a crashed runner with the same
  id left behind. The default runner id contains the pid, so set ``OUTPOST_RUNNER_ID`` to a stable value
  where runners restart, or the sweep finds nothing.

The network is ``network_mode`` (``OUTPOST_DOCKER_NETWORK``), a trade-off between isolation and reach: the
worker must reach the API URL of its spec, and nothing else should be reachable.
- ``bridge`` (default): its own network namespace behind NAT. It cannot reach the host's loopback, so the
  API URL must name an address the container can route to (``host.docker.internal`` is mapped to the
  host's gateway address; the API must listen there). It can also reach anything else routable, the
  internet included, unless the host's firewall says otherwise.
- a user-defined network (compose.docker-executor.yaml: an ``internal`` network shared only with the
  API): the best isolation. The worker reaches the API by service name, nothing routes out of that
  network, and the worker gets no ``host.docker.internal``. The host itself stays reachable at the
  network's gateway address unless a firewall rule drops it (docs/operations.md; tests/compose).
- ``host``: the host's network namespace. ``127.0.0.1`` API URLs work (the tests use it), but the worker
  can reach every port on the host, the database and NATS included: only for development and CI.
- ``none`` cannot work: files move over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import secrets
import socket
import tarfile
import threading
import time
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from docker.types import LogConfig

from common import logging
from runner.adapters.local import _parse as parse_line
from runner.ports import ExecutionResult, OnMessage, WorkerSpec

log = logging.get("runner.docker")

LABEL_JOB = "outpost.job_id"
LABEL_PROJECT = "outpost.project_id"
LABEL_RUNNER = "outpost.runner_id"
WORKER_UID = 10001  # the worker user of infra/docker/worker.Dockerfile
CONTAINER_TMP = "/tmp"  # noqa: S108 - inside the container: its own, private to the job
PG_SERVICE_FILE = f"{CONTAINER_TMP}/pg_service.conf"
PIDS_LIMIT = 2048
DRAIN_AFTER_KILL_S = 5.0
OOM_RECHECK_S = 0.2
_Item = tuple[str, bytes | None]  # (stream name, line); None: the stream ended


def host_aliases(network: str) -> dict[str, str] | None:
    """``host.docker.internal`` for the default ``bridge`` only, where it is how a worker reaches an API
    on the host. On a user-defined network (compose's internal ``jobs`` network) the worker gets no name
    for the host: it reaches the API by service name and nothing else is meant to be reachable."""
    return {"host.docker.internal": "host-gateway"} if network == "bridge" else None


def exit_code_of(status: int) -> int:
    """A container's exit status as the runner names failures: 128+N (killed by signal N) becomes -N."""
    if 128 < status <= 128 + 64:
        return -(status - 128)
    return status


class DockerExecutor:
    def __init__(
        self,
        image: str = "outpost/worker:dev",
        module: str = "runner.worker",
        network: str = "bridge",
        runner_id: str = "",
        *,
        extra_env: dict[str, str] | None = None,
        client: Any = None,
        worker_uid: int = WORKER_UID,
    ) -> None:
        self._client: Any = client if client is not None else docker.from_env()
        self._image = image
        self._module = module
        self._network = network
        self._runner_id = runner_id
        self._extra_env = dict(extra_env or {})
        self._uid = worker_uid
        if runner_id:
            try:
                self.remove_orphans(runner_id)
            except DockerException as exc:  # best effort: the engine may come up later
                log.warning("orphan_sweep_failed", action="sweep", runner_id=runner_id, error=repr(exc))

    def remove_orphans(self, runner_id: str) -> int:
        """Kill and remove every container of ``runner_id`` (left by a runner that crashed); blocking."""
        found = self._client.containers.list(all=True, filters={"label": f"{LABEL_RUNNER}={runner_id}"})
        removed = 0
        for container in found:
            with contextlib.suppress(NotFound):
                container.remove(force=True)
                removed += 1
        if removed:
            log.warning("orphans_removed", action="sweep", runner_id=runner_id, containers=removed)
        return removed

    async def run(self, spec: WorkerSpec, on_message: OnMessage) -> ExecutionResult:
        name = f"outpost-job-{spec.job_id}-{secrets.token_hex(3)}"
        starting = asyncio.ensure_future(asyncio.to_thread(self._start, name, spec))
        try:
            container = await asyncio.shield(starting)
        except BaseException:  # cancelled while starting: the container must not outlive the job
            await asyncio.shield(self._discard_when_started(starting))
            raise
        readers: list[_LogReader] = []
        try:
            feedback, timed_out = await self._supervise(container, spec, on_message, readers)
            status, oom = await asyncio.to_thread(self._outcome, container)
        except BaseException:  # cancelled, or our side failed: kill and remove at once
            await asyncio.shield(asyncio.to_thread(self._remove, container, readers))
            raise
        await asyncio.shield(asyncio.to_thread(self._remove, container, readers))
        return ExecutionResult(exit_code_of(status), timed_out, feedback, oom_killed=oom, limits="docker")

    # -- blocking parts (threads) ------------------------------------------------------------------------

    def _start(self, name: str, spec: WorkerSpec) -> Any:
        env = {
            **self._extra_env,
            "HOME": CONTAINER_TMP,
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHONUNBUFFERED": "1",
            "LANG": "C.UTF-8",
        }
        if spec.pg_service:
            env["PGSERVICEFILE"] = PG_SERVICE_FILE
        container = self._client.containers.create(
            self._image,
            ["python3", "-m", self._module, "run"],
            name=name,
            # stdin_open without detach makes the SDK set StdinOnce: closing our attach closes its stdin
            stdin_open=True,
            user=f"{self._uid}:{self._uid}",
            working_dir=CONTAINER_TMP,
            environment=env,
            labels={
                LABEL_JOB: spec.job_id,
                LABEL_PROJECT: spec.project_id,
                LABEL_RUNNER: self._runner_id,
            },
            network_mode=self._network,
            extra_hosts=host_aliases(self._network),
            mem_limit=spec.memory_mb * 1024 * 1024,
            memswap_limit=spec.memory_mb * 1024 * 1024,
            nano_cpus=int(spec.cpus * 1_000_000_000),
            pids_limit=PIDS_LIMIT,
            init=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            log_config=LogConfig(type="json-file"),
            auto_remove=False,
        )
        try:
            if spec.pg_service:
                container.put_archive(CONTAINER_TMP, self._pg_service_tar(spec.pg_service))
            stdin = container.attach_socket(params={"stdin": 1, "stream": 1})
            container.start()
            # secrets travel with the spec (the worker sets them in its environment), never in the container's
            # configuration, where `docker inspect` would show them
            payload = {**spec.stdin_json(), "env": dict(spec.secret_env)}
            _send_and_close(stdin, json.dumps(payload).encode() + b"\n")
        except BaseException:
            with contextlib.suppress(DockerException):
                container.remove(force=True)
            raise
        return container

    def _pg_service_tar(self, text: str) -> bytes:
        data = text.encode()
        info = tarfile.TarInfo("pg_service.conf")
        info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
        info.uid = info.gid = self._uid
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    def _outcome(self, container: Any) -> tuple[int, bool]:
        status = int(container.wait().get("StatusCode", -1))
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        if status == 137 and not oom:  # the engine may learn of the OOM kill just after the exit
            time.sleep(OOM_RECHECK_S)
            container.reload()
            oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        return status, oom

    @staticmethod
    def _kill(container: Any) -> None:
        with contextlib.suppress(DockerException):  # it may have just exited by itself
            container.kill()

    @staticmethod
    def _remove(container: Any, readers: list[_LogReader]) -> None:
        for reader in readers:  # first: a stream cut by the removal is then no failure to report
            reader.close()
        with contextlib.suppress(NotFound):
            container.remove(force=True)

    # -- the event loop side ---------------------------------------------------------------------------

    async def _discard_when_started(self, starting: asyncio.Future[Any]) -> None:
        """Cancelled during ``_start`` (which goes on in its thread): remove what it started."""
        await asyncio.wait({starting})
        if not starting.cancelled() and starting.exception() is None:
            await asyncio.to_thread(self._remove, starting.result(), [])

    async def _supervise(
        self, container: Any, spec: WorkerSpec, on_message: OnMessage, readers: list[_LogReader]
    ) -> tuple[dict[str, Any] | None, bool]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        readers.extend(_LogReader(container, stream, loop, queue) for stream in ("stdout", "stderr"))
        for reader in readers:
            reader.start()
        feedback: dict[str, Any] | None = None
        open_streams = len(readers)

        async def consume() -> None:  # until both streams ended: the worker's output is complete
            nonlocal feedback, open_streams
            while open_streams:
                stream, raw = await queue.get()
                if raw is None:
                    open_streams -= 1
                elif stream == "stdout":
                    message = parse_line(raw)
                    if message.get("kind") == "result":
                        feedback = message.get("feedback")
                    elif message.get("kind") != "ready":  # only a warm worker says it
                        await on_message(message)
                else:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    if line.strip():
                        await on_message({"kind": "log", "line": line, "stream": "stderr"})

        async def finish() -> None:
            await consume()
            await asyncio.to_thread(container.wait)  # a stream may end early if the engine hiccups

        try:
            await asyncio.wait_for(finish(), spec.timeout_s)
        except TimeoutError:
            await asyncio.to_thread(self._kill, container)
            with contextlib.suppress(TimeoutError):  # what it printed before the kill is still its log
                await asyncio.wait_for(consume(), DRAIN_AFTER_KILL_S)
            return feedback, True
        return feedback, False


class _LogReader:
    """A thread following one output stream of a container, one line at a time, into an asyncio queue."""

    def __init__(
        self, container: Any, stream: str, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[_Item]
    ) -> None:
        self._container = container
        self._stream = stream
        self._loop = loop
        self._queue = queue
        self._logs: Any = None
        self._closed = False
        self._thread = threading.Thread(target=self._pump, name=f"docker-{stream}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        if self._logs is not None:
            with contextlib.suppress(Exception):
                self._logs.close()

    def _put(self, item: bytes | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens any more
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (self._stream, item))

    def _pump(self) -> None:
        pending = b""
        try:
            self._logs = self._container.logs(
                stream=True, follow=True, stdout=self._stream == "stdout", stderr=self._stream == "stderr"
            )
            if self._closed:
                self.close()
            for chunk in self._logs:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._put(line)
            if pending:
                self._put(pending)
        except Exception as exc:  # the container was removed under us, or the engine went away
            if not self._closed:
                log.warning("log_stream_failed", action="logs", stream=self._stream, error=repr(exc))
        finally:
            self._put(None)


def _send_and_close(attached: Any, data: bytes) -> None:
    """Write ``data`` to an attach socket, half-close it (with ``StdinOnce`` that is the worker's end of
    file), and close it without waiting for the engine.

    The engine sends nothing back on a stdin-only attach, so closing at once loses nothing. Waiting for
    it to close its side would be a mistake: when the container is already running by the time the
    engine handles the attach (a race with ``start``), it holds the connection until the container exits.
    The SDK returns a ``socket.SocketIO`` (unix socket), a raw (TLS) socket, or a paramiko channel (ssh).
    """
    raw = getattr(attached, "_sock", attached)
    try:
        raw.sendall(data)
        if hasattr(raw, "shutdown_write"):  # paramiko
            raw.shutdown_write()
        else:
            raw.shutdown(socket.SHUT_WR)
    finally:
        with contextlib.suppress(OSError):
            attached.close()
        if raw is not attached:
            with contextlib.suppress(OSError):
                raw.close()
