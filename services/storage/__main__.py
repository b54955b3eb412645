"""``python -m storage``: the storage service; removes blobs that nothing refers to any more."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from common import db, logging, service
from common.clock import SystemClock
from common.health import Metrics
from storage.app import gc
from storage.factory import make_blob_store
from storage.settings import StorageSettings


async def main(stop: asyncio.Event) -> None:
    settings = StorageSettings()
    logging.configure("storage", settings.log_level, settings.log_json)
    engine = db.make_engine(settings.database_url, pool_size=2)
    blobs = await make_blob_store(settings, engine)
    grace = timedelta(seconds=settings.gc_grace_s)
    clock = SystemClock()

    metrics = Metrics("outpost_storage")

    async def sweep() -> None:
        metrics.inc("blobs_collected_total", await gc.collect(engine, blobs, grace, clock.now()))
        metrics.inc("gc_sweeps_total")

    logging.get("storage").info("storage_started", action="start", backend=settings.storage_backend)
    health = service.start_health(settings, service.health_checks(None, engine), metrics, stop)
    await service.every(settings.gc_interval_s, stop, sweep, "gc")
    await asyncio.gather(*health)
    await engine.dispose()


if __name__ == "__main__":
    service.run(main)
