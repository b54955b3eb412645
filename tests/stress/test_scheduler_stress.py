"""The scheduler's guarantees under chaos, checked from the event log alone (issue: the scheduler).

2 schedulers and 3 runners as real processes (a no-op stand-in worker: QGIS is not under test), 200+
jobs over 20 projects from random triggers, random SIGKILLs of schedulers and runners while it runs,
one restart of NATS and one of PostgreSQL. Then, reading only the ``events`` table:
every job is terminal; no two attempts of one project overlap; each project's jobs first started in
enqueue order; and no project is left busy.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.cluster import Cluster
from tests.stress.conftest import PASSWORD, running_cluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
PROJECTS = 20
FORCED_JOBS = 200
UPLOADS = 40
ENDS = ("job.finished", "job.failed", "job.cancelled", "job.retry_scheduled")
TERMINAL = ("job.finished", "job.failed", "job.cancelled")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    env = {
        "OUTPOST_LEASE_S": "4",
        "OUTPOST_HEARTBEAT_S": "0.5",
        "OUTPOST_SWEEP_INTERVAL_S": "0.5",
        "OUTPOST_RETRY_BACKOFF_BASE_S": "0.5",
        "OUTPOST_RETRY_BACKOFF_MAX_S": "2",
        "OUTPOST_JOB_MAX_ATTEMPTS": "6",
        "OUTPOST_LEASE_GRACE_S": "2",
        "OUTPOST_REDISPATCH_S": "10",
        "OUTPOST_CAPACITY": "2",
    }
    with running_cluster("stress", env, schedulers=2, runners=3) as running:
        yield running


class Driver:
    """Talks to the API like a client would, retrying through the outages the test causes."""

    def __init__(self, cluster: Cluster) -> None:
        self.http = httpx.Client(base_url=cluster.api_url, timeout=30)
        self.token = ""

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for _ in range(120):
            try:
                headers = {"Authorization": f"Token {self.token}"} if self.token else {}
                response = self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            if response.status_code < 500:
                return response
            time.sleep(0.5)
        raise AssertionError(f"{method} {path} kept failing")

    def login(self) -> None:
        self.token = self.call(
            "POST", "auth/login/", data={"username": "alice", "password": PASSWORD}
        ).json()["token"]


def chaos(cluster: Cluster, stop: threading.Event, log: list[str]) -> None:
    """Kill a random scheduler or runner every couple of seconds and start a new one in its place."""
    rng = random.Random(7)
    while not stop.wait(rng.uniform(1.0, 2.5)):
        kind = rng.choice(["scheduler", "runner", "runner"])
        alive = cluster.alive(kind)
        if alive:
            victim = rng.choice(alive)
            cluster.kill(victim)
            log.append(f"killed {victim.name}")
            cluster.start(kind)


def test_guarantees_hold_under_kills_and_restarts(cluster: Cluster) -> None:
    driver = Driver(cluster)
    driver.login()
    projects = []
    for i in range(PROJECTS):
        pid = driver.call("POST", "projects/", data={"name": f"stress{i}"}).json()["id"]
        assert (
            driver.call("POST", f"files/{pid}/p.qgs/", files={"file": ("p.qgs", b"<qgis/>")}).status_code
            == 201
        )
        projects.append(pid)

    stop = threading.Event()
    kills: list[str] = []
    monkey = threading.Thread(target=chaos, args=(cluster, stop, kills), daemon=True)
    monkey.start()
    rng = random.Random(42)
    triggers = [("job", rng.choice(projects)) for _ in range(FORCED_JOBS)] + [
        ("upload", rng.choice(projects)) for _ in range(UPLOADS)
    ]
    rng.shuffle(triggers)
    for n, (kind, pid) in enumerate(triggers):
        if n == len(triggers) // 3:
            cluster.restart_nats()
            kills.append("restarted NATS")
        if n == 2 * len(triggers) // 3:
            cluster.restart_postgres()
            kills.append("restarted PostgreSQL")
        if kind == "job":
            response = driver.call(
                "POST", "jobs/", data={"project_id": pid, "type": "process_projectfile", "force": "1"}
            )
            assert response.status_code == 201, response.text
        else:
            assert (
                driver.call("POST", f"files/{pid}/data{n}.txt/", files={"file": ("d", b"x")}).status_code
                == 201
            )
        time.sleep(rng.uniform(0, 0.05))
    time.sleep(5)
    stop.set()
    monkey.join()

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if not _unfinished(cluster):
            break
        time.sleep(1)
    history = _history(cluster)
    _check(history, kills)
    assert not _unfinished(cluster), "a project was left busy"


def _unfinished(cluster: Cluster) -> list[Any]:
    dsn = cluster.database_url.replace("+psycopg", "")
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT id, status FROM rm_jobs WHERE status NOT IN ('finished', 'failed', 'cancelled')"
        ).fetchall()


def _history(cluster: Cluster) -> list[tuple[int, str, str, dict[str, Any]]]:
    dsn = cluster.database_url.replace("+psycopg", "")
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT position, stream_id, event_type, data FROM events"
            " WHERE event_type LIKE 'job.%' ORDER BY position"
        ).fetchall()


def _check(
    history: list[tuple[int, str, str, dict[str, Any]]],
    chaos_log: list[str],
    expected_jobs: int = FORCED_JOBS,
) -> None:
    created: dict[str, tuple[int, str]] = {}
    terminal: dict[str, str] = {}
    first_start: dict[str, int] = {}
    attempts: dict[str, list[list[int]]] = defaultdict(list)  # project -> [start, end] per attempt
    open_attempt: dict[str, list[int]] = {}
    for position, stream, event_type, data in history:
        job = stream
        if event_type == "job.created":
            created[job] = (position, data["project_id"])
        elif event_type == "job.started":
            assert job not in open_attempt, f"{job} started twice at once"
            first_start.setdefault(job, position)
            interval = [position, -1]
            open_attempt[job] = interval
            attempts[data["project_id"]].append(interval)
        elif event_type in ENDS and job in open_attempt:
            open_attempt.pop(job)[1] = position
        if event_type in TERMINAL:
            assert job not in terminal, f"{job} ended twice"
            terminal[job] = event_type
    summary = f"{len(created)} jobs, {sum(map(len, attempts.values()))} attempts; chaos: {chaos_log}"
    assert len(created) >= expected_jobs, summary
    assert set(created) == set(terminal), f"jobs without an end: {set(created) - set(terminal)}; {summary}"
    assert not open_attempt, summary
    assert (
        "restarted NATS" in chaos_log
        and "restarted PostgreSQL" in chaos_log
        and any("killed" in c for c in chaos_log)
    )
    for project, intervals in attempts.items():
        intervals.sort()
        for before, after in itertools.pairwise(intervals):
            assert before[1] < after[0], f"two attempts overlap in project {project}: {before} {after}"
    by_project: dict[str, list[str]] = defaultdict(list)
    for job, (_, project) in sorted(created.items(), key=lambda item: item[1][0]):
        if job in first_start:
            by_project[project].append(job)
    for project, jobs in by_project.items():
        starts = [first_start[j] for j in jobs]
        assert starts == sorted(starts), f"project {project} did not start its jobs in enqueue order"
    print(summary, {t: list(terminal.values()).count(t) for t in TERMINAL})


def _fake(*rows: tuple[str, str, str]) -> list[tuple[int, str, str, dict[str, Any]]]:
    return [(i + 1, job, kind, {"project_id": project}) for i, (job, kind, project) in enumerate(rows)]


CHAOS = ["killed runner-1", "restarted NATS", "restarted PostgreSQL"]


def test_the_checker_catches_overlapping_attempts() -> None:
    history = _fake(
        ("a", "job.created", "p"),
        ("b", "job.created", "p"),
        ("a", "job.started", "p"),
        ("b", "job.started", "p"),
        ("a", "job.finished", "p"),
        ("b", "job.finished", "p"),
    )
    with pytest.raises(AssertionError, match="overlap"):
        _check(history, CHAOS, expected_jobs=2)


def test_the_checker_catches_out_of_order_starts() -> None:
    history = _fake(
        ("a", "job.created", "p"),
        ("b", "job.created", "p"),
        ("b", "job.started", "p"),
        ("b", "job.finished", "p"),
        ("a", "job.started", "p"),
        ("a", "job.finished", "p"),
    )
    with pytest.raises(AssertionError, match="enqueue order"):
        _check(history, CHAOS, expected_jobs=2)


def test_the_checker_catches_a_job_that_never_ended() -> None:
    with pytest.raises(AssertionError, match="without an end"):
        _check(_fake(("a", "job.created", "p"), ("a", "job.started", "p")), CHAOS, expected_jobs=1)
