"""The API in-process against a real PostgreSQL: auth, projects, files, job tokens, bad input."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common import jobtokens
from common.eventstore import EventStore
from contracts import events as ev
from tests.integration.api_helpers import PASSWORD, SECRET, assert_error, login, new_project, start_job

pytestmark = pytest.mark.integration


async def test_login_variants_and_errors(client: httpx.AsyncClient) -> None:
    json_login = await client.post(
        "auth/token/",
        json={"username": "alice", "password": PASSWORD},
        headers={"User-Agent": "qfield|3.5|x|y"},
    )
    body = json_login.json()
    assert json_login.status_code == 200 and len(body["token"]) == 100 and body["type"] == "1"
    by_email = await client.post("auth/login/", data={"email": "alice@example.org", "password": PASSWORD})
    assert by_email.status_code == 200
    assert_error(
        await client.post("auth/login/", data={"username": "alice", "password": "nope"}),
        401,
        "authentication_failed",
    )
    assert_error(await client.get("projects/"), 401, "not_authenticated")
    assert_error(
        await client.get("projects/", headers={"Authorization": "Token garbage"}),
        401,
        "token_authentication_failed",
    )
    user = await client.get("auth/user/", headers={"Authorization": f"Token {body['token']}"})
    assert user.json()["username"] == "alice" and user.json()["type"] == 1


async def test_qfield_login_ends_the_previous_qfield_session(client: httpx.AsyncClient) -> None:
    first = await login(client, agent="qfield|3.5|x|y")
    sdk = await login(client, agent="sdk|py|0.18")
    await login(client, agent="qfield|3.5|x|y")
    assert_error(await client.get("auth/user/", headers=first), 401, "token_authentication_failed")
    assert (await client.get("auth/user/", headers=sdk)).status_code == 200


async def test_logout_expires_every_token(client: httpx.AsyncClient) -> None:
    auth, other = await login(client), await login(client)
    assert (await client.post("auth/logout/", headers=auth)).json() == {"detail": "Successfully logged out."}
    for headers in (auth, other):
        assert_error(await client.get("auth/user/", headers=headers), 401, "token_authentication_failed")


async def test_project_create_list_get(client: httpx.AsyncClient) -> None:
    auth = await login(client)
    pid = await new_project(client, auth)
    project = (await client.get(f"projects/{pid}/", headers=auth)).json()
    assert (project["status"], project["user_role"], project["user_role_origin"]) == (
        "failed",
        "admin",
        "project_owner",
    )
    assert isinstance(project["needs_repackaging"], bool) and project["private"] is True
    assert_error(
        await client.post("projects/", data={"name": "SURVEY"}, headers=auth), 400, "project_already_exists"
    )
    assert_error(
        await client.post("projects/", data={"name": "bad name!"}, headers=auth), 400, "validation_error"
    )
    for i in range(3):
        await new_project(client, auth, f"p{i}")
    page = await client.get("projects/", params={"limit": 2, "offset": 0}, headers=auth)
    assert page.headers["X-Total-Count"] == "4" and len(page.json()) == 2
    assert "limit=2" in page.headers["X-Next-Page"] and "offset=2" in page.headers["X-Next-Page"]
    assert len((await client.get("projects/", headers=auth)).json()) == 4


async def test_other_users_private_project_is_forbidden(client: httpx.AsyncClient) -> None:
    pid = await new_project(client, await login(client))
    bob = await login(client, "bob")
    assert_error(await client.get(f"projects/{pid}/", headers=bob), 403, "permission_denied")
    assert_error(await client.get(f"files/{pid}/", headers=bob), 403, "permission_denied")
    assert (await client.get("projects/", headers=bob)).json() == []


@pytest.mark.parametrize("project_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_unknown_project_is_404(client: httpx.AsyncClient, project_id: str) -> None:
    assert_error(
        await client.get(f"projects/{project_id}/", headers=await login(client)), 404, "object_not_found"
    )


@pytest.mark.parametrize("backend", ["postgres", "s3"], indirect=True)
async def test_upload_list_download_range_and_etag(client: httpx.AsyncClient) -> None:
    auth = await login(client)
    pid = await new_project(client, auth)
    content = bytes(range(256)) * 8192  # 2 MiB
    # QField style: an extra "text" part and an absolute local path as the file name
    files = {
        "text": (None, "{}", "application/json"),
        "file": ("/storage/emulated/0/x/data.gpkg", content, "application/json"),
    }
    assert (await client.post(f"files/{pid}/data/data.gpkg/", files=files, headers=auth)).status_code == 201
    [entry] = (await client.get(f"files/{pid}/", headers=auth)).json()
    assert entry["name"] == "data/data.gpkg" and entry["md5sum"] == hashlib.md5(content).hexdigest()
    assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["versions"][0]["is_latest"]
    full = await client.get(f"files/{pid}/data/data.gpkg/", headers=auth)
    assert full.status_code == 200 and full.content == content
    part = await client.get(f"files/{pid}/data/data.gpkg/", headers={**auth, "Range": "bytes=1000000-"})
    assert part.status_code == 206 and part.content == content[1_000_000:]
    assert part.headers["Content-Range"] == f"bytes 1000000-{len(content) - 1}/{len(content)}"
    assert_error(
        await client.get(f"files/{pid}/data/data.gpkg/", headers={**auth, "Range": f"bytes={len(content)}-"}),
        416,
        "invalid_http_range",
    )
    cached = await client.get(
        f"files/{pid}/data/data.gpkg/", headers={**auth, "If-None-Match": entry["md5sum"]}
    )
    assert cached.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "../evil.txt",
        "a/../../evil.txt",
        "a//b.txt",
        "a\\b.txt",
        "./x.txt",
        "a/\x00.txt",
        "/etc/passwd",
        "x" * 1100,
    ],
)
async def test_path_traversal_is_refused_and_nothing_is_stored(client: httpx.AsyncClient, path: str) -> None:
    auth = await login(client)
    pid = await new_project(client, auth)
    encoded = quote(path, safe="")  # percent-encoded, so no client normalises it before the server sees it
    response = await client.post(f"files/{pid}/{encoded}/", files={"file": ("x", b"x")}, headers=auth)
    assert_error(response, 400, "validation_error")
    assert (await client.get(f"files/{pid}/", headers=auth)).json() == []


async def test_file_part_count_errors(client: httpx.AsyncClient) -> None:
    auth = await login(client)
    pid = await new_project(client, auth)
    assert_error(
        await client.post(f"files/{pid}/a.txt/", files={"text": (None, "{}")}, headers=auth),
        400,
        "empty_content",
    )
    two = [("file", ("a", b"1")), ("file", ("b", b"2"))]
    assert_error(await client.post(f"files/{pid}/a.txt/", files=two, headers=auth), 400, "multiple_contents")
    assert (await client.get(f"files/{pid}/", headers=auth)).json() == []


async def test_second_project_file_is_refused(client: httpx.AsyncClient) -> None:
    auth = await login(client)
    pid = await new_project(client, auth)
    assert (
        await client.post(f"files/{pid}/a.qgs/", files={"file": ("a", b"<qgis/>")}, headers=auth)
    ).status_code == 201
    assert_error(
        await client.post(f"files/{pid}/b.qgz/", files={"file": ("b", b"zip")}, headers=auth),
        400,
        "multiple_projects",
    )


async def test_job_token_is_scoped_to_its_project_and_dies_with_its_job(
    client: httpx.AsyncClient, store: EventStore, engine: AsyncEngine
) -> None:
    auth = await login(client)
    mine, other = (
        uuid.UUID(await new_project(client, auth, "mine")),
        uuid.UUID(await new_project(client, auth, "other")),
    )
    job_id = await start_job(store, mine)
    claims = jobtokens.JobClaims(job_id, mine, datetime.now(UTC) + timedelta(minutes=5))
    worker = {"Authorization": f"Token {jobtokens.mint(SECRET.encode(), claims)}"}
    assert (await client.get(f"files/{mine}/", headers=worker)).status_code == 200
    assert_error(await client.get(f"files/{other}/", headers=worker), 403, "permission_denied")
    assert_error(await client.get("projects/", headers=worker), 403, "permission_denied")
    assert_error(await client.get(f"jobs/{job_id}/", headers=worker), 403, "permission_denied")
    forged = jobtokens.mint(b"wrong-secret", claims)
    assert_error(
        await client.get(f"files/{mine}/", headers={"Authorization": f"Token {forged}"}),
        401,
        "token_authentication_failed",
    )
    async with store.transaction() as tx:
        await tx.append(
            ev.job_stream(job_id),
            [ev.JobFinished(job_id=job_id, project_id=mine, job_type="process_projectfile", feedback={})],
            expected_version=3,
            correlation_id=uuid.uuid4(),
        )
    assert_error(await client.get(f"files/{mine}/", headers=worker), 401, "token_authentication_failed")


async def test_jobs_list_and_detail(client: httpx.AsyncClient, store: EventStore) -> None:
    auth = await login(client)
    pid = uuid.UUID(await new_project(client, auth))
    first, second = await start_job(store, pid), uuid.uuid4()
    async with store.transaction() as tx:
        await tx.append(
            ev.job_stream(second),
            [
                ev.JobCreated(
                    job_id=second,
                    project_id=pid,
                    job_type="package",
                    created_by="alice",
                    created_by_id=1,
                    reason="t",
                )
            ],
            expected_version=0,
            correlation_id=uuid.uuid4(),
        )
    listed = (await client.get("jobs/", params={"project_id": str(pid)}, headers=auth)).json()
    assert [j["id"] for j in listed] == [str(second), str(first)]  # newest first
    assert "output" not in listed[0]
    only = (
        await client.get("jobs/", params={"project_id": str(pid), "type": "package"}, headers=auth)
    ).json()
    assert [j["type"] for j in only] == ["package"]
    detail = (await client.get(f"jobs/{first}/", headers=auth)).json()
    assert detail["status"] == "started" and detail["feedback"] is None
    project = (await client.get(f"projects/{pid}/", headers=auth)).json()
    assert project["status"] == "busy"
    assert_error(await client.get("jobs/", headers=auth), 400, "validation_error")
    assert_error(await client.get(f"jobs/{uuid.uuid4()}/", headers=auth), 404, "object_not_found")


async def test_filters_ordering_and_public_projects(client: httpx.AsyncClient) -> None:
    alice, bob = await login(client), await login(client, "bob")
    for name in ("zeta", "alpha", "Mid"):
        await new_project(client, alice, name)
    public = await new_project(client, bob, "shared")
    assert (
        await client.patch(f"projects/{public}/", json={"is_public": True}, headers=bob)
    ).status_code == 200

    async def names(query: str) -> list[str]:
        return [p["name"] for p in (await client.get(f"projects/{query}", headers=alice)).json()]

    assert await names("") == ["alpha", "Mid", "zeta"]
    assert await names("?ordering=-name") == ["zeta", "Mid", "alpha"]
    assert await names("?name=MID") == ["Mid"]
    assert await names("?search=ET") == ["zeta"]
    assert await names("?include_public=1") == ["alpha", "Mid", "zeta", "shared"]
    assert await names("?include-public=1&owner=bob") == ["shared"]
    shared = (await client.get(f"projects/{public}/", headers=alice)).json()
    assert (shared["user_role"], shared["user_role_origin"]) == ("reader", "public")
    assert await names("public/") == ["shared"]
    assert_error(await client.get("projects/?include_public=maybe", headers=alice), 400, "validation_error")


async def test_rename_and_transfer_rules(client: httpx.AsyncClient) -> None:
    alice = await login(client)
    first, second = await new_project(client, alice, "one"), await new_project(client, alice, "two")
    assert_error(
        await client.patch(f"projects/{second}/", data={"name": "ONE"}, headers=alice),
        400,
        "project_already_exists",
    )
    renamed = await client.patch(
        f"projects/{first}/", data={"name": "uno", "description": "d"}, headers=alice
    )
    assert (renamed.json()["name"], renamed.json()["description"]) == ("uno", "d")
    assert_error(
        await client.patch(f"projects/{first}/", data={"owner": "bob"}, headers=alice),
        403,
        "permission_denied",
    )
    assert_error(
        await client.patch(f"projects/{first}/", data={"owner": "nobody"}, headers=alice), 400, "api_error"
    )
    assert (await client.delete(f"projects/{first}/", headers=alice)).status_code == 204
    assert_error(await client.get(f"projects/{first}/", headers=alice), 404, "object_not_found")
    assert await new_project(client, alice, "uno")  # the name is free again


async def test_organization_projects(client: httpx.AsyncClient) -> None:
    alice, bob = await login(client), await login(client, "bob")
    created = await client.post("organizations/", data={"username": "field-team"}, headers=alice)
    assert created.status_code == 201 and created.json()["organization_owner"] == "alice"
    assert_error(
        await client.post("organizations/", data={"username": "field-team"}, headers=bob),
        409,
        "user_already_exists",
    )
    assert_error(
        await client.post("projects/", data={"name": "p", "owner": "field-team"}, headers=bob),
        403,
        "permission_denied",
    )
    assert (
        await client.post("members/field-team/", data={"member": "bob", "role": "member"}, headers=alice)
    ).status_code == 201
    assert_error(
        await client.post("projects/", data={"name": "p", "owner": "field-team"}, headers=bob),
        403,
        "permission_denied",
    )
    assert_error(
        await client.post("members/field-team/", data={"member": "bob", "role": "member"}, headers=bob),
        403,
        "permission_denied",
    )
    assert (
        await client.patch("members/field-team/bob/", data={"role": "admin"}, headers=alice)
    ).status_code == 200
    project = await client.post("projects/", data={"name": "p", "owner": "field-team"}, headers=bob)
    assert project.status_code == 201, project.text
    assert (project.json()["owner"], project.json()["user_role_origin"]) == (
        "field-team",
        "organization_admin",
    )
    mine = (await client.get(f"projects/{project.json()['id']}/", headers=alice)).json()
    assert (mine["user_role"], mine["user_role_origin"]) == ("admin", "organization_owner")
    orgs = (await client.get("users/bob/organizations/", headers=bob)).json()
    assert [(o["username"], o["membership_role"]) for o in orgs] == [("field-team", "admin")]


async def test_staff_creates_users(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    alice = await login(client)
    assert_error(
        await client.post("users/", data={"username": "carol", "password": "pw"}, headers=alice),
        403,
        "permission_denied",
    )
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE users SET is_staff = true WHERE username = 'alice'"))
    created = await client.post(
        "users/", data={"username": "carol", "password": "pw", "email": "c@x.org"}, headers=alice
    )
    assert created.status_code == 201 and created.json()["username"] == "carol"
    assert_error(
        await client.post("users/", data={"username": "Carol", "password": "pw"}, headers=alice),
        409,
        "user_already_exists",
    )
    assert_error(
        await client.post("users/", data={"username": "bad name", "password": "pw"}, headers=alice),
        400,
        "validation_error",
    )


async def test_old_versions_are_pruned(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    alice = await login(client)
    pid = await new_project(client, alice)
    for i in range(12):
        assert (
            await client.post(f"files/{pid}/a.txt/", files={"file": ("a", f"v{i}".encode())}, headers=alice)
        ).status_code == 201
    [entry] = (await client.get(f"files/{pid}/", headers=alice)).json()
    assert len(entry["versions"]) == 10  # the default OUTPOST_FILE_VERSIONS_KEPT
    latest = await client.get(f"files/{pid}/a.txt/", headers=alice)
    assert latest.content == b"v11"
    last = entry["versions"][0]["version_id"]
    for version in entry["versions"][1:]:
        deleted = await client.delete(
            f"files/{pid}/a.txt/", headers={**alice, "x-file-version": version["version_id"]}
        )
        assert deleted.status_code == 204
    assert_error(
        await client.delete(f"files/{pid}/a.txt/", headers={**alice, "x-file-version": last}),
        400,
        "explicit_deletion_of_last_version",
    )
    assert_error(await client.delete(f"files/{pid}/nope.txt/", headers=alice), 404, "object_not_found")
