"""Start the stack exactly as `make up` does (``outpost up``), on random ports, for e2e tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common.devstack import free_port


@dataclass
class Stack:
    data_dir: Path
    port: int
    pg_port: int
    nats_port: int
    process: subprocess.Popen[str] | None = None
    user: str = "demo"
    password: str = "demo-secret-pw"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/"

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.pg_port}/outpost"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "OUTPOST_DATA_DIR": str(self.data_dir),
            "OUTPOST_PORT": str(self.port),
            "OUTPOST_PG_PORT": str(self.pg_port),
            "OUTPOST_NATS_PORT": str(self.nats_port),
            "OUTPOST_DEMO_USER": self.user,
            "OUTPOST_DEMO_PASSWORD": self.password,
            "OUTPOST_LOG_JSON": "true",
        }

    def start(self, timeout: float = 120.0) -> list[str]:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "common.cli", "up"],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("outpost up exited:\n" + "".join(lines))
            lines.append(line)
            if "Outpost is up" in line:
                # keep reading the rest of the banner
                for _ in range(2):
                    lines.append(self.process.stdout.readline())
                return lines
        raise RuntimeError("outpost up did not come up:\n" + "".join(lines))

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    @staticmethod
    def random(data_dir: Path) -> Stack:
        return Stack(data_dir=data_dir, port=free_port(), pg_port=free_port(), nats_port=free_port())
