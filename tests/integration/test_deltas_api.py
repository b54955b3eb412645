"""Delta push and listing (spec section 7): validation, idempotency, roles, what QField polls."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.api_helpers import assert_error, login, new_project

pytestmark = pytest.mark.integration


def delta(method: str = "patch", **extra: Any) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "clientId": str(uuid.uuid4()),
        "localPk": "1",
        "sourcePk": "1",
        "localLayerId": "points_1",
        "sourceLayerId": "points_1",
        "method": method,
        "old": {"attributes": {"int": 1}},
        "new": {"attributes": {"int": 666}},
        **extra,
    }


def deltafile(project_id: str, *deltas: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "version": "1.0",
        "id": str(uuid.uuid4()),
        "project": project_id,
        "files": [],
        "deltas": list(deltas),
        **extra,
    }


async def push(client: httpx.AsyncClient, auth: dict[str, str], pid: str, body: Any) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    files = {
        "text": (None, "{}", "application/json"),
        "file": ("/sdcard/deltafile.json", raw, "application/json"),
    }
    return await client.post(f"deltas/{pid}/", files=files, headers=auth)


async def project_with_file(client: httpx.AsyncClient, auth: dict[str, str], name: str = "edits") -> str:
    pid = await new_project(client, auth, name)
    assert (
        await client.post(f"files/{pid}/p.qgs/", files={"file": ("p", b"<qgis/>")}, headers=auth)
    ).status_code == 201
    return pid


async def test_push_is_idempotent_and_listed_as_qfield_expects(client: httpx.AsyncClient) -> None:
    alice = await login(client)
    pid = await project_with_file(client, alice)
    body = deltafile(pid, delta(), delta("create", sourcePk=""))
    pushed = await push(client, alice, pid, body)
    assert pushed.status_code == 200 and pushed.content == b""
    assert (await push(client, alice, pid, body)).status_code == 200  # the same file again: nothing new
    listed = (await client.get(f"deltas/{pid}/", headers=alice)).json()
    assert len(listed) == 2
    for item in listed:
        for key in ("id", "deltafile_id", "created_at", "updated_at", "status"):
            assert item[key] is not None
        assert item["status"] == "STATUS_PENDING" and item["last_status"] == "pending"
    one_file = (await client.get(f"deltas/{pid}/{body['id']}/", headers=alice)).json()
    assert [d["id"] for d in one_file] == [d["uuid"] for d in body["deltas"]]


async def test_a_reporter_may_only_create(client: httpx.AsyncClient) -> None:
    alice, bob = await login(client), await login(client, "bob")
    pid = await project_with_file(client, alice)
    await client.post(
        f"collaborators/{pid}/", data={"collaborator": "bob", "role": "reporter"}, headers=alice
    )
    body = deltafile(pid, delta("patch"), delta("create", sourcePk=""))
    assert (await push(client, bob, pid, body)).status_code == 200
    statuses = {
        d["content"]["method"]: d["status"]
        for d in (await client.get(f"deltas/{pid}/", headers=alice)).json()
    }
    assert statuses == {"patch": "STATUS_UNPERMITTED", "create": "STATUS_PENDING"}


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b"{not json", "not valid JSON"),
        (lambda b: {**b, "version": "2.0"}, "version"),
        (lambda b: {**b, "project": str(uuid.uuid4())}, "another project"),
        (lambda b: {**b, "deltas": "nope"}, "lists"),
        (lambda b: {**b, "deltas": [{**b["deltas"][0], "method": "upsert"}]}, "method"),
        (
            lambda b: {**b, "deltas": [{k: v for k, v in b["deltas"][0].items() if k != "clientId"}]},
            "clientId",
        ),
        (lambda b: {**b, "deltas": [{**b["deltas"][0], "uuid": "not-a-uuid"}]}, "UUID"),
        (lambda b: {**b, "deltas": [{**b["deltas"][0], "new": "x"}]}, "attributes"),
    ],
)
async def test_bad_deltafiles_are_refused_and_store_nothing(
    client: httpx.AsyncClient, mutate: Any, reason: str
) -> None:
    alice = await login(client)
    pid = await project_with_file(client, alice)
    response = await push(client, alice, pid, mutate(deltafile(pid, delta())))
    assert_error(response, 400, "invalid_deltafile")
    assert reason in response.json()["message"]
    assert (await client.get(f"deltas/{pid}/", headers=alice)).json() == []


async def test_nul_sequences_are_stripped(client: httpx.AsyncClient) -> None:
    alice = await login(client)
    pid = await project_with_file(client, alice)
    raw = (
        json.dumps(deltafile(pid, delta(new={"attributes": {"name": "a\\u0000b"}})))
        .encode()
        .replace(b"a\\\\u0000b", b"a\\u0000b")
    )
    assert (await push(client, alice, pid, raw)).status_code == 200
    [item] = (await client.get(f"deltas/{pid}/", headers=alice)).json()
    assert "\x00" not in json.dumps(item["content"])


async def test_no_project_file_no_deltas(client: httpx.AsyncClient) -> None:
    alice = await login(client)
    pid = await new_project(client, alice)
    assert_error(await push(client, alice, pid, deltafile(pid, delta())), 400, "no_qgis_project")
    assert_error(
        await client.post(f"deltas/{pid}/", files={"text": (None, "{}")}, headers=alice), 400, "empty_content"
    )
