"""The outbox relay: publishes committed events and commands to JetStream, then forgets them.

One relay leads at a time (a session advisory lock); the others wait and take over when the
leader's connection dies. Each message carries ``Nats-Msg-Id`` = its event or command id, so a
relay that dies after publishing and before deleting re-publishes into JetStream's duplicate
window and nothing is delivered twice. A relay that dies before publishing leaves the rows in
``outbox``: the next leader publishes them. Committed means delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import psycopg
from nats.js import JetStreamContext

from common import logging
from common.eventstore import NOTIFY_CHANNEL

RELAY_LOCK_KEY = 7_370_626_163_170_377_589
log = logging.get("relay")


class OutboxRelay:
    def __init__(self, dsn: str, js: JetStreamContext, *, batch: int = 200, poll_s: float = 1.0) -> None:
        self._dsn = dsn
        self._js = js
        self._batch = batch
        self._poll_s = poll_s
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Lead when possible and relay until ``stop`` is set; survives PostgreSQL and NATS restarts."""
        while not stop.is_set():
            try:
                await self._lead(stop)
            except (psycopg.Error, OSError) as exc:
                log.warning("relay_db_unavailable", action="relay", error=str(exc))
            except Exception as exc:  # NATS errors: keep the rows, try again shortly
                log.warning("relay_publish_failed", action="relay", error=repr(exc))
            await wait_or_stop(stop, self._poll_s)

    async def _lead(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
            while not stop.is_set():
                got = await (
                    await conn.execute("SELECT pg_try_advisory_lock(%s)", (RELAY_LOCK_KEY,))
                ).fetchone()
                if got and got[0]:
                    break
                await wait_or_stop(stop, self._poll_s)
            if stop.is_set():
                return
            log.info("relay_leading", action="relay")
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            while not stop.is_set():
                while await self.drain_once(conn):
                    pass
                async for _ in conn.notifies(timeout=self._poll_s, stop_after=1):
                    pass

    async def drain_once(self, conn: psycopg.AsyncConnection) -> int:
        """Publish the oldest batch of outbox rows, in order; returns how many were sent."""
        cur = await conn.execute(
            "SELECT id, msg_id, subject, payload FROM outbox ORDER BY id LIMIT %s", (self._batch,)
        )
        rows = await cur.fetchall()
        for _, msg_id, subject, payload in rows:
            await self._js.publish(
                subject, json.dumps(payload, separators=(",", ":")).encode(), headers={"Nats-Msg-Id": msg_id}
            )
        if rows:
            await conn.execute("DELETE FROM outbox WHERE id <= %s", (rows[-1][0],))
            self.published += len(rows)
        return len(rows)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
