"""Garbage collection of blobs no read model refers to any more.

A blob is written before its FileUploaded event; if the API dies in between, or the project is
deleted, the blob is left behind. After a grace period (longer than any upload) it is removed.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common import logging
from storage.ports import BlobStore

log = logging.get("storage.gc")


async def collect(engine: AsyncEngine, blobs: BlobStore, grace: timedelta) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT b.key FROM blobs b WHERE b.created_at < now() - :grace"
                " AND NOT EXISTS (SELECT 1 FROM rm_files f WHERE f.blob_key = b.key) LIMIT 1000"
            ),
            {"grace": grace},
        )
        keys = [row[0] for row in rows]
    for key in keys:
        await blobs.delete(key)
    if keys:
        log.info("blobs_collected", action="gc", count=len(keys))
    return len(keys)
