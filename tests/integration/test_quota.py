"""Storage quotas: `outpost user quota`, 402 over_quota for people, never for QField or jobs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.eventstore import EventStore
from tests.integration.api_helpers import assert_error, login, new_project, start_job, worker_token

pytestmark = pytest.mark.integration
KIB = 1024


def set_quota(database_url: str, account: str, megabytes: str) -> dict[str, object]:
    """The real command an operator runs."""
    done = subprocess.run(
        [sys.executable, "-m", "common.cli", "user", "quota", account, megabytes],
        env={**os.environ, "OUTPOST_DATABASE_URL": database_url, "OUTPOST_LOG_JSON": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return {"exit": done.returncode, **json.loads(done.stdout.strip().splitlines()[-1])}


async def upload(
    client: httpx.AsyncClient, auth: dict[str, str], pid: str, name: str, size: int
) -> httpx.Response:
    return await client.post(f"files/{pid}/{name}/", files={"file": (name, os.urandom(size))}, headers=auth)


async def test_uploads_beyond_the_quota_are_refused_and_lose_nothing(
    client: httpx.AsyncClient, database_url: str, engine: AsyncEngine, store: EventStore
) -> None:
    sdk = await login(client)
    pid = await new_project(client, sdk)
    assert set_quota(database_url, "alice", "1") == {
        "exit": 0,
        "account": "alice",
        "quota_mb": 1,
        "found": True,
    }

    assert (await upload(client, sdk, pid, "a.bin", 700 * KIB)).status_code == 201
    assert_error(await upload(client, sdk, pid, "b.bin", 400 * KIB), 402, "over_quota")
    listed = (await client.get(f"files/{pid}/", headers=sdk)).json()
    assert [f["name"] for f in listed] == ["a.bin"]  # the refused upload left no version behind
    async with engine.connect() as conn:
        blobs = await conn.execute(
            text("SELECT count(*) FROM blobs WHERE key LIKE :k"), {"k": f"projects/{pid}/%"}
        )
        assert blobs.scalar_one() == 1  # nor its blob

    qfield = await login(client, agent="qfield|3.5|x|y")  # QField's own uploads are never refused
    assert (await upload(client, qfield, pid, "DCIM/photo.jpg", 400 * KIB)).status_code == 201
    job_id = await start_job(store, uuid.UUID(pid))  # nor are a job's
    assert (
        await upload(client, worker_token(job_id, uuid.UUID(pid)), pid, "out.bin", 10 * KIB)
    ).status_code == 201

    full = await upload(client, sdk, pid, "tiny.txt", 1)  # over the limit now: refused before the body
    assert_error(full, 402, "over_quota")
    assert "1.0 MiB" in full.json()["message"]
    subscription = (await client.get("subscriptions/alice/current/", headers=sdk)).json()
    assert subscription["storage_used_bytes"] == 1110 * KIB
    assert subscription["active_storage_total_bytes"] == 1024 * KIB
    assert subscription["is_storage_unlimited"] is False

    assert set_quota(database_url, "alice", "default")["found"] is True  # the server's default: none
    assert (await upload(client, sdk, pid, "tiny.txt", 1)).status_code == 201
    assert (await client.get("subscriptions/alice/current/", headers=sdk)).json()[
        "is_storage_unlimited"
    ] is True


async def test_moving_a_project_into_a_full_organization_is_refused(
    client: httpx.AsyncClient, database_url: str
) -> None:
    alice = await login(client)
    created = await client.post("organizations/", data={"username": "field-team"}, headers=alice)
    assert created.status_code == 201
    pid = await new_project(client, alice)
    assert (await upload(client, alice, pid, "data.gpkg", 200 * KIB)).status_code == 201
    assert set_quota(database_url, "field-team", "0")["found"] is True
    assert_error(
        await client.patch(f"projects/{pid}/", data={"owner": "field-team"}, headers=alice), 402, "over_quota"
    )
    assert (await client.get(f"projects/{pid}/", headers=alice)).json()["owner"] == "alice"
    assert set_quota(database_url, "field-team", "1")["found"] is True
    moved = await client.patch(f"projects/{pid}/", data={"owner": "field-team"}, headers=alice)
    assert moved.status_code == 200 and moved.json()["owner"] == "field-team"


def test_the_quota_command_refuses_bad_input(database_url: str) -> None:
    assert set_quota(database_url, "nobody-here", "5") == {
        "exit": 1,
        "account": "nobody-here",
        "quota_mb": 5,
        "found": False,
    }
    done = subprocess.run(
        [sys.executable, "-m", "common.cli", "user", "quota", "alice", "-3"],
        env={**os.environ, "OUTPOST_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "a whole number of MiB" in done.stderr


async def test_concurrent_uploads_cannot_overshoot_the_quota_together(
    client: httpx.AsyncClient, database_url: str
) -> None:
    auth = await login(client)
    pid = await new_project(client, auth)
    assert set_quota(database_url, "alice", "1")["found"] is True
    answers = await asyncio.gather(*(upload(client, auth, pid, f"part{i}.bin", 600 * KIB) for i in range(4)))
    assert sorted(answer.status_code for answer in answers) == [201, 402, 402, 402]
    listed = (await client.get(f"files/{pid}/", headers=auth)).json()
    assert len(listed) == 1 and listed[0]["size"] == 600 * KIB
