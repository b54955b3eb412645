"""The compose stack as a self-hoster runs it: compose.yaml on a real Docker engine, driven by docker-compose.

The images are built from this checkout on the session's private ``dockerd`` (tests/dockerengine.py): the
Outpost image from the local Debian base, and the infrastructure look-alikes of
infra/compose/standins.yaml because no registry is reachable here (ADR 0012).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.devstack import free_port
from tests.dockerengine import BASE_TAG, REPO, Engine

COMPOSE_FILES = ("compose.yaml", "infra/compose/standins.yaml")
HOST_CA_BUNDLE = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
EXTRA_CA = REPO / "infra/docker/ca-certificates/host-bundle.crt"


@dataclass
class ComposeStack:
    engine: Engine
    env_file: Path
    port: int
    project: str = "outpost-e2e"
    files: tuple[str, ...] = COMPOSE_FILES
    user: str = "admin"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/"

    @classmethod
    def create(
        cls,
        engine: Engine,
        work: Path,
        project: str = "outpost-e2e",
        files: tuple[str, ...] = COMPOSE_FILES,
        extra_env: dict[str, str] | None = None,
    ) -> ComposeStack:
        stack = cls(engine, work / "outpost.env", free_port(), project=project, files=files)
        stack.env_file.write_text(
            "\n".join(
                [
                    f"OUTPOST_SECRET_KEY={secrets.token_urlsafe(48)}",
                    f"OUTPOST_DB_PASSWORD={secrets.token_urlsafe(16)}",
                    f"OUTPOST_S3_SECRET_KEY={secrets.token_urlsafe(24)}",
                    f"OUTPOST_ADMIN_USERNAME={stack.user}",
                    f"OUTPOST_ADMIN_PASSWORD={stack.password}",
                    f"OUTPOST_BASE_IMAGE={BASE_TAG}",
                    f"OUTPOST_PORT={stack.port}",
                    *(f"{key}={value}" for key, value in (extra_env or {}).items()),
                    "",
                ]
            )
        )
        return stack

    def compose(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = ["docker-compose", "-p", self.project, "--env-file", str(self.env_file)]
        for name in self.files:
            command += ["-f", str(REPO / name)]
        env = {
            **os.environ,
            "DOCKER_HOST": self.engine.host,
            "COMPOSE_DOCKER_CLI_BUILD": "0",  # the engine's own builder; no docker CLI or buildx needed
            "DOCKER_BUILDKIT": "0",
        }
        done = subprocess.run(
            [*command, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"docker-compose {' '.join(args)} failed:\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
            )
        return done

    def build(self) -> None:
        """Build every image (cached layers make a rebuild take seconds), then drop the ones replaced."""
        if HOST_CA_BUNDLE.is_file():  # a TLS-intercepting proxy between this machine and PyPI, maybe
            shutil.copyfile(HOST_CA_BUNDLE, EXTRA_CA)
        started = time.monotonic()
        self.compose("build", timeout=2400)
        self.engine.client.images.prune(filters={"dangling": True})
        print(f"[compose] images built in {time.monotonic() - started:.0f} s", flush=True)

    def up(self, *args: str, timeout: float = 240) -> None:
        self.compose("up", "-d", *args, timeout=timeout)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5) as answer:
                    ready = answer.status == 200
            except OSError:
                ready = False
            if ready and self.all_healthy():  # what `depends_on: service_healthy` waits for
                return
            time.sleep(1)
        raise AssertionError(f"the API did not become ready:\n{self.logs()}")

    def all_healthy(self) -> bool:
        """Every running container of the stack that has a healthcheck reports healthy."""
        running = self.engine.client.containers.list(
            filters={"label": f"com.docker.compose.project={self.project}"}
        )
        states = [c.attrs["State"].get("Health", {}).get("Status") for c in running]
        return all(state in (None, "healthy") for state in states)

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=300, check=False)

    def containers(self, service: str, *, all_states: bool = False) -> list[Any]:
        labels = [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]
        return list(self.engine.client.containers.list(all=all_states, filters={"label": labels}))

    def exec(self, service: str, *argv: str) -> str:
        """Run a command in the service's first container (e.g. the `outpost` CLI) and return its stdout."""
        [container, *_] = self.containers(service)
        result = container.exec_run(list(argv), demux=True)
        stdout, stderr = result.output
        if result.exit_code != 0:
            raise AssertionError(f"{argv} in {service}: exit {result.exit_code}: {stderr!r}")
        return (stdout or b"").decode()

    def logs(self, tail: int = 80) -> str:
        return self.compose("logs", "--no-color", "--tail", str(tail), check=False).stdout
