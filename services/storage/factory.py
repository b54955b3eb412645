"""Builds the configured blob store (``OUTPOST_STORAGE_BACKEND``: ``postgres`` or ``s3``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from common.settings import CommonSettings
from storage.adapters.postgres import PostgresBlobStore
from storage.adapters.s3 import S3BlobStore
from storage.ports import BlobStore


class UnknownBackend(Exception):
    """OUTPOST_STORAGE_BACKEND must be ``postgres`` or ``s3``."""


async def make_blob_store(settings: CommonSettings, engine: AsyncEngine) -> BlobStore:
    if settings.storage_backend == "postgres":
        return PostgresBlobStore(engine)
    if settings.storage_backend == "s3":
        store = S3BlobStore.connect(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            settings.s3_bucket,
            settings.s3_secure,
        )
        await store.ensure_bucket()
        return store
    raise UnknownBackend(settings.storage_backend)
