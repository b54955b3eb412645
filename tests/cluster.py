"""A whole Outpost cluster as real processes, for tests that kill and restart its parts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from common.devstack import NatsServer, PostgresServer, free_port, wait_for_port

SERVICE_MODULES = {"api": "api", "scheduler": "scheduler", "runner": "runner", "storage": "storage"}


@dataclass
class Member:
    name: str
    kind: str
    process: subprocess.Popen[bytes]


@dataclass
class Cluster:
    """PostgreSQL, NATS, one API, N schedulers and M runners (with the no-op stand-in worker)."""

    base: Path
    pg: PostgresServer
    nats: NatsServer
    database_url: str
    api_port: int = field(default_factory=free_port)
    members: list[Member] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1/"

    def env(self, kind: str, name: str) -> dict[str, str]:
        return {
            **os.environ,
            "OUTPOST_DATABASE_URL": self.database_url,
            "OUTPOST_NATS_URL": self.nats.url,
            "OUTPOST_SECRET_KEY": "cluster-secret-" * 3,
            "OUTPOST_PORT": str(self.api_port),
            "OUTPOST_API_URL": self.api_url,
            "OUTPOST_RUNNER_ID": name,
            "OUTPOST_WORKER_PYTHON": sys.executable,
            "OUTPOST_WORKER_MODULE": "runner.noop_worker",
            "OUTPOST_LOG_JSON": "true",
            **self.extra_env,
        }

    def start(self, kind: str, env: dict[str, str] | None = None) -> Member:
        self.counter += 1
        name = f"{kind}-{self.counter}"
        log = (self.base / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", SERVICE_MODULES[kind]],
            env={**self.env(kind, name), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        member = Member(name, kind, process)
        self.members.append(member)
        if kind == "api":
            wait_for_port(self.api_port)
        return member

    def alive(self, kind: str) -> list[Member]:
        return [m for m in self.members if m.kind == kind and m.process.poll() is None]

    def kill(self, member: Member) -> None:
        member.process.send_signal(signal.SIGKILL)
        member.process.wait()

    def stop_all(self) -> None:
        for member in self.members:
            if member.process.poll() is None:
                member.process.terminate()
        deadline = time.monotonic() + 15
        for member in self.members:
            try:
                member.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                member.process.kill()
                member.process.wait()

    def restart_nats(self) -> None:
        self.nats.stop()
        self.nats.process = None
        self.nats.start()

    def restart_postgres(self) -> None:
        self.pg.stop("fast")
        self.pg.start()
