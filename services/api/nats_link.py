"""The API's NATS connection: made in the background, so the API serves reads while NATS is down."""

from __future__ import annotations

import asyncio
import contextlib

import nats
from nats.aio.client import Client

from api.errors import ServiceUnavailable
from common import logging

log = logging.get("api.nats")


class NatsLink:
    def __init__(self, url: str) -> None:
        self._url = url
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        while True:
            try:
                self._client = await nats.connect(
                    self._url, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2
                )
                return
            except Exception as exc:
                log.warning("nats_unavailable", action="connect", error=repr(exc))
                await asyncio.sleep(1.0)

    @property
    def client(self) -> Client:
        if self._client is None or not self._client.is_connected:
            raise ServiceUnavailable("The message bus (NATS) is unavailable; try again shortly.")
        return self._client

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
