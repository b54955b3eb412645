"""The permission matrix (spec section 13): every project endpoint, every role, allowed or 403.

A refused request must change nothing: the project, its files and collaborators are compared before
and after each one.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api_helpers import PASSWORD, assert_error, login, new_project

pytestmark = pytest.mark.integration

RANK = {"reader": 1, "reporter": 2, "editor": 3, "manager": 4, "admin": 5}
FILE = {"files": {"file": ("b.txt", b"new")}}
# name, method, path, request kwargs, lowest role allowed. Destructive ones come last.
ENDPOINTS: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("get project", "GET", "projects/{pid}/", {}, "reader"),
    ("list files", "GET", "files/{pid}/", {}, "reader"),
    ("download file", "GET", "files/{pid}/a.txt/", {}, "reader"),
    ("list collaborators", "GET", "collaborators/{pid}/", {}, "reader"),
    ("get collaborator", "GET", "collaborators/{pid}/victim/", {}, "reader"),
    ("list jobs", "GET", "jobs/?project_id={pid}", {}, "reporter"),
    ("upload file", "POST", "files/{pid}/b.txt/", FILE, "reporter"),
    ("patch project", "PATCH", "projects/{pid}/", {"data": {"description": "changed"}}, "manager"),
    ("put project", "PUT", "projects/{pid}/", {"data": {"description": "changed again"}}, "manager"),
    (
        "add collaborator",
        "POST",
        "collaborators/{pid}/",
        {"data": {"collaborator": "zed", "role": "reader"}},
        "manager",
    ),
    ("change collaborator", "PATCH", "collaborators/{pid}/victim/", {"data": {"role": "editor"}}, "manager"),
    (
        "delete file version",
        "DELETE",
        "files/{pid}/a.txt/",
        {"headers": {"x-file-version": "{old}"}},
        "editor",
    ),
    ("delete file", "DELETE", "files/{pid}/a.txt/", {}, "editor"),
    ("remove collaborator", "DELETE", "collaborators/{pid}/victim/", {}, "manager"),
    ("delete project", "DELETE", "projects/{pid}/", {}, "manager"),
]
# who calls, and the role they get: collaborators, the owner, a stranger, a stranger on a public project
CALLERS = [
    ("owner", "admin"),
    ("admin_u", "admin"),
    ("manager_u", "manager"),
    ("editor_u", "editor"),
    ("reporter_u", "reporter"),
    ("reader_u", "reader"),
    ("stranger", None),
    ("public_stranger", "reader"),
]
USERS = [
    "admin_u",
    "manager_u",
    "editor_u",
    "reporter_u",
    "reader_u",
    "stranger",
    "public_stranger",
    "victim",
    "zed",
]


async def snapshot(client: httpx.AsyncClient, owner: dict[str, str], pid: str) -> tuple[Any, ...]:
    project = (await client.get(f"projects/{pid}/", headers=owner)).json()
    files = (await client.get(f"files/{pid}/", headers=owner)).json()
    collaborators = (await client.get(f"collaborators/{pid}/", headers=owner)).json()
    return project, files, collaborators


@pytest.mark.parametrize(("caller", "role"), CALLERS, ids=[c for c, _ in CALLERS])
async def test_permission_matrix(client: httpx.AsyncClient, caller: str, role: str | None) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    for name in USERS:
        await app.state.services.accounts.create_user(name, PASSWORD)
    owner = await login(client)
    pid = await new_project(client, owner)
    if caller == "public_stranger":
        assert (
            await client.patch(f"projects/{pid}/", data={"is_public": "1"}, headers=owner)
        ).status_code == 200
    for version in (b"v1", b"v2"):
        assert (
            await client.post(f"files/{pid}/a.txt/", files={"file": ("a", version)}, headers=owner)
        ).status_code == 201
    old = next(
        v["version_id"]
        for v in (await client.get(f"files/{pid}/", headers=owner)).json()[0]["versions"]
        if not v["is_latest"]
    )
    collaborators = {
        "admin_u": "admin",
        "manager_u": "manager",
        "editor_u": "editor",
        "reporter_u": "reporter",
        "reader_u": "reader",
        "victim": "reader",
    }
    for user, collaborator_role in collaborators.items():
        added = await client.post(
            f"collaborators/{pid}/", data={"collaborator": user, "role": collaborator_role}, headers=owner
        )
        assert added.status_code == 201, added.text
    auth = owner if caller == "owner" else await login(client, caller)

    for name, method, path, kwargs, needed in ENDPOINTS:
        request = {
            k: ({h: v.format(old=old) for h, v in val.items()} if k == "headers" else val)
            for k, val in kwargs.items()
        }
        request["headers"] = {**request.get("headers", {}), **auth}
        before = await snapshot(client, owner, pid)
        response = await client.request(method, path.format(pid=pid), **request)
        allowed = role is not None and RANK[role] >= RANK[needed]
        if allowed:
            assert response.status_code in (200, 201, 204), (
                f"{caller} {name}: {response.status_code} {response.text}"
            )
        else:
            assert_error(response, 403, "permission_denied")
            assert await snapshot(client, owner, pid) == before, f"{caller} {name} changed something"
