"""Job requests, cancel and timeouts through the API, with a real scheduler and runner (stand-in worker)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.cluster import Cluster
from tests.stress.conftest import PASSWORD, api_client, jobs_of, new_project, running_cluster, wait_status

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    env = {
        "OUTPOST_WORKER_ENV": '{"NOOP_SLEEP_S": "30"}',
        "OUTPOST_HEARTBEAT_S": "0.5",
        "OUTPOST_SWEEP_INTERVAL_S": "0.5",
    }
    with running_cluster("control", env, users=("alice", "bob")) as running:
        yield running


@pytest.fixture(scope="module")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with api_client(cluster) as client:
        yield client


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
        token = bob.post("auth/login/", data={"username": "bob", "password": PASSWORD}).json()["token"]
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
