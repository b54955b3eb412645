"""Deltas through a real scheduler and runner (stand-in worker): every delta ends applied or in error.

QField polls a deltafile until no delta is pending or busy; a job that ends in any way must leave none so.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.cluster import Cluster
from tests.integration.test_deltas_api import delta, deltafile
from tests.stress.conftest import api_client, new_project, running_cluster, wait_status

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    env = {
        "OUTPOST_WORKER_ENV": '{"NOOP_SLEEP_S": "2"}',
        "OUTPOST_HEARTBEAT_S": "0.5",
        "OUTPOST_SWEEP_INTERVAL_S": "0.5",
    }
    with running_cluster("deltas", env) as running:
        yield running


@pytest.fixture(scope="module")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with api_client(cluster) as client:
        yield client


def push(http: httpx.Client, pid: str, body: dict[str, Any]) -> None:
    files = {"file": ("deltafile.json", json.dumps(body).encode(), "application/json")}
    assert http.post(f"deltas/{pid}/", files=files).status_code == 200


def settled(http: httpx.Client, pid: str, dfid: str, timeout: float = 60) -> list[dict[str, Any]]:
    """Poll like QField: until no delta of the deltafile is pending or busy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deltas = http.get(f"deltas/{pid}/{dfid}/").json()
        if deltas and all(d["status"] not in ("STATUS_PENDING", "STATUS_BUSY") for d in deltas):
            return list(deltas)
        time.sleep(0.3)
    raise AssertionError(f"deltas still pending or busy: {deltas}")


def delta_jobs(http: httpx.Client, pid: str) -> list[dict[str, Any]]:
    return list(http.get("jobs/", params={"project_id": pid, "type": "delta_apply"}).json())


def test_pushed_deltas_are_applied_by_a_job_of_their_own(http: httpx.Client) -> None:
    pid = new_project(http, "applied")
    body = deltafile(pid, delta(), delta("create", sourcePk="", localPk="7"))
    push(http, pid, body)
    deltas = settled(http, pid, body["id"])
    assert {d["status"] for d in deltas} == {"STATUS_APPLIED"}
    assert all(d["last_feedback"]["status"] == "status_applied" for d in deltas)
    [job] = delta_jobs(http, pid)
    assert job["status"] == "finished"


def test_a_cancelled_apply_job_leaves_its_deltas_in_error_and_later_pushes_still_apply(
    http: httpx.Client,
) -> None:
    pid = new_project(http, "interrupted")
    first = deltafile(pid, delta())
    push(http, pid, first)
    deadline = time.monotonic() + 30
    while not (jobs := delta_jobs(http, pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    wait_status(http, jobs[0]["id"], "started")
    assert http.post(f"jobs/{jobs[0]['id']}/cancel/").status_code == 202
    [failed] = settled(http, pid, first["id"])
    assert failed["status"] == "STATUS_ERROR" and "cancelled" in failed["last_feedback"]["msg"]

    second = deltafile(pid, delta(), delta())
    push(http, pid, second)
    assert {d["status"] for d in settled(http, pid, second["id"])} == {"STATUS_APPLIED"}
    everything = http.get(f"deltas/{pid}/").json()
    assert not [d for d in everything if d["status"] in ("STATUS_PENDING", "STATUS_BUSY")]
    assert uuid.UUID(failed["id"]) not in {
        uuid.UUID(d["id"]) for d in everything if d["status"] == "STATUS_APPLIED"
    }
