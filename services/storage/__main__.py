"""``python -m storage``: the storage service; removes blobs that nothing refers to any more."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from common import db, logging, service
from storage.adapters.postgres import PostgresBlobStore
from storage.app import gc
from storage.settings import StorageSettings


async def main(stop: asyncio.Event) -> None:
    settings = StorageSettings()
    logging.configure("storage", settings.log_level, settings.log_json)
    engine = db.make_engine(settings.database_url, pool_size=2)
    blobs = PostgresBlobStore(engine)
    grace = timedelta(seconds=settings.gc_grace_s)

    async def sweep() -> None:
        await gc.collect(engine, blobs, grace)

    logging.get("storage").info("storage_started", action="start", backend=settings.storage_backend)
    await service.every(settings.gc_interval_s, stop, sweep, "gc")
    await engine.dispose()


if __name__ == "__main__":
    service.run(main)
