"""A JetStream durable pull consumer loop with explicit acknowledgement.

The handler's outcome decides the ack: it returns -> ``ack``; it raises -> ``nak`` with a delay, so
the message comes back (to this or another instance). Long handlers keep their message with
``in_progress`` heartbeats. Handlers must be idempotent: JetStream delivers at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from common import logging

log = logging.get("consumer")
Handler = Callable[[Msg], Awaitable[None]]


class Consumer:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        durable: str,
        subject: str,
        handler: Handler,
        concurrency: int = 1,
        ack_wait_s: float = 30.0,
        max_deliver: int = -1,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._subject = subject
        self._handler = handler
        self._concurrency = concurrency
        self._ack_wait_s = ack_wait_s
        self._config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait_s,
            max_deliver=max_deliver,
            deliver_policy=deliver_policy,
            filter_subject=subject,
            max_ack_pending=max(concurrency * 4, 64),
        )

    async def run(self, stop: asyncio.Event, drain_s: float = 0.0) -> None:
        """Handle messages until ``stop``; then fetch no more, and give the ones in hand ``drain_s`` to end
        before they are cancelled (unacked, so they are redelivered)."""
        workers = [asyncio.create_task(self._work(stop)) for _ in range(self._concurrency)]
        try:
            await stop.wait()
            if drain_s > 0:
                await asyncio.wait(workers, timeout=drain_s)
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    async def _work(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sub = await self._js.pull_subscribe(
                    self._subject, durable=self._durable, stream=self._stream, config=self._config
                )
                while not stop.is_set():
                    try:
                        msgs = await sub.fetch(1, timeout=1.0)
                    except NatsTimeout:
                        continue
                    for msg in msgs:
                        if stop.is_set():  # fetched as we were told to stop: leave it to another consumer
                            with contextlib.suppress(Exception):
                                await msg.nak()
                            continue
                        await self._handle(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS restarting: subscribe again shortly
                log.warning("consumer_error", action="consume", durable=self._durable, error=repr(exc))
                await asyncio.sleep(1.0)

    async def _handle(self, msg: Msg) -> None:
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            await self._handler(msg)
        except Exception as exc:
            log.warning(
                "message_failed",
                action="consume",
                durable=self._durable,
                subject=msg.subject,
                error=repr(exc),
            )
            with contextlib.suppress(Exception):
                await msg.nak(delay=1.0)
            return
        finally:
            beat.cancel()
        with contextlib.suppress(Exception):
            await msg.ack_sync()

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self._ack_wait_s / 3)
            with contextlib.suppress(Exception):
                await msg.in_progress()
