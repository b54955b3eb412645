"""The executor port: run one worker for one job, stream what it says, return how it ended."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

OnMessage = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class WorkerSpec:
    """What goes into the worker on stdin (the token is a secret: never logged)."""

    job_id: str
    job_type: str
    project_id: str
    project_file: str | None
    api_url: str
    token: str
    params: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 600.0
    secret_env: dict[str, str] = field(default_factory=dict)
    pg_service: str = ""
    memory_mb: int = 2048
    cpus: float = 1.0

    def stdin_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "type": self.job_type,
            "project_id": self.project_id,
            "project_file": self.project_file,
            "api_url": self.api_url,
            "token": self.token,
            "params": self.params,
        }


@dataclass(frozen=True)
class ExecutionResult:
    """How the worker ended: ``exit_code`` is negative for a signal (-11 = SIGSEGV), None if it never ran."""

    exit_code: int | None
    timed_out: bool
    feedback: dict[str, Any] | None
    oom_killed: bool = False
    limits: str = ""


class Executor(Protocol):
    async def run(self, spec: WorkerSpec, on_message: OnMessage) -> ExecutionResult:
        """Run the worker to completion (or timeout); ``on_message`` gets each protocol line as it comes."""
        ...
