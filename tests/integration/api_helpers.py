"""Small helpers for API tests."""

from __future__ import annotations

import httpx

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
