"""One contract for every blob store: the same tests against PostgreSQL large objects and real S3."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.devstack import SeaweedServer
from storage.adapters.postgres import PostgresBlobStore
from storage.adapters.s3 import S3BlobStore
from storage.app import gc
from storage.ports import BlobNotFound, BlobStore, BlobStoreError

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgres", "s3"])
async def blobs(request: pytest.FixtureRequest, engine: AsyncEngine) -> BlobStore:
    if request.param == "postgres":
        return PostgresBlobStore(engine)
    server: SeaweedServer = request.getfixturevalue("seaweed")
    store = S3BlobStore.connect(
        server.endpoint, server.access_key, server.secret_key, f"b{uuid.uuid4().hex[:12]}", False
    )
    await store.ensure_bucket()
    return store


async def chunks(data: bytes, size: int = 300_001) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def read_all(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 + 17, 9 * 1024 * 1024])
async def test_round_trip(blobs: BlobStore, size: int) -> None:
    data = os.urandom(size)
    key = f"projects/{uuid.uuid4()}/files/{uuid.uuid4()}"
    assert await blobs.put(key, chunks(data)) == size
    assert await blobs.exists(key)
    assert await read_all(blobs, key) == data


async def test_ranges(blobs: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024)
    key = f"projects/{uuid.uuid4()}/files/x"
    await blobs.put(key, chunks(data))
    assert await read_all(blobs, key, 10, 19) == data[10:20]
    assert await read_all(blobs, key, 2_000_000) == data[2_000_000:]
    assert await read_all(blobs, key, len(data) - 1, len(data) - 1) == data[-1:]


async def test_chunks_are_bounded(blobs: BlobStore) -> None:
    key = f"projects/{uuid.uuid4()}/files/big"
    await blobs.put(key, chunks(os.urandom(5 * 1024 * 1024), size=5 * 1024 * 1024))
    sizes = [len(chunk) async for chunk in blobs.read(key)]
    assert max(sizes) <= 1024 * 1024


async def test_missing_blob(blobs: BlobStore) -> None:
    assert not await blobs.exists("projects/none/files/none")
    with pytest.raises(BlobNotFound):
        await read_all(blobs, "projects/none/files/none")


async def test_delete(blobs: BlobStore) -> None:
    key = f"projects/{uuid.uuid4()}/files/gone"
    await blobs.put(key, chunks(b"bye"))
    await blobs.delete(key)
    assert not await blobs.exists(key)
    await blobs.delete(key)  # deleting twice is fine


async def test_a_failing_upload_stores_nothing(blobs: BlobStore) -> None:
    key = f"projects/{uuid.uuid4()}/files/broken"

    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(9 * 1024 * 1024)
        raise ConnectionResetError("client went away")

    with pytest.raises((ConnectionResetError, BlobStoreError)):
        await blobs.put(key, broken())
    assert not await blobs.exists(key)


async def test_gc_removes_only_unreferenced_old_blobs(blobs: BlobStore, engine: AsyncEngine) -> None:
    project = uuid.uuid4()
    kept, orphan = f"projects/{project}/files/kept", f"projects/{project}/files/orphan"
    for key in (kept, orphan):
        await blobs.put(key, chunks(b"x"))
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO rm_files (project_id, path, version_id, position, blob_key, size, md5sum,"
                " sha256, uploaded_by, uploaded_at) VALUES (:p, 'a', :v, 1, :k, 1, 'm', 's', 'alice', now())"
            ),
            {"p": project, "v": uuid.uuid4(), "k": kept},
        )
    now = datetime.now(UTC)
    assert await gc.collect(engine, blobs, timedelta(hours=1), now) == 0  # too young
    assert await gc.collect(engine, blobs, timedelta(0), now + timedelta(seconds=5)) == 1
    assert await blobs.exists(kept) and not await blobs.exists(orphan)


async def test_bad_s3_credentials_are_refused(seaweed: SeaweedServer) -> None:
    store = S3BlobStore.connect(seaweed.endpoint, seaweed.access_key, "wrong-secret", "outpost", False)
    with pytest.raises(BlobStoreError):
        await store.check()
