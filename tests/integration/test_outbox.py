"""Committed means delivered: the outbox relay against real PostgreSQL, NATS and SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import nats
import psycopg
import pytest
from nats.aio.client import Client
from nats.js.api import StreamInfo

from common import db, jetstream
from common.devstack import NatsServer
from common.eventstore import EventStore
from common.relay import OutboxRelay
from contracts import events as ev
from contracts import subjects
from tests.integration.helpers import project_created

pytestmark = pytest.mark.integration


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    for name in (subjects.EVENTS_STREAM, subjects.COMMANDS_STREAM):
        with contextlib.suppress(Exception):  # absent on first use
            await js.delete_stream(name)
    await jetstream.ensure_streams(js)
    yield client
    await client.drain()


async def events_in_stream(client: Client) -> StreamInfo:
    return await client.jetstream().stream_info(subjects.EVENTS_STREAM)


async def test_event_committed_by_a_process_killed_before_publishing_still_reaches_jetstream(
    database_url: str, nc: Client, repo_root: object
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.append_then_hang", database_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(repo_root),
    )
    assert proc.stdout is not None
    event_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (await events_in_stream(nc)).state.messages == 0

    sub = await nc.jetstream().subscribe(subjects.EVENTS_SUBJECTS, ordered_consumer=True)
    stop = asyncio.Event()
    relay = asyncio.create_task(
        OutboxRelay(db.psycopg_dsn(database_url), nc.jetstream(), poll_s=0.1).run(stop)
    )
    try:
        msg = await sub.next_msg(timeout=10)
    finally:
        stop.set()
        await relay
    assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == event_id
    assert msg.subject.startswith("outpost.evt.project.") and msg.subject.endswith(".created")
    assert b'"event_type":"project.created"' in msg.data


async def test_relay_dying_after_publish_before_delete_delivers_once(
    database_url: str, store: EventStore, nc: Client
) -> None:
    for _ in range(3):
        event = project_created()
        async with store.transaction() as tx:
            await tx.append(
                ev.project_stream(event.project_id), [event], expected_version=0, correlation_id=uuid.uuid4()
            )
    relay = OutboxRelay(db.psycopg_dsn(database_url), nc.jetstream())
    async with await psycopg.AsyncConnection.connect(db.psycopg_dsn(database_url)) as conn:
        assert await relay.drain_once(conn) == 3
        await conn.rollback()  # the DELETE never commits: as if the relay died right after publishing
    async with await psycopg.AsyncConnection.connect(db.psycopg_dsn(database_url), autocommit=True) as conn:
        assert await relay.drain_once(conn) == 3  # published again...
        assert await relay.drain_once(conn) == 0
    assert (await events_in_stream(nc)).state.messages == 3  # ...and JetStream kept one copy of each


async def test_only_one_relay_leads(database_url: str, store: EventStore, nc: Client) -> None:
    stop = asyncio.Event()
    relays = [OutboxRelay(db.psycopg_dsn(database_url), nc.jetstream(), poll_s=0.1) for _ in range(3)]
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    try:
        for _ in range(20):
            event = project_created()
            async with store.transaction() as tx:
                await tx.append(
                    ev.project_stream(event.project_id),
                    [event],
                    expected_version=0,
                    correlation_id=uuid.uuid4(),
                )
        for _ in range(100):
            if sum(r.published for r in relays) >= 20:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert sorted(r.published for r in relays) == [0, 0, 20]
    assert (await events_in_stream(nc)).state.messages == 20
