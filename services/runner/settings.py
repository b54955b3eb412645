"""The runner's settings (``OUTPOST_*``)."""

from __future__ import annotations

import os
import socket

from pydantic import Field

from common.settings import CommonSettings


class RunnerSettings(CommonSettings):
    service_name: str = "runner"
    executor: str = "local"
    capacity: int = Field(default=2, ge=1, description="Jobs this runner runs at once (one per project).")
    api_url: str = "http://127.0.0.1:8000/api/v1/"
    worker_python: str = "/usr/bin/python3"
    worker_module: str = Field(
        default="runner.worker", description="runner.noop_worker: a QGIS-free stand-in."
    )
    worker_env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment for every worker (e.g. PROJ settings); not secrets.",
    )
    worker_memory_mb: int = Field(default=2048, ge=64, description="Memory of one worker (cgroup limit).")
    worker_cpus: float = Field(default=1.0, gt=0, description="CPUs of one worker (cgroup quota).")
    docker_image: str = Field(
        default="outpost/worker:dev",
        description="Worker image of the docker executor (infra/docker/worker.Dockerfile).",
    )
    docker_network: str = Field(
        default="bridge",
        description="network_mode of worker containers (bridge, host or a network name): "
        "the worker must reach api_url from there; see runner/adapters/docker.py.",
    )
    warm_pool: int = Field(default=1, ge=0, description="Workers kept started (QGIS up) ahead of jobs.")
    lease_s: float = 15.0
    heartbeat_s: float = 2.0
    runner_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    log_flush_s: float = 0.25
    drain_s: float = Field(
        default=10.0,
        ge=0,
        description="On SIGTERM, how long running jobs may go on before the runner gives them up to the "
        "scheduler's retry (keep it below the stop timeout of whatever stops the runner).",
    )
    relay: bool = False
