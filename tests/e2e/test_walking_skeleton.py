"""One real job through every service, driven by the official qfieldcloud-cli (issue: walking skeleton).

api -> NATS JetStream -> scheduler -> runner -> QGIS worker (real PyQGIS) -> event store -> API.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.e2e.conftest import cli, make_project
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.qgis, pytest.mark.timeout(600)]
READ_MODELS = {
    "rm_projects": "id",
    "rm_files": "project_id, path, version_id",
    "rm_jobs": "id",
    "rm_collaborators": "project_id, collaborator",
    "projection_checkpoints": "name",
}


def wait_for_jobs(stack: Stack, token: str, project_id: str, timeout: float = 180) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = cli(stack, "list-jobs", project_id, "--type", "process_projectfile", token=token)
        if jobs and all(j["status"] in ("finished", "failed") for j in jobs):
            return list(jobs)
        time.sleep(1)
    raise AssertionError(f"jobs did not end: {jobs}")


def snapshot(stack: Stack) -> dict[str, list[tuple[Any, ...]]]:
    dsn = stack.database_url.replace("+psycopg", "")
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            for table, order in READ_MODELS.items()
        }


def test_upload_process_and_replay(stack: Stack, tmp_path: Path, repo_root: Path) -> None:
    assert cli(stack, "status")["database"] == "ok"
    login = cli(stack, "login", stack.user, stack.password)
    token = login["token"]
    assert len(token) == 100 and login["username"] == stack.user

    created = cli(stack, "create-project", "skeleton", "--description", "walking skeleton", token=token)
    assert created["status"] == "failed" and created["user_role"] == "admin"
    pid = created["id"]

    project_dir = tmp_path / "simple"
    make_project("simple", project_dir, repo_root)
    uploaded = cli(stack, "upload-files", pid, str(project_dir), "--throw-on-error", token=token)
    assert {f["status"] for f in uploaded} == {"SUCCESS"}
    files = {f["name"]: f for f in cli(stack, "list-files", pid, token=token)}
    assert {"project.qgs", "data.gpkg"} <= set(files)

    [job] = wait_for_jobs(stack, token, pid)
    assert job["status"] == "finished", job
    detail = cli(stack, "job-status", job["id"], token=token)
    details = detail["feedback"]["outputs"]["project_details"]["project_details"]
    [layer] = details["layers_by_id"].values()
    assert (layer["name"], layer["is_valid"], layer["error_code"]) == ("points", True, "no_error")
    assert "QGIS project layer checks" in detail["output"]
    assert [s["stage"] for s in detail["feedback"]["steps"]] == [2] * len(detail["feedback"]["steps"])
    project = cli(stack, "get-project", pid, token=token)
    assert project["status"] == "ok" and project["data_last_updated_at"] is not None
    thumbnail = requests.get(
        f"{stack.api_url}files/thumbnails/{pid}/", headers={"Authorization": f"Token {token}"}, timeout=30
    )
    assert thumbnail.status_code == 200 and thumbnail.content.startswith(b"\x89PNG")

    broken = cli(stack, "create-project", "broken", token=token)["id"]
    broken_dir = tmp_path / "broken"
    make_project("broken", broken_dir, repo_root)
    cli(stack, "upload-files", broken, str(broken_dir), token=token)
    [failed] = wait_for_jobs(stack, token, broken)
    assert failed["status"] == "failed"
    feedback = cli(stack, "job-status", failed["id"], token=token)["feedback"]
    assert feedback["error_type"] == "INVALID_PROJECT_FILE"
    assert "line" in feedback["error"] and "column" in feedback["error"]
    assert cli(stack, "get-project", broken, token=token)["status"] == "failed"

    live = snapshot(stack)
    env = {**os.environ, "OUTPOST_DATABASE_URL": stack.database_url}
    out = subprocess.run(
        [sys.executable, "-m", "common.cli", "events", "replay"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(out.stdout)["replayed_events"] > 10
    assert snapshot(stack) == live


def test_stop_is_clean_and_data_survives_a_restart(stack: Stack) -> None:
    token = cli(stack, "login", stack.user, stack.password)["token"]
    before = {p["id"] for p in cli(stack, "list-projects", token=token)}
    assert stack.stop() == 0
    for port in (stack.port, stack.pg_port, stack.nats_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open after stop"
    stack.start()
    token = cli(stack, "login", stack.user, stack.password)["token"]
    assert {p["id"] for p in cli(stack, "list-projects", token=token)} == before
