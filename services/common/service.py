"""Process plumbing shared by the NATS-driven services: signals, NATS connection, the relay task, health."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common import db, health, jetstream, logging
from common.relay import OutboxRelay, wait_or_stop
from common.settings import CommonSettings

log = logging.get("service")


def run(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)`` until SIGINT or SIGTERM sets ``stop``."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


async def connect_nats(url: str, stop: asyncio.Event, replicas: int = 1) -> Client | None:
    """Connect to NATS, retrying until it answers or ``stop`` is set; JetStream streams are ensured."""
    while not stop.is_set():
        try:
            nc = await nats.connect(
                url, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2
            )
            await jetstream.ensure_streams(nc.jetstream(), replicas)
            return nc
        except Exception as exc:
            log.warning("nats_unavailable", action="connect", error=repr(exc))
            await wait_or_stop(stop, 1.0)
    return None


async def relay(database_url: str, nc: Client, stop: asyncio.Event) -> None:
    await OutboxRelay(db.psycopg_dsn(database_url), nc.jetstream()).run(stop)


async def every(
    seconds: float, stop: asyncio.Event, action: Callable[[], Awaitable[object]], name: str
) -> None:
    """Call ``action`` every ``seconds`` until stopped; failures are logged, never fatal."""
    while not stop.is_set():
        try:
            await action()
        except Exception as exc:
            log.warning("periodic_failed", action=name, error=repr(exc))
        await wait_or_stop(stop, seconds)


def health_checks(nc: Client | None, engine: AsyncEngine) -> dict[str, health.Check]:
    """What a service needs: PostgreSQL answering and, for services using NATS (``nc``), NATS connected."""

    async def nats_connected() -> bool:
        return nc is not None and bool(nc.is_connected)

    async def database() -> bool:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return {"nats": nats_connected, "database": database} if nc is not None else {"database": database}


def start_health(
    settings: CommonSettings, checks: dict[str, health.Check], metrics: health.Metrics, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    """The health endpoint as a task, if ``OUTPOST_HEALTH_PORT`` asks for one."""
    if not settings.health_port:
        return []
    return [
        asyncio.create_task(health.serve(settings.health_host, settings.health_port, checks, metrics, stop))
    ]
