"""`make e2e`: the compose stack on a real Docker engine, driven by the official qfieldcloud-cli.

Upload, process, package, field edits; then two runners, and the one running a job SIGKILLed: the project
recovers on its own (the lease expires, the scheduler retries the attempt on the runner that lives).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from bench.package import generate_points_project
from tests.compose.stack import ComposeStack
from tests.e2e.conftest import CLI, cli, make_project
from tests.e2e.test_deltas_with_cli import layer_id, sdk_deltas
from tests.e2e.test_packaging_with_cli import wait_job, wait_processed

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1800)]
WORKER_UID = "10001:10001"


def login(stack: ComposeStack) -> str:
    return str(cli(stack, "login", stack.user, stack.password)["token"])


def job_events(stack: ComposeStack, job_id: str) -> list[dict[str, Any]]:
    """The job's stream from the event store, read with the `outpost` CLI inside the API container."""
    dump = stack.exec("api", "outpost", "events", "dump", "--stream", f"job-{job_id}")
    return [json.loads(line) for line in dump.splitlines() if line.strip()]


def test_every_service_runs_unprivileged_and_no_container_holds_the_docker_socket(
    compose_stack: ComposeStack,
) -> None:
    for service in ("api", "scheduler", "runner", "storage"):
        [container] = compose_stack.containers(service)
        assert container.status == "running", compose_stack.logs()
        assert container.attrs["Config"]["User"] == WORKER_UID
    for service in ("nats", "postgres", "s3", "api", "scheduler", "runner", "storage"):
        for container in compose_stack.containers(service):
            mounts = [mount.get("Source", "") for mount in container.attrs["Mounts"]]
            assert not any(source.endswith("docker.sock") for source in mounts), (service, mounts)
    [setup] = compose_stack.containers("setup", all_states=True)
    assert setup.attrs["State"]["ExitCode"] == 0
    health = {
        service: compose_stack.containers(service)[0].attrs["State"]["Health"]["Status"]
        for service in ("nats", "postgres", "s3", "api", "scheduler", "runner", "storage")
    }
    assert health == dict.fromkeys(health, "healthy")


def test_upload_process_package_and_field_edits_with_the_cli(
    compose_stack: ComposeStack, tmp_path: Path, repo_root: Path
) -> None:
    stack = compose_stack
    token = login(stack)
    pid = cli(stack, "create-project", "compose-demo", token=token)["id"]
    local = tmp_path / "project"
    make_project("simple", local, repo_root)
    cli(stack, "upload-files", pid, str(local), "--throw-on-error", token=token)
    wait_processed(stack, token, pid)  # process_projectfile ran in real QGIS inside the runner container

    job_id = cli(stack, "job-trigger", pid, "package", token=token)["id"]
    assert wait_job(stack, token, job_id)["status"] == "finished"
    packaged = tmp_path / "packaged"
    cli(stack, "package-download", pid, str(packaged), "--throw-on-error", token=token)
    assert (packaged / "project_qfield.qgs").is_file() and (packaged / "data.gpkg").is_file()

    points = layer_id(local / "project.qgs", "points")
    dfid = str(uuid.uuid4())
    deltafile = {
        "version": "1.0",
        "id": dfid,
        "project": pid,
        "files": [],
        "deltas": [
            {
                "uuid": str(uuid.uuid4()),
                "clientId": str(uuid.uuid4()),
                "localLayerId": points,
                "sourceLayerId": points,
                "localLayerName": "points",
                "method": "patch",
                "localPk": "1",
                "sourcePk": "1",
                "old": {"attributes": {"int": 1}},
                "new": {"attributes": {"int": 4242}},
            }
        ],
    }
    path = tmp_path / "delta.json"
    path.write_text(json.dumps(deltafile))
    env = {**os.environ, "QFIELDCLOUD_URL": stack.api_url, "QFIELDCLOUD_TOKEN": token}
    subprocess.run([CLI, "delta-push", pid, str(path)], env=env, check=True, capture_output=True, timeout=60)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        deltas = sdk_deltas(stack, token, pid, dfid)
        if deltas and all(d["status"] not in ("STATUS_PENDING", "STATUS_BUSY") for d in deltas):
            break
        time.sleep(1)
    assert [d["status"] for d in deltas] == ["STATUS_APPLIED"], [d["last_feedback"] for d in deltas]
    after = tmp_path / "after"
    cli(stack, "download-files", pid, str(after), "--filter", "*.gpkg", "--force-download", token=token)
    with sqlite3.connect(after / "data.gpkg") as db:
        assert db.execute("SELECT int FROM points WHERE fid = 1").fetchone() == (4242,)


def test_runners_scale_and_one_killed_mid_job_is_replaced_by_another(
    compose_stack: ComposeStack, tmp_path: Path
) -> None:
    """Two runners (`--scale runner=2`); SIGKILL the one running a long package job: the other finishes it."""
    stack = compose_stack
    stack.compose("up", "-d", "--no-recreate", "--scale", "runner=2", "runner")
    runners = {container.id[:12]: container for container in stack.containers("runner")}
    assert len(runners) == 2
    token = login(stack)
    pid = cli(stack, "create-project", "compose-kill", token=token)["id"]
    local = tmp_path / "big"
    local.mkdir()
    generate_points_project(local, 300_000, tmp_path)  # packaging takes seconds, not milliseconds
    cli(stack, "upload-files", pid, str(local), "--throw-on-error", token=token)
    wait_processed(stack, token, pid)

    job = cli(stack, "job-trigger", pid, "package", token=token)
    deadline = time.monotonic() + 120
    while cli(stack, "job-status", job["id"], token=token)["status"] != "started":
        assert time.monotonic() < deadline, "the package job never started"
        time.sleep(0.2)
    time.sleep(1.0)  # well inside QGIS now
    [first] = [
        e["data"]["runner_id"] for e in job_events(stack, job["id"]) if e["event_type"] == "job.started"
    ]
    holder = runners[first.rsplit("-", 1)[0]]  # runner ids are <container hostname>-<pid>
    holder.kill(signal="SIGKILL")
    assert cli(stack, "job-status", job["id"], token=token)["status"] == "started"  # nobody finished it

    ended = wait_job(stack, token, job["id"], timeout=300)
    assert ended["status"] == "finished", stack.logs()
    events = job_events(stack, job["id"])
    types = [event["event_type"] for event in events]
    assert "job.retry_scheduled" in types, types
    assert types[-1] == "job.finished", types
    started_by = [e["data"]["runner_id"] for e in events if e["event_type"] == "job.started"]
    assert len(started_by) == 2 and started_by[1].rsplit("-", 1)[0] != holder.id[:12], started_by
    packaged = tmp_path / "packaged"
    cli(stack, "package-download", pid, str(packaged), "--throw-on-error", token=token)
    with sqlite3.connect(packaged / "data.gpkg") as db:
        assert db.execute("SELECT count(*) FROM points").fetchone() == (300_000,)
    stack.compose("up", "-d", "--scale", "runner=1", "runner")  # back to one, the dead one removed
