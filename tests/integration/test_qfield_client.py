"""QField's own calls, made the way QField makes them: JSON bodies, `Token` header, paging by 250."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.eventstore import EventStore
from contracts import events as ev
from tests.integration.api_helpers import PASSWORD, assert_error

pytestmark = pytest.mark.integration
QFIELD = {"User-Agent": "qfield|3.5.2|3.5.2|abc| QGIS/34000"}


async def qfield_login(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "auth/token/", json={"username": "alice", "password": PASSWORD}, headers=QFIELD
    )
    assert response.status_code == 200
    return {**QFIELD, "Authorization": f"Token {response.json()['token']}"}


async def test_project_list_paged_by_250_following_next_page(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    auth = await qfield_login(client)
    async with store.transaction() as tx:
        for i in range(260):
            project_id = uuid.uuid4()
            created = ev.ProjectCreated(
                project_id=project_id, name=f"p{i:03}", owner="alice", created_by="alice"
            )
            await tx.append(
                ev.project_stream(project_id), [created], expected_version=0, correlation_id=uuid.uuid4()
            )
    names: list[str] = []
    url = "projects/?limit=250&offset=0&include_public=1"
    pages = 0
    while url:
        response = await client.get(url, headers=auth)
        assert response.status_code == 200 and response.headers["X-Total-Count"] == "260"
        names += [p["name"] for p in response.json()]
        url = response.headers.get("X-Next-Page", "")
        pages += 1
    assert pages == 2 and names == [f"p{i:03}" for i in range(260)]
    for project in (await client.get("projects/?limit=1", headers=auth)).json():
        for key in ("name", "owner", "description", "user_role"):
            assert isinstance(project[key], str)
        for key in ("is_public", "can_repackage", "needs_repackaging"):
            assert isinstance(project[key], bool)


async def test_server_information_and_account_calls(client: httpx.AsyncClient) -> None:
    auth = await qfield_login(client)
    info = (await client.get("server/info/")).json()
    assert info["auth_providers"][0]["type"] == "credentials"
    assert (await client.get("auth/providers/")).json()[0]["id"] == "credentials"
    assert (await client.get("auth/user/", headers=auth)).json()["username"] == "alice"
    assert (await client.get("users/alice/organizations/", headers=auth)).json() == []
    assert_error(await client.get("users/bob/organizations/", headers=auth), 403, "permission_denied")
    subscription = (await client.get("subscriptions/alice/current/", headers=auth)).json()
    assert subscription["storage_used_bytes"] == 0
    status = (await client.get("status/")).json()
    assert (status["database"], status["storage"]) == ("ok", "ok")


async def test_expired_token_is_refused(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    auth = await qfield_login(client)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE auth_tokens SET expires_at = now() - interval '1 second'"))
    assert_error(await client.get("auth/user/", headers=auth), 401, "token_authentication_failed")


async def test_a_bad_token_header_fails_even_on_open_endpoints(client: httpx.AsyncClient) -> None:
    assert_error(
        await client.get("status/", headers={"Authorization": "Token nope"}),
        401,
        "token_authentication_failed",
    )


async def test_range_resume_of_a_large_download(client: httpx.AsyncClient) -> None:
    auth = await qfield_login(client)
    pid = (
        await client.post(
            "projects/",
            json={"name": "big", "owner": "alice", "description": "", "private": True},
            headers=auth,
        )
    ).json()["id"]
    content = bytes(range(256)) * (6 * 4096)  # 6 MiB
    files = {
        "text": (None, "{}", "application/json"),
        "file": ("/sdcard/x/big.bin", content, "application/json"),
    }
    assert (await client.post(f"files/{pid}/big.bin/", files=files, headers=auth)).status_code == 201
    on_disk = content[:1_500_000]
    resumed = await client.get(f"files/{pid}/big.bin/", headers={**auth, "Range": f"bytes={len(on_disk)}-"})
    assert resumed.status_code == 206
    assert on_disk + resumed.content == content
    for bad in ("bytes=abc", "items=0-1", "bytes=10-5", f"bytes={len(content) + 10}-"):
        response = await client.get(f"files/{pid}/big.bin/", headers={**auth, "Range": bad})
        assert_error(response, 416, "invalid_http_range")
