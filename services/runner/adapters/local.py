"""The ``local`` executor: a fresh ``/usr/bin/python3`` process with PyQGIS per job.

Each job gets its own temp dir (HOME, TMPDIR, XDG_RUNTIME_DIR), its own process group (killed whole
on timeout or cancel), and talks to the API over HTTP with its job token: no shared disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

from common import logging
from runner.adapters.limits import JobLimits
from runner.ports import ExecutionResult, OnMessage, WorkerSpec

log = logging.get("runner.local")
PR_SET_PDEATHSIG = 1


def worker_pythonpath() -> str:
    """The directory holding the ``runner`` package, so ``python3 -m runner.worker`` finds it."""
    import runner

    return str(Path(runner.__file__).resolve().parent.parent)


class LocalExecutor:
    def __init__(
        self,
        python: str = "/usr/bin/python3",
        module: str = "runner.worker",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self._python = python
        self._module = module
        self._extra_env = dict(extra_env or {})

    async def run(self, spec: WorkerSpec, on_message: OnMessage) -> ExecutionResult:
        limits = JobLimits.create(f"outpost-job-{spec.job_id}", spec.memory_mb, spec.cpus)
        try:
            with tempfile.TemporaryDirectory(prefix=f"outpost-job-{spec.job_id[:8]}-") as tmp:
                os.chmod(tmp, 0o700)
                proc = await asyncio.create_subprocess_exec(
                    self._python,
                    "-m",
                    self._module,
                    "run",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=self._environment(spec, Path(tmp)),
                    cwd=tmp,
                    start_new_session=True,
                    limit=16 * 1024 * 1024,
                    preexec_fn=lambda: _in_child(limits),
                )
                feedback, timed_out = await self._supervise(proc, spec, on_message)
                oom = limits.oom_killed()
        finally:
            limits.remove()
        return ExecutionResult(proc.returncode, timed_out, feedback, oom_killed=oom, limits=limits.enforced)

    def _environment(self, spec: WorkerSpec, tmp: Path) -> dict[str, str]:
        """A minimal environment: the job's own dirs, secrets as variables, pgservice secrets as a file."""
        env = {
            **self._extra_env,
            **spec.secret_env,
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": worker_pythonpath(),
            "HOME": str(tmp),
            "TMPDIR": str(tmp),
            "XDG_RUNTIME_DIR": str(tmp),
            "QT_QPA_PLATFORM": "offscreen",
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
        if spec.pg_service:
            service_file = tmp / "pg_service.conf"
            service_file.write_text(spec.pg_service)
            service_file.chmod(0o600)
            env["PGSERVICEFILE"] = str(service_file)
        return env

    async def _supervise(
        self, proc: asyncio.subprocess.Process, spec: WorkerSpec, on_message: OnMessage
    ) -> tuple[dict[str, Any] | None, bool]:
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdin.write(json.dumps(spec.stdin_json()).encode() + b"\n")
        await proc.stdin.drain()
        proc.stdin.close()
        feedback: dict[str, Any] | None = None

        async def read_stdout(stream: asyncio.StreamReader) -> None:
            nonlocal feedback
            async for raw in stream:
                message = _parse(raw)
                if message.get("kind") == "result":
                    feedback = message.get("feedback")
                else:
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
