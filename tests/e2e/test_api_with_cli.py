"""The QFieldCloud-compatible API driven by the official qfieldcloud-cli and SDK (issue: the API)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import requests
from qfieldcloud_sdk.utils import calc_etag

from tests.e2e.conftest import cli, cli_text, make_project
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.qgis, pytest.mark.timeout(600)]
PASSWORD = "field-work-2026"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_projects_files_collaborators_members_with_the_cli(
    stack: Stack, tmp_path: Path, repo_root: Path
) -> None:
    assert cli(stack, "status")["database"] == "ok"
    staff = cli(stack, "login", stack.user, stack.password)["token"]
    for name in ("alice", "bob"):
        created = cli(stack, "create-user", name, PASSWORD, f"{name}@example.org", token=staff)
        assert created["username"] == name
    assert "409" in cli_text(stack, "create-user", "alice", PASSWORD, "a@example.org", token=staff)
    alice = cli(stack, "login", "alice", PASSWORD)["token"]
    bob = cli(stack, "login", "bob", PASSWORD)["token"]
    assert "403" in cli_text(stack, "create-user", "carol", PASSWORD, "c@example.org", token=alice)

    # projects
    project = cli(stack, "create-project", "fieldwork", "--description", "first", "--is-private", token=alice)
    pid = project["id"]
    assert (project["owner"], project["status"], project["is_public"]) == ("alice", "failed", False)
    assert "project_already_exists" in cli_text(stack, "create-project", "fieldwork", token=alice)
    assert pid in [p["id"] for p in cli(stack, "list-projects", token=alice)]
    cli(stack, "patch-project", pid, "--description", "second", "--is-public", token=alice)
    patched = cli(stack, "get-project", pid, token=alice)
    assert (patched["description"], patched["is_public"]) == ("second", True)

    # files: upload twice (the second time nothing moves), etags as the SDK computes them
    local = tmp_path / "project"
    make_project("simple", local, repo_root)
    (local / "big.bin").write_bytes(os.urandom(9 * 1024 * 1024 + 123))
    (local / "DCIM").mkdir()
    (local / "DCIM" / "p1.jpg").write_bytes(os.urandom(2048))
    first = cli(stack, "upload-files", pid, str(local), "--throw-on-error", token=alice)
    assert {f["status"] for f in first} == {"SUCCESS"} and len(first) == 4
    assert cli(stack, "upload-files", pid, str(local), token=alice) == []
    remote = {f["name"]: f for f in cli(stack, "list-files", pid, token=alice)}
    assert set(remote) == {"project.qgs", "data.gpkg", "big.bin", "DCIM/p1.jpg"}
    for name, entry in remote.items():
        assert entry["md5sum"] == calc_etag(str(local / name)), name
        assert [v["is_latest"] for v in entry["versions"]] == [True]
    assert remote["big.bin"]["md5sum"].endswith("-2")
    assert remote["DCIM/p1.jpg"]["is_attachment"] is True and remote["data.gpkg"]["is_attachment"] is False

    # a second version, then delete the old one explicitly
    (local / "big.bin").write_bytes(os.urandom(1000))
    cli(stack, "upload-files", pid, str(local), "--filter", "big.bin", token=alice)
    versions = {f["name"]: f for f in cli(stack, "list-files", pid, token=alice)}["big.bin"]["versions"]
    assert len(versions) == 2
    old = next(v["version_id"] for v in versions if not v["is_latest"])
    cli_text(stack, "delete-file", pid, "big.bin", "--version-id", old, token=alice)
    versions = {f["name"]: f for f in cli(stack, "list-files", pid, token=alice)}["big.bin"]["versions"]
    assert [v["md5sum"] for v in versions] == [md5(local / "big.bin")]

    # download everything back
    out = tmp_path / "download"
    downloaded = cli(stack, "download-files", pid, str(out), "--throw-on-error", token=alice)
    assert {f["status"] for f in downloaded} == {"SUCCESS"}
    for name in remote:
        assert md5(out / name) == md5(local / name), name
    cli_text(stack, "delete-file", pid, "big.bin", token=alice)
    assert "big.bin" not in {f["name"] for f in cli(stack, "list-files", pid, token=alice)}

    # collaborators
    assert "403" in cli_text(stack, "get-project", pid, token=bob) or cli(
        stack, "get-project", pid, token=bob
    )
    cli(stack, "collaborators-add", pid, "bob", "editor", token=alice)
    [collaborator] = cli(stack, "collaborators-get", pid, token=alice)
    assert (collaborator["collaborator"], collaborator["role"]) == ("bob", "editor")
    assert cli(stack, "get-project", pid, token=bob)["user_role"] == "editor"
    cli(stack, "collaborators-patch", pid, "bob", "reader", token=alice)
    assert cli(stack, "get-project", pid, token=bob)["user_role"] == "reader"
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "notes.txt").write_text("from bob")
    assert "403" in cli_text(stack, "upload-files", pid, str(extra), "--throw-on-error", token=bob)
    cli_text(stack, "collaborators-remove", pid, "bob", token=alice)
    assert cli(stack, "collaborators-get", pid, token=alice) == []

    # organizations and members (organizations are created over HTTP: the SDK has no command for it)
    response = requests.post(
        f"{stack.api_url}organizations/",
        data={"username": "surveyors"},
        headers={"Authorization": f"Token {alice}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    cli(stack, "members-add", "surveyors", "bob", "member", token=alice)
    [member] = cli(stack, "members-get", "surveyors", token=alice)
    assert (member["member"], member["role"]) == ("bob", "member")
    cli(stack, "members-patch", "surveyors", "bob", "admin", token=alice)
    assert cli(stack, "members-get", "surveyors", token=alice)[0]["role"] == "admin"
    org_project = cli(stack, "create-project", "orgwork", "--owner", "surveyors", token=bob)
    assert (org_project["owner"], org_project["user_role_origin"]) == ("surveyors", "organization_admin")
    cli_text(stack, "members-remove", "surveyors", "bob", token=alice)
    assert cli(stack, "members-get", "surveyors", token=alice) == []

    # delete, log out
    cli_text(stack, "delete-project", pid, token=alice)
    assert "404" in cli_text(stack, "get-project", pid, token=alice)
    assert cli(stack, "logout", token=alice)["detail"] == "Successfully logged out."
    assert "401" in cli_text(stack, "list-projects", token=alice)
    shutil.rmtree(out, ignore_errors=True)
