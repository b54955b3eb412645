"""Manual conflict resolution: conflicts listed side by side, resolved by a manager, then applied."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.cluster import Cluster
from tests.integration.test_deltas_api import delta, deltafile
from tests.stress.conftest import api_client, new_project, running_cluster
from tests.stress.test_delta_flow import push, settled

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    env = {
        "OUTPOST_WORKER_ENV": '{"NOOP_DELTA_STATUS": "status_conflict"}',
        "OUTPOST_SWEEP_INTERVAL_S": "0.5",
    }
    with running_cluster("conflicts", env) as running:
        yield running


@pytest.fixture(scope="module")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with api_client(cluster) as client:
        yield client


def test_conflicts_are_resolved_by_hand_and_applied(http: httpx.Client) -> None:
    pid = new_project(http, "manual")
    changed = http.patch(f"projects/{pid}/", json={"overwrite_conflicts": False})
    assert changed.status_code == 200 and changed.json()["overwrite_conflicts"] is False
    body = deltafile(pid, delta(), delta(), delta())
    push(http, pid, body)
    assert {d["status"] for d in settled(http, pid, body["id"])} == {"STATUS_CONFLICT"}

    listed = http.get(f"deltas/{pid}/conflicts/").json()
    assert len(listed) == 3
    assert listed[0]["conflicts"] == [{"field": "int", "base": 1, "current": "changed 1", "incoming": 666}]
    first, second, third = (d["id"] for d in listed)
    bad = http.post(
        f"deltas/{pid}/resolve/", json={"resolutions": [{"delta_id": first, "resolution": "merge"}]}
    )
    assert bad.status_code == 400  # a merge needs the merged values; and nothing was recorded
    assert len(http.get(f"deltas/{pid}/conflicts/").json()) == 3

    saved = http.post(
        f"deltas/{pid}/resolve/",
        json={
            "apply": True,
            "resolutions": [
                {"delta_id": first, "resolution": "apply_incoming"},
                {"delta_id": second, "resolution": "keep_current"},
                {"delta_id": third, "resolution": "merge", "merged": {"attributes": {"int": 42}}},
            ],
        },
    )
    assert saved.status_code == 200 and saved.json()["resolved"] == 3 and saved.json()["job_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        statuses = {d["id"]: d for d in http.get(f"deltas/{pid}/{body['id']}/").json()}
        if all(d["status"] not in ("STATUS_PENDING", "STATUS_BUSY") for d in statuses.values()):
            break
        time.sleep(0.3)
    assert statuses[first]["status"] == "STATUS_APPLIED"
    assert statuses[second]["status"] == "STATUS_IGNORED"
    assert statuses[third]["status"] == "STATUS_APPLIED"
    assert statuses[third]["content"]["new"]["attributes"]["int"] == 42
    again = http.post(
        f"deltas/{pid}/resolve/", json={"resolutions": [{"delta_id": first, "resolution": "keep_current"}]}
    )
    assert again.status_code == 400 and "not in conflict" in again.json()["message"]


def test_only_managers_resolve(http: httpx.Client, cluster: Cluster) -> None:
    pid = new_project(http, "guarded-conflicts")
    http.post(f"collaborators/{pid}/", data={"collaborator": "alice2", "role": "editor"})
    response = http.post(f"deltas/{pid}/resolve/", json={"resolutions": []})
    assert response.status_code == 400  # alice is the owner: allowed, but the list is empty
