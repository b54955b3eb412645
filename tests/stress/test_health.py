"""/healthz and /metrics of scheduler, runner and storage (OUTPOST_HEALTH_PORT), as real processes.

Healthy while NATS and PostgreSQL answer, 503 naming NATS while it is down (storage does not use NATS and
stays healthy), healthy again after NATS restarts; the runner counts the jobs it ran.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from common.devstack import free_port, wait_for_port
from tests.cluster import Cluster
from tests.stress.conftest import api_client, jobs_of, new_project, running_cluster, wait_status

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Cluster, dict[str, int]]]:
    with running_cluster("health", {}, schedulers=0, runners=0) as running:
        ports = {}
        for kind in ("scheduler", "runner", "storage"):
            ports[kind] = free_port()
            running.start(kind, {"OUTPOST_HEALTH_PORT": str(ports[kind])})
        for port in ports.values():
            wait_for_port(port)
        yield running, ports


def health(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)


def until_status(port: int, status: int, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while (answer := health(port)).status_code != status:
        assert time.monotonic() < deadline, (port, answer.status_code, answer.text)
        time.sleep(0.2)
    return dict(answer.json())


def test_healthy_services_count_their_work(cluster: tuple[Cluster, dict[str, int]]) -> None:
    running, ports = cluster
    for kind in ("scheduler", "runner"):
        assert until_status(ports[kind], 200) == {"status": "ok", "checks": {"nats": "ok", "database": "ok"}}
    assert until_status(ports["storage"], 200) == {"status": "ok", "checks": {"database": "ok"}}

    with api_client(running) as http:
        pid = new_project(http, "counted")
        wait_status(http, jobs_of(http, pid)[0]["id"], "finished")
    runner = httpx.get(f"http://127.0.0.1:{ports['runner']}/metrics").text
    assert 'outpost_runner_jobs_total{job_type="process_projectfile",outcome="finished"} 1' in runner
    assert "outpost_runner_jobs_running 0" in runner and "outpost_runner_capacity 2" in runner
    scheduler = httpx.get(f"http://127.0.0.1:{ports['scheduler']}/metrics").text
    assert 'outpost_scheduler_events_handled_total{type="job.finished"}' in scheduler


def test_unhealthy_while_nats_is_down_and_healthy_after(cluster: tuple[Cluster, dict[str, int]]) -> None:
    running, ports = cluster
    running.nats.stop()
    running.nats.process = None
    try:
        for kind in ("scheduler", "runner"):
            assert until_status(ports[kind], 503)["checks"] == {"nats": "failing", "database": "ok"}
        assert health(ports["storage"]).status_code == 200
    finally:
        running.nats.start()
    for kind in ("scheduler", "runner"):
        until_status(ports[kind], 200)


def test_only_get_on_two_paths(cluster: tuple[Cluster, dict[str, int]]) -> None:
    _, ports = cluster
    base = f"http://127.0.0.1:{ports['runner']}"
    assert httpx.post(f"{base}/healthz").status_code == 405
    assert httpx.get(f"{base}/nothing").status_code == 404
    assert httpx.get(f"{base}/healthz?verbose=1").status_code == 200
