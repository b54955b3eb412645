"""The ``local`` executor: a fresh ``/usr/bin/python3`` process with PyQGIS per job.

Each job gets its own temp dir (HOME, TMPDIR, XDG_RUNTIME_DIR), its own process group (killed whole
on timeout or cancel), and talks to the API over HTTP with its job token: no shared disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

from common import logging
from runner.ports import ExecutionResult, OnMessage, WorkerSpec

log = logging.get("runner.local")


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
        with tempfile.TemporaryDirectory(prefix=f"outpost-job-{spec.job_id[:8]}-") as tmp:
            os.chmod(tmp, 0o700)
            env = {
                **self._extra_env,
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": worker_pythonpath(),
                "HOME": tmp,
                "TMPDIR": tmp,
                "XDG_RUNTIME_DIR": tmp,
                "QT_QPA_PLATFORM": "offscreen",
                "LANG": "C.UTF-8",
                "PYTHONUNBUFFERED": "1",
            }
            proc = await asyncio.create_subprocess_exec(
                self._python,
                "-m",
                self._module,
                "run",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=tmp,
                start_new_session=True,
                limit=16 * 1024 * 1024,
            )
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(spec.stdin_json()).encode() + b"\n")
            await proc.stdin.drain()
            proc.stdin.close()
            feedback: dict[str, Any] | None = None

            async def read_stdout() -> None:
                nonlocal feedback
                assert proc.stdout is not None
                async for raw in proc.stdout:
                    message = _parse(raw)
                    if message.get("kind") == "result":
                        feedback = message.get("feedback")
                    else:
                        await on_message(message)

            async def read_stderr() -> None:
                assert proc.stderr is not None
                async for raw in proc.stderr:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    if line.strip():
                        await on_message({"kind": "log", "line": line, "stream": "stderr"})

            timed_out = False
            try:
                await asyncio.wait_for(
                    asyncio.gather(read_stdout(), read_stderr(), proc.wait()), spec.timeout_s
                )
            except TimeoutError:
                timed_out = True
                _kill_group(proc.pid)
                await proc.wait()
            except BaseException:  # cancelled, or our side failed: the worker never outlives its job
                _kill_group(proc.pid)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(proc.wait(), 5)
                raise
            return ExecutionResult(exit_code=proc.returncode, timed_out=timed_out, feedback=feedback)


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
