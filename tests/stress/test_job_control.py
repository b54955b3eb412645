"""Job requests, cancel and timeouts through the API, with a real scheduler and runner (stand-in worker)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.cli import ensure_user
from common import migrate
from common.devstack import NatsServer, PostgresServer
from tests.cluster import Cluster
from tests.conftest import server_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    base = server_dir("control")
    pg = PostgresServer(base / "pg").start()
    url = pg.create_database("outpost")
    migrate.upgrade(url)
    ensure_user(url, "alice", "control-password")
    ensure_user(url, "bob", "control-password")
    nats = NatsServer(base / "nats").start()
    running = Cluster(
        base=base,
        pg=pg,
        nats=nats,
        database_url=url,
        extra_env={
            "OUTPOST_WORKER_ENV": '{"NOOP_SLEEP_S": "30"}',
            "OUTPOST_HEARTBEAT_S": "0.5",
            "OUTPOST_SWEEP_INTERVAL_S": "0.5",
        },
    )
    running.start("api")
    running.start("scheduler")
    running.start("runner")
    yield running
    running.stop_all()
    nats.stop()
    pg.stop("immediate")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.api_url, timeout=30) as client:
        login = client.post("auth/login/", data={"username": "alice", "password": "control-password"})
        client.headers["Authorization"] = f"Token {login.json()['token']}"
        probe = new_project(client, "probe", with_file=False)
        deadline = time.monotonic() + 30
        while client.post("jobs/", data={"project_id": probe, "type": "package"}).status_code == 503:
            assert time.monotonic() < deadline, "the scheduler never answered"
            time.sleep(0.2)
        yield client


def wait_status(http: httpx.Client, job_id: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
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


def test_package_requests(http: httpx.Client) -> None:
    empty = new_project(http, "empty", with_file=False)
    refused = http.post("jobs/", data={"project_id": empty, "type": "package"})
    assert refused.status_code == 400 and refused.json()["code"] == "no_qgis_project"
    pid = new_project(http, "packaging")
    unprocessed = http.post("jobs/", json={"project_id": pid, "type": "package"})
    assert unprocessed.status_code == 400 and "processed" in unprocessed.json()["message"]
    forced = http.post("jobs/", json={"project_id": pid, "type": "package", "force": True})
    assert forced.status_code == 201 and forced.json()["status"] in ("pending", "queued")
    again = http.post("jobs/", json={"project_id": pid, "type": "package"})
    assert (again.status_code, again.json()["id"]) == (200, forced.json()["id"])
    assert http.post("jobs/", data={"project_id": pid, "type": "nope"}).status_code == 400
    unknown = http.post(
        "jobs/", data={"project_id": "00000000-0000-4000-8000-000000000000", "type": "package"}
    )
    assert unknown.status_code == 404
    for job in http.get("jobs/", params={"project_id": pid}).json():
        if job["status"] in ("pending", "queued", "started"):
            http.post(f"jobs/{job['id']}/cancel/")


def test_cancel_pending_and_started_jobs(http: httpx.Client) -> None:
    pid = new_project(http, "cancelling")
    [running] = jobs_of(http, pid)
    running = wait_status(http, running["id"], "started")
    waiting = http.post("jobs/", json={"project_id": pid, "type": "process_projectfile", "force": 1}).json()
    assert waiting["status"] == "pending"  # the project's slot is taken by the running job

    cancelled = http.post(f"jobs/{waiting['id']}/cancel/")
    assert cancelled.status_code == 202
    job = wait_status(http, waiting["id"], "cancelled", timeout=10)
    assert (
        job["status"] == "failed" and job["feedback"]["error_type"] == "CANCELLED"
    )  # what QFieldCloud clients see
    assert job["started_at"] is None

    started_at = time.monotonic()
    http.post(f"jobs/{running['id']}/cancel/")
    job = wait_status(http, running["id"], "cancelled", timeout=15)
    assert time.monotonic() - started_at < 10, "the worker must die promptly, not after its 30 s sleep"
    assert job["finished_at"] is not None
    assert http.post(f"jobs/{running['id']}/cancel/").status_code == 400  # ended already
    assert http.get(f"projects/{pid}/").json()["status"] != "busy"


def test_only_the_creator_or_a_manager_may_cancel(http: httpx.Client, cluster: Cluster) -> None:
    pid = new_project(http, "guarded")
    http.post(f"collaborators/{pid}/", data={"collaborator": "bob", "role": "reporter"})
    [job] = jobs_of(http, pid)
    with httpx.Client(base_url=cluster.api_url, timeout=30) as bob:
        token = bob.post("auth/login/", data={"username": "bob", "password": "control-password"}).json()[
            "token"
        ]
        refused = bob.post(f"jobs/{job['id']}/cancel/", headers={"Authorization": f"Token {token}"})
    assert refused.status_code == 403
    assert http.post(f"jobs/{job['id']}/cancel/").status_code == 202
    wait_status(http, job["id"], "cancelled", timeout=15)


def test_project_timeout_overrides_the_default(http: httpx.Client) -> None:
    pid = new_project(http, "slowpoke", with_file=False)
    bad = http.patch(f"projects/{pid}/settings/", json={"job_timeouts": {"process_projectfile": -1}})
    assert bad.status_code == 400
    changed = http.patch(f"projects/{pid}/settings/", json={"job_timeouts": {"process_projectfile": 2}})
    assert changed.json() == {"job_timeouts": {"process_projectfile": 2.0}}
    assert http.post(f"files/{pid}/p.qgs/", files={"file": ("p.qgs", b"<qgis/>")}).status_code == 201
    job = wait_status(http, jobs_of(http, pid)[0]["id"], "failed", timeout=20)
    assert job["timeout_s"] == 2.0 and job["feedback"]["error_type"] == "TIMEOUT"
    assert "2 seconds" in job["feedback"]["error"]
