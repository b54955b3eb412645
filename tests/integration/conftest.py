"""Fixtures for integration tests: the API in-process on a real PostgreSQL (and S3 when asked)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from api.bootstrap import create_app
from api.settings import ApiSettings
from common.devstack import SeaweedServer
from tests.integration.api_helpers import PASSWORD, SECRET


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> dict[str, object]:
    """Blob store settings; a test asks for ``s3`` with ``parametrize("backend", [...], indirect=True)``."""
    if request.param == "postgres":
        return {"storage_backend": "postgres"}
    server: SeaweedServer = request.getfixturevalue("seaweed")
    return {
        "storage_backend": "s3",
        "s3_endpoint": server.endpoint,
        "s3_access_key": server.access_key,
        "s3_secret_key": SecretStr(server.secret_key),
        "s3_bucket": f"api{uuid.uuid4().hex[:10]}",
    }


@pytest.fixture
async def client(database_url: str, backend: dict[str, object]) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(database_url=database_url, relay=False, secret_key=SecretStr(SECRET), **backend)  # type: ignore[arg-type]
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.services.accounts.create_user("alice", PASSWORD, "alice@example.org")
        await app.state.services.accounts.create_user("bob", PASSWORD)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1/") as http:
            yield http
