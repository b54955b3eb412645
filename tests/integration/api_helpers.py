"""Small helpers for API tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from common import jobtokens
from common.eventstore import EventStore
from contracts import events as ev

SECRET = "s" * 40
PASSWORD = "correct horse battery"


async def login(client: httpx.AsyncClient, user: str = "alice", agent: str = "sdk|py|0.18") -> dict[str, str]:
    response = await client.post(
        "auth/login/", data={"username": user, "password": PASSWORD}, headers={"User-Agent": agent}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"token {response.json()['token']}"}


async def new_project(client: httpx.AsyncClient, auth: dict[str, str], name: str = "survey") -> str:
    response = await client.post("projects/", data={"name": name}, headers=auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert f'"code":"{code}"' in response.text  # compact: QField matches the raw bytes


async def start_job(
    store: EventStore, project_id: uuid.UUID, job_type: str = "process_projectfile"
) -> uuid.UUID:
    """A job that is running (created, queued, started), as a runner would leave it."""
    job_id = uuid.uuid4()
    async with store.transaction() as tx:
        await tx.append(
            ev.job_stream(job_id),
            [
                ev.JobCreated(
                    job_id=job_id,
                    project_id=project_id,
                    job_type=job_type,  # type: ignore[arg-type]
                    created_by="alice",
                    created_by_id=1,
                    reason="test",
                ),
                ev.JobQueued(job_id=job_id, project_id=project_id),
                ev.JobStarted(job_id=job_id, project_id=project_id, runner_id="test"),
            ],
            expected_version=0,
            correlation_id=uuid.uuid4(),
        )
    return job_id


def worker_token(job_id: uuid.UUID, project_id: uuid.UUID) -> dict[str, str]:
    claims = jobtokens.JobClaims(job_id, project_id, datetime.now(UTC) + timedelta(minutes=5))
    return {"Authorization": f"Token {jobtokens.mint(SECRET.encode(), claims)}"}
