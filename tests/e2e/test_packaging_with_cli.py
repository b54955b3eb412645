"""Packaging for QField through the official qfieldcloud-cli: trigger, latest, download, reuse."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import cli, make_project
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.qgis, pytest.mark.timeout(600)]


def wait_job(stack: Stack, token: str, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = cli(stack, "job-status", job_id, token=token)
        if job["status"] in ("finished", "failed"):
            return dict(job)
        time.sleep(1)
    raise AssertionError(f"job {job_id} did not end")


def wait_processed(stack: Stack, token: str, pid: str) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        jobs = cli(stack, "list-jobs", pid, "--type", "process_projectfile", token=token)
        if jobs and all(j["status"] in ("finished", "failed") for j in jobs):
            assert {j["status"] for j in jobs} == {"finished"}, jobs
            return
        time.sleep(1)
    raise AssertionError("process_projectfile did not end")


def test_package_trigger_latest_download_and_reuse(stack: Stack, tmp_path: Path, repo_root: Path) -> None:
    token = cli(stack, "login", stack.user, stack.password)["token"]
    pid = cli(stack, "create-project", "packaged", token=token)["id"]
    local = tmp_path / "project"
    make_project("simple", local, repo_root)
    (local / "DCIM").mkdir()
    (local / "DCIM" / "p1.jpg").write_bytes(b"\xff\xd8photo")
    cli(stack, "upload-files", pid, str(local), "--throw-on-error", token=token)
    wait_processed(stack, token, pid)
    before = cli(stack, "get-project", pid, token=token)
    assert before["status"] == "ok" and before["needs_repackaging"] is True

    job_id = cli(stack, "job-trigger", pid, "package", token=token)["id"]
    job = wait_job(stack, token, job_id)
    assert job["status"] == "finished", job.get("feedback")
    latest = cli(stack, "package-latest", pid, token=token)
    assert latest["status"] == "finished" and latest["package_id"] == job_id
    names = {f["name"]: f for f in latest["files"]}
    assert "project_qfield.qgs" in names and "data.gpkg" in names and names["DCIM/p1.jpg"]["is_attachment"]
    [layer] = latest["layers"].values()
    assert (layer["name"], layer["is_valid"], layer["error_code"]) == ("points", True, "no_error")

    out = tmp_path / "package"
    downloaded = cli(stack, "package-download", pid, str(out), "--throw-on-error", token=token)
    assert {f["status"] for f in downloaded} == {"SUCCESS"}
    for name, entry in names.items():
        content = (out / name).read_bytes()
        assert len(content) == entry["size"] and hashlib.md5(content).hexdigest() == entry["md5sum"], name
    assert "data.gpkg" in (out / "project_qfield.qgs").read_text()
    after = cli(stack, "get-project", pid, token=token)
    assert after["needs_repackaging"] is False and after["data_last_packaged_at"] is not None

    # nothing changed: the next package job reuses the last package at once
    again = wait_job(stack, token, cli(stack, "job-trigger", pid, "package", token=token)["id"])
    assert again["status"] == "finished" and again["feedback"]["reused_package"] == job_id
    assert cli(stack, "package-latest", pid, token=token)["package_id"] == job_id

    # any upload makes the package stale again
    (local / "notes.txt").write_text("changed")
    cli(stack, "upload-files", pid, str(local), "--filter", "notes.txt", token=token)
    assert cli(stack, "get-project", pid, token=token)["needs_repackaging"] is True
