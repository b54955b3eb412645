"""A private Docker engine for the session, and the worker image built from the repo, cached between runs.

Shared by the docker executor tests (tests/docker), the compose stack tests (tests/compose) and
``make bench``; tests/conftest.py exposes the ``docker_engine`` fixture to every test directory.

Nothing is pre-started and no registry is reachable (shared/platform.md): the session starts its own
``dockerd`` with its data in ``$OUTPOST_DOCKER_CACHE`` (default ``/var/cache/outpost-docker``), builds the
Debian base image with ``infra/docker/base-image.sh`` (debootstrap) and the worker image from
``infra/docker/worker.Dockerfile`` unless an image of the same inputs is there already, and stops the
engine at the end. A file lock keeps two sessions from running two engines on one data dir.

Needs root and the ``docker.io`` and ``debootstrap`` packages (``infra/scripts/system-deps.sh``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("OUTPOST_DOCKER_CACHE", "/var/cache/outpost-docker"))
BASE_TAG = "local/debian:bookworm"
WORKER_TAG = "outpost/worker:test"
DOCKERFILE = "infra/docker/worker.Dockerfile"
HASH_LABEL = "outpost.context_hash"


@dataclass(frozen=True)
class Engine:
    host: str  # a DOCKER_HOST value
    client: Any  # docker.DockerClient
    image: str


def context_files() -> list[Path]:
    """What the worker image is built from (paths relative to the repo root): no caches, no .venv."""
    worker = REPO / "services/runner/worker"
    files = [
        REPO / DOCKERFILE,
        REPO / "services/runner/__init__.py",
        REPO / "services/runner/noop_worker.py",
        *(
            path
            for path in sorted(worker.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        ),
    ]
    return [path.relative_to(REPO) for path in files]


def context_tar(files: list[Path]) -> tuple[bytes, str]:
    """The build context as a tar (stable metadata) and the hash of its contents."""
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for rel in files:
            data = (REPO / rel).read_bytes()
            digest.update(str(rel).encode() + b"\0" + data + b"\0")
            info = tarfile.TarInfo(str(rel))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), digest.hexdigest()


def _log(message: str) -> None:
    print(f"[docker-engine] {message}", flush=True)


@contextlib.contextmanager
def _exclusive(lock_path: Path, timeout_s: float = 1800) -> Iterator[None]:
    """One session at a time on the cache dir (its engine, its images)."""
    with lock_path.open("w") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{lock_path} stayed locked by another test session")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ping(host: str) -> Any | None:
    try:
        client = docker.DockerClient(base_url=host, timeout=120)
        client.ping()
    except Exception:
        return None
    return client


def _leftover_daemon(pidfile: Path, data_root: Path) -> int | None:
    """The pid of a dockerd a crashed session left running on our data root, if any."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if cmdline and cmdline[0].endswith(b"dockerd") and str(data_root).encode() in cmdline:
        return pid
    return None


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _stop(pid: int) -> None:
    """SIGTERM (dockerd stops its containers and containerd), then wait; SIGKILL after 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):  # reap it if it is ours
            os.waitpid(pid, os.WNOHANG)
        if not _running(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def start_dockerd(base: Path) -> tuple[str, int]:
    """``dockerd`` as shared/platform.md starts it; returns DOCKER_HOST and its pid."""
    dockerd = shutil.which("dockerd")
    if dockerd is None or shutil.which("debootstrap") is None:
        pytest.fail(
            "the docker tests need dockerd and debootstrap: apt-get install -y docker.io debootstrap "
            "(infra/scripts/system-deps.sh)"
        )
    socket_path = base / "docker.sock"
    host = f"unix://{socket_path}"
    pidfile = base / "docker.pid"
    leftover = _leftover_daemon(pidfile, base / "root")
    if leftover is not None:
        _log(f"stopping dockerd {leftover} left by an earlier session")
        _stop(leftover)
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()
    log_file = (base / "dockerd.log").open("ab")
    proc = subprocess.Popen(
        [
            dockerd,
            "--data-root",
            str(base / "root"),
            "--exec-root",
            str(base / "exec"),
            "-H",
            host,
            "--pidfile",
            str(pidfile),
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log_file.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dockerd exited with {proc.returncode}: see {base / 'dockerd.log'}")
        if socket_path.exists() and _ping(host) is not None:
            return host, proc.pid
        time.sleep(0.2)
    _stop(proc.pid)
    pytest.fail(f"dockerd did not answer on {socket_path} within 60 s: see {base / 'dockerd.log'}")


def ensure_base_image(host: str, client: Any) -> None:
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(BASE_TAG)
        return
    started = time.monotonic()
    subprocess.run(
        [str(REPO / "infra/docker/base-image.sh"), BASE_TAG],
        env={**os.environ, "DOCKER_HOST": host},
        check=True,
        timeout=900,
    )
    _log(f"built {BASE_TAG} in {time.monotonic() - started:.0f} s")


def ensure_worker_image(client: Any) -> None:
    """Build the worker image unless one of the same context and base is there."""
    base_id = client.images.get(BASE_TAG).id
    context, digest = context_tar(context_files())
    wanted = hashlib.sha256(f"{digest} {base_id}".encode()).hexdigest()
    with contextlib.suppress(docker.errors.ImageNotFound):
        if (client.images.get(WORKER_TAG).labels or {}).get(HASH_LABEL) == wanted:
            return
    started = time.monotonic()
    try:
        client.images.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            dockerfile=DOCKERFILE,
            tag=WORKER_TAG,
            buildargs={"BASE_IMAGE": BASE_TAG},
            labels={HASH_LABEL: wanted},
            rm=True,
            forcerm=True,
            timeout=1800,
        )
    except docker.errors.BuildError as error:
        log = "".join(str(line.get("stream") or line.get("error") or "") for line in error.build_log)
        pytest.fail(f"building {WORKER_TAG} failed: {error}\n{log[-5000:]}")
    with contextlib.suppress(docker.errors.APIError):  # the images this build replaced
        client.images.prune(filters={"dangling": True})
    _log(f"built {WORKER_TAG} in {time.monotonic() - started:.0f} s")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with _exclusive(CACHE / "lock"):
        host, pid = start_dockerd(CACHE)
        previous = os.environ.get("DOCKER_HOST")
        os.environ["DOCKER_HOST"] = host  # for docker.from_env() in the executor
        try:
            client = _ping(host)
            assert client is not None
            ensure_base_image(host, client)
            ensure_worker_image(client)
            yield Engine(host, client, WORKER_TAG)
            client.close()
        finally:
            if previous is None:
                os.environ.pop("DOCKER_HOST", None)
            else:
                os.environ["DOCKER_HOST"] = previous
            _stop(pid)
