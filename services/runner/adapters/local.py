"""The ``local`` executor: a fresh ``/usr/bin/python3`` process with PyQGIS per job.

Each job gets its own temp dir (HOME, TMPDIR, XDG_RUNTIME_DIR), its own process group (killed whole
on timeout or cancel), its own cgroup (limits.py), and talks to the API over HTTP with its job token:
no shared disk. With a warm pool (``pool_size`` > 0) the next workers are started, and have started
QGIS, before a job arrives; each still handles exactly one job and exits, and is replaced in the
background. A warm worker gets its secrets with the job spec on stdin, a cold one in its environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import logging
from runner.adapters.limits import JobLimits
from runner.ports import ExecutionResult, OnMessage, WorkerSpec

log = logging.get("runner.local")
PR_SET_PDEATHSIG = 1
READY_TIMEOUT_S = 60.0


def worker_pythonpath() -> str:
    """The directory holding the ``runner`` package, so ``python3 -m runner.worker`` finds it."""
    import runner

    return str(Path(runner.__file__).resolve().parent.parent)


@dataclass
class _Worker:
    """One worker process with its private dir and limits, before and during its single job."""

    proc: asyncio.subprocess.Process
    tmp: tempfile.TemporaryDirectory[str]
    limits: JobLimits
    warm: bool
    ready: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def discard(self) -> None:
        _kill_group(self.proc.pid)
        self.limits.remove()
        self.tmp.cleanup()


class LocalExecutor:
    def __init__(
        self,
        python: str = "/usr/bin/python3",
        module: str = "runner.worker",
        extra_env: dict[str, str] | None = None,
        *,
        pool_size: int = 0,
        memory_mb: int = 2048,
        cpus: float = 1.0,
    ) -> None:
        self._python = python
        self._module = module
        self._extra_env = dict(extra_env or {})
        self._pool_size = pool_size
        self._memory_mb = memory_mb
        self._cpus = cpus
        self._pool: list[_Worker] = []
        self._starting: set[asyncio.Task[_Worker]] = set()
        self._spawned = 0

    @property
    def warm_workers(self) -> int:
        """Workers started with QGIS up, waiting for a job."""
        return len(self._pool)

    async def run(self, spec: WorkerSpec, on_message: OnMessage) -> ExecutionResult:
        worker = self._take_warm()
        if worker is None:
            worker = await self._spawn(spec.memory_mb, spec.cpus, warm=False, secrets=spec)
        self._refill()
        try:
            feedback, timed_out = await self._supervise(worker, spec, on_message)
            oom = worker.limits.oom_killed()
        finally:
            worker.discard()
        return ExecutionResult(
            worker.proc.returncode, timed_out, feedback, oom_killed=oom, limits=worker.limits.enforced
        )

    async def start(self) -> None:
        """Fill the warm pool before the first job arrives."""
        self._refill()
        if self._starting:
            await asyncio.wait(set(self._starting))

    async def close(self) -> None:
        for task in list(self._starting):
            task.cancel()
        for worker in self._pool:
            worker.discard()
        self._pool.clear()

    def _take_warm(self) -> _Worker | None:
        while self._pool:
            worker = self._pool.pop(0)
            if worker.proc.returncode is None:
                return worker
            worker.discard()  # died while it waited
        return None

    def _refill(self) -> None:
        while len(self._pool) + len(self._starting) < self._pool_size:
            task = asyncio.get_running_loop().create_task(self._spawn(self._memory_mb, self._cpus, warm=True))
            self._starting.add(task)
            task.add_done_callback(self._pooled)

    def _pooled(self, task: asyncio.Task[_Worker]) -> None:
        self._starting.discard(task)
        if task.cancelled() or task.exception() is not None:
            log.warning(
                "warm_worker_failed",
                action="pool",
                error=repr(None if task.cancelled() else task.exception()),
            )
            return
        worker = task.result()
        if worker.ready.result():
            self._pool.append(worker)
        else:
            worker.discard()

    async def _spawn(
        self, memory_mb: int, cpus: float, *, warm: bool, secrets: WorkerSpec | None = None
    ) -> _Worker:
        self._spawned += 1
        limits = JobLimits.create(f"outpost-worker-{os.getpid()}-{self._spawned}", memory_mb, cpus)
        tmp = tempfile.TemporaryDirectory(prefix="outpost-job-")
        os.chmod(tmp.name, 0o700)
        args = [self._python, "-m", self._module, "run", *(["--warm"] if warm else [])]
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._environment(Path(tmp.name), secrets),
            cwd=tmp.name,
            start_new_session=True,
            limit=16 * 1024 * 1024,
            preexec_fn=lambda: _in_child(limits),
        )
        worker = _Worker(proc, tmp, limits, warm)
        if warm:
            await self._await_ready(worker)
        else:
            worker.ready.set_result(True)
        return worker

    async def _await_ready(self, worker: _Worker) -> None:
        """A warm worker says ``{"kind": "ready"}`` once QGIS has started."""
        assert worker.proc.stdout is not None
        ok = False
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                while line := await worker.proc.stdout.readline():
                    if _parse(line).get("kind") == "ready":
                        ok = True
                        break
        except TimeoutError:
            pass
        worker.ready.set_result(ok)
        if not ok:
            log.warning("warm_worker_not_ready", action="pool", exit_code=worker.proc.returncode)

    def _environment(self, tmp: Path, secrets: WorkerSpec | None) -> dict[str, str]:
        """A minimal environment: the job's own dirs and, for a cold worker, its secrets."""
        env = {
            **self._extra_env,
            **(secrets.secret_env if secrets else {}),
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": worker_pythonpath(),
            "HOME": str(tmp),
            "TMPDIR": str(tmp),
            "XDG_RUNTIME_DIR": str(tmp),
            "QT_QPA_PLATFORM": "offscreen",
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
        if secrets and secrets.pg_service:
            env["PGSERVICEFILE"] = _write_service_file(tmp, secrets.pg_service)
        return env

    async def _supervise(
        self, worker: _Worker, spec: WorkerSpec, on_message: OnMessage
    ) -> tuple[dict[str, Any] | None, bool]:
        proc = worker.proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        payload = spec.stdin_json()
        if worker.warm:  # its environment was made before the job was known
            payload["env"] = dict(spec.secret_env)
            if spec.pg_service:
                payload["env"]["PGSERVICEFILE"] = _write_service_file(Path(worker.tmp.name), spec.pg_service)
        proc.stdin.write(json.dumps(payload).encode() + b"\n")
        await proc.stdin.drain()
        proc.stdin.close()
        feedback: dict[str, Any] | None = None

        async def read_stdout(stream: asyncio.StreamReader) -> None:
            nonlocal feedback
            async for raw in stream:
                message = _parse(raw)
                if message.get("kind") == "result":
                    feedback = message.get("feedback")
                elif message.get("kind") != "ready":
                    await on_message(message)

        async def read_stderr(stream: asyncio.StreamReader) -> None:
            async for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.strip():
                    await on_message({"kind": "log", "line": line, "stream": "stderr"})

        try:
            await asyncio.wait_for(
                asyncio.gather(read_stdout(proc.stdout), read_stderr(proc.stderr), proc.wait()),
                spec.timeout_s,
            )
        except TimeoutError:
            _kill_group(proc.pid)
            await proc.wait()
            return feedback, True
        except BaseException:  # cancelled, or our side failed: the worker never outlives its job
            _kill_group(proc.pid)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5)
            raise
        return feedback, False


def _write_service_file(tmp: Path, content: str) -> str:
    service_file = tmp / "pg_service.conf"
    service_file.write_text(content)
    service_file.chmod(0o600)
    return str(service_file)


def _in_child(limits: JobLimits) -> None:
    """In the forked worker, before exec: die with the runner, so a SIGKILLed runner leaves no orphan
    worker behind; then join the job's cgroups."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    limits.enter()


def _parse(raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", "replace").rstrip("\n")
    try:
        message = json.loads(text)
    except ValueError:
        return {"kind": "log", "line": text}
    return message if isinstance(message, dict) else {"kind": "log", "line": text}


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
