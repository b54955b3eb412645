"""Clusters of real processes for the scheduler and runner tests."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from api.cli import ensure_user
from common import migrate
from common.devstack import NatsServer, PostgresServer
from tests.cluster import Cluster
from tests.conftest import server_dir

PASSWORD = "cluster-password"


@contextmanager
def running_cluster(
    name: str,
    env: dict[str, str],
    *,
    schedulers: int = 1,
    runners: int = 1,
    users: tuple[str, ...] = ("alice",),
) -> Iterator[Cluster]:
    """PostgreSQL, NATS, an API, schedulers and runners of their own, stopped and removed afterwards."""
    base = server_dir(name)
    pg = PostgresServer(base / "pg").start()
    url = pg.create_database("outpost")
    migrate.upgrade(url)
    for user in users:
        ensure_user(url, user, PASSWORD)
    nats = NatsServer(base / "nats").start()
    cluster = Cluster(base=base, pg=pg, nats=nats, database_url=url, extra_env=env)
    cluster.start("api")
    for _ in range(schedulers):
        cluster.start("scheduler")
    for _ in range(runners):
        cluster.start("runner")
    try:
        yield cluster
    finally:
        cluster.stop_all()
        nats.stop()
        pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def api_client(cluster: Cluster, user: str = "alice") -> Iterator[httpx.Client]:
    """A logged-in client, returned once the scheduler answers job requests."""
    with httpx.Client(base_url=cluster.api_url, timeout=30) as client:
        login = client.post("auth/login/", data={"username": user, "password": PASSWORD})
        client.headers["Authorization"] = f"Token {login.json()['token']}"
        probe = client.post("projects/", data={"name": f"probe-{user}"}).json()["id"]
        deadline = time.monotonic() + 30
        while client.post("jobs/", data={"project_id": probe, "type": "package"}).status_code == 503:
            assert time.monotonic() < deadline, "the scheduler never answered"
            time.sleep(0.2)
        yield client


def wait_status(http: httpx.Client, job_id: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
    """The job once its Outpost status is ``wanted``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"jobs/{job_id}/").json()
        if job["outpost_status"] == wanted:
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never became {wanted}: {job}")


def jobs_of(http: httpx.Client, pid: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
    """The project's jobs once there are ``count`` of them (jobs from uploads appear asynchronously)."""
    deadline = time.monotonic() + timeout
    while len(jobs := http.get("jobs/", params={"project_id": pid}).json()) < count:
        assert time.monotonic() < deadline, f"expected {count} jobs, got {jobs}"
        time.sleep(0.1)
    return list(jobs)


def new_project(http: httpx.Client, name: str, with_file: bool = True) -> str:
    pid = str(http.post("projects/", data={"name": name}).json()["id"])
    if with_file:
        assert http.post(f"files/{pid}/p.qgs/", files={"file": ("p.qgs", b"<qgis/>")}).status_code == 201
    return pid
