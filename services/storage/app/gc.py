"""Garbage collection of blobs no read model refers to any more.

A blob is written before its FileUploaded event; if the API dies in between, or the file version is
pruned or deleted, or the project is deleted, the blob is left behind. After a grace period (longer
than any upload takes) it is removed. Works the same on every backend.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common import logging
from storage.ports import BlobStore

log = logging.get("storage.gc")
PREFIX = "projects/"


async def collect(engine: AsyncEngine, blobs: BlobStore, grace: timedelta, now: datetime) -> int:
    candidates = await blobs.keys_older_than(PREFIX, now - grace)
    if not candidates:
        return 0
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT blob_key FROM rm_files WHERE blob_key = ANY(:keys)"
                " UNION SELECT blob_key FROM rm_package_files WHERE blob_key = ANY(:keys)"
                " UNION SELECT thumbnail_blob_key FROM rm_projects WHERE thumbnail_blob_key = ANY(:keys)"
            ),
            {"keys": candidates},
        )
        referenced = {row[0] for row in rows}
    orphans = [key for key in candidates if key not in referenced]
    for key in orphans:
        await blobs.delete(key)
    if orphans:
        log.info("blobs_collected", action="gc", count=len(orphans))
    return len(orphans)
