"""Each failure reported as itself, with its log kept; secrets reach the worker and nothing else.

A real scheduler and runner (the stand-in worker, with a 128 MiB memory limit per worker).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.cluster import Cluster
from tests.stress.conftest import api_client, jobs_of, new_project, running_cluster, wait_status

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ENV_SECRET = "s3cr3t-Value-42!"
PG_PASSWORD = "pg-Secret-99"
PG_SERVICE = f"[geodb]\nhost=127.0.0.1\nport=5432\ndbname=gis\nuser=field\npassword={PG_PASSWORD}\n"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    env = {
        "OUTPOST_WORKER_MEMORY_MB": "128",
        "OUTPOST_HEARTBEAT_S": "0.5",
        "OUTPOST_LEASE_S": "4",
        "OUTPOST_SWEEP_INTERVAL_S": "0.5",
        "OUTPOST_RETRY_BACKOFF_BASE_S": "0.5",
        "OUTPOST_LEASE_GRACE_S": "2",
    }
    with running_cluster("failures", env) as running:
        yield running


@pytest.fixture(scope="module")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with api_client(cluster) as client:
        yield client


def run_job(http: httpx.Client, name: str, params: dict[str, Any], wanted: str = "failed") -> dict[str, Any]:
    pid = new_project(http, name)
    first = jobs_of(http, pid)[0]
    wait_status(http, first["id"], "finished", timeout=30)
    created = http.post(
        "jobs/", json={"project_id": pid, "type": "process_projectfile", "force": 1, "params": params}
    )
    assert created.status_code == 201, created.text
    return wait_status(http, created.json()["id"], wanted, timeout=60)


def test_out_of_memory_is_reported_as_oom_with_the_log_kept(http: httpx.Client) -> None:
    job = run_job(http, "hungry", {"noop_alloc_mb": 600, "noop_sleep_s": 0})
    assert job["feedback"]["error_type"] == "OOM", job["feedback"]
    assert "128 MiB" in job["feedback"]["error"]
    assert "Prepare: job" in job["output"]  # what the worker said before it died is still there
    assert [s["id"] for s in job["steps"] if s["stage"] == "started"] == ["work"]


def test_a_segfault_is_reported_as_a_crash_with_the_signal(http: httpx.Client) -> None:
    job = run_job(http, "crashy", {"noop_crash": "segv", "noop_sleep_s": 0})
    assert job["feedback"]["error_type"] == "WORKER_CRASH"
    assert "SIGSEGV" in job["feedback"]["error"] and "segmentation fault" in job["feedback"]["error"]
    assert job["feedback"]["container_exit_code"] == -signal.SIGSEGV
    assert "Work: job" in job["output"]


def test_a_clean_worker_failure_is_not_retried(http: httpx.Client) -> None:
    job = run_job(http, "broken", {"noop_exit": 1, "noop_sleep_s": 0})
    assert job["feedback"]["error_type"] == "UNKNOWN" and job["attempt"] == 1


def test_secrets_reach_the_worker_and_nothing_else(http: httpx.Client, cluster: Cluster) -> None:
    pid = new_project(http, "secretive", with_file=False)
    assert (
        http.post(
            f"projects/{pid}/secrets/", json={"name": "DB_PASSWORD", "type": "envvar", "value": ENV_SECRET}
        ).status_code
        == 201
    )
    assert (
        http.post(
            f"projects/{pid}/secrets/", json={"name": "PG_GEODB", "type": "pgservice", "value": PG_SERVICE}
        ).status_code
        == 201
    )
    bad = http.post(f"projects/{pid}/secrets/", json={"name": "bad name", "type": "envvar", "value": "x"})
    assert bad.status_code == 400
    assert (
        http.post(
            f"projects/{pid}/secrets/", json={"name": "PG_X", "type": "pgservice", "value": "no section"}
        ).status_code
        == 400
    )
    listed = http.get(f"projects/{pid}/secrets/")
    assert [s["name"] for s in listed.json()] == ["DB_PASSWORD", "PG_GEODB"]

    assert http.post(f"files/{pid}/p.qgs/", files={"file": ("p.qgs", b"<qgis/>")}).status_code == 201
    wait_status(http, jobs_of(http, pid)[0]["id"], "finished", timeout=30)
    params = {
        "noop_echo_env": ["DB_PASSWORD"],
        "noop_echo_pgservice": True,
        "noop_feedback_env": "DB_PASSWORD",
    }
    created = http.post(
        "jobs/", json={"project_id": pid, "type": "process_projectfile", "force": 1, "params": params}
    )
    job = wait_status(http, created.json()["id"], "finished", timeout=60)
    assert job["feedback"]["outputs"]["echo"] == "***"
    assert "env DB_PASSWORD=***" in job["output"]  # the worker got the value (else it would print None)...
    # ...and the service file, every line of which counts as secret (host and user names included)
    assert job["output"].count("pg_service.conf: ***") == len(PG_SERVICE.strip().splitlines())

    responses = [
        listed.text,
        http.get(f"jobs/{job['id']}/").text,
        http.get("jobs/", params={"project_id": pid}).text,
        http.get(f"projects/{pid}/").text,
    ]
    with psycopg.connect(cluster.database_url.replace("+psycopg", "")) as conn:
        events = [row[0] for row in conn.execute("SELECT data::text FROM events")]
        read_models = [
            row[0] for row in conn.execute("SELECT output || coalesce(feedback::text, '') FROM rm_jobs")
        ]
        stored = conn.execute("SELECT ciphertext FROM project_secrets").fetchall()
    logs = [path.read_text(errors="replace") for path in cluster.base.glob("*.log")]
    for value in (ENV_SECRET, PG_PASSWORD):
        for where, texts in (
            ("API responses", responses),
            ("events", events),
            ("read models", read_models),
            ("logs", logs),
        ):
            assert not any(value in t for t in texts), f"the secret leaked into {where}"
        assert not any(value.encode() in bytes(row[0]) for row in stored), "stored in clear"
    assert http.delete(f"projects/{pid}/secrets/DB_PASSWORD/").status_code == 204
    assert http.delete(f"projects/{pid}/secrets/DB_PASSWORD/").status_code == 404


def test_a_runner_killed_mid_job_is_recovered(http: httpx.Client, cluster: Cluster) -> None:
    pid = new_project(http, "orphaned")
    wait_status(http, jobs_of(http, pid)[0]["id"], "finished", timeout=30)
    created = http.post(
        "jobs/",
        json={"project_id": pid, "type": "process_projectfile", "force": 1, "params": {"noop_sleep_s": 4}},
    ).json()
    wait_status(http, created["id"], "started", timeout=30)
    [runner] = cluster.alive("runner")
    cluster.kill(runner)
    cluster.start("runner")
    job = wait_status(http, created["id"], "finished", timeout=60)
    assert job["attempt"] == 2
    with psycopg.connect(cluster.database_url.replace("+psycopg", "")) as conn:
        kinds = [
            r[0]
            for r in conn.execute(
                "SELECT event_type FROM events WHERE stream_id = %s ORDER BY position",
                (f"job-{created['id']}",),
            )
        ]
    assert "job.retry_scheduled" in kinds and kinds.count("job.started") == 2 and kinds[-1] == "job.finished"


def test_a_runner_stopped_with_sigterm_finishes_its_job_first(http: httpx.Client, cluster: Cluster) -> None:
    """SIGTERM (compose stop, Ctrl-C of `make up`): no new jobs; the running one may end first."""
    pid = new_project(http, "drained")
    wait_status(http, jobs_of(http, pid)[0]["id"], "finished", timeout=30)
    created = http.post(
        "jobs/",
        json={"project_id": pid, "type": "process_projectfile", "force": 1, "params": {"noop_sleep_s": 3}},
    ).json()
    wait_status(http, created["id"], "started", timeout=30)
    [runner] = cluster.alive("runner")
    runner.process.send_signal(signal.SIGTERM)
    assert runner.process.wait(timeout=15) == 0
    try:
        job = http.get(f"jobs/{created['id']}/").json()
        assert job["status"] == "finished", job  # ended before the runner exited, in its first attempt
        assert job["attempt"] == 1
    finally:
        cluster.start("runner")
