"""The event store's guarantees, each against a real PostgreSQL (architecture brief, guarantee 4)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.eventstore import ConcurrencyError, EventStore, ProjectionConflict
from contracts import events as ev
from tests.integration.helpers import project_created

pytestmark = pytest.mark.integration


async def append_project(store: EventStore, event: ev.ProjectCreated | None = None) -> ev.ProjectCreated:
    event = event or project_created()
    async with store.transaction() as tx:
        await tx.append(
            ev.project_stream(event.project_id), [event], expected_version=0, correlation_id=uuid.uuid4()
        )
    return event


@pytest.mark.parametrize(
    "statement",
    ["UPDATE events SET data = '{}'::jsonb", "DELETE FROM events", "TRUNCATE events"],
)
async def test_database_refuses_to_change_history(
    store: EventStore, engine: AsyncEngine, statement: str
) -> None:
    await append_project(store)
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one() == 1


async def test_appending_the_same_event_twice_is_a_no_op(store: EventStore, engine: AsyncEngine) -> None:
    event, event_id = project_created(), uuid.uuid4()
    stream = ev.project_stream(event.project_id)
    for _ in range(2):
        async with store.transaction() as tx:
            await tx.append(
                stream, [event], expected_version=None, correlation_id=uuid.uuid4(), event_ids=[event_id]
            )
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one() == 1
        assert (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 1
        assert (await conn.execute(text("SELECT count(*) FROM rm_projects"))).scalar_one() == 1


async def test_stale_expected_version_is_a_concurrency_error(store: EventStore) -> None:
    event = await append_project(store)
    upload_like = ev.ProjectDeleted(project_id=event.project_id, deleted_by="alice")
    with pytest.raises(ConcurrencyError) as info:
        async with store.transaction() as tx:
            await tx.append(
                ev.project_stream(event.project_id),
                [upload_like],
                expected_version=0,
                correlation_id=uuid.uuid4(),
            )
    assert (info.value.expected, info.value.actual) == (0, 1)
    assert len(await store.read_stream(ev.project_stream(event.project_id))) == 1


async def test_unique_stream_version_is_enforced_by_the_database(
    store: EventStore, engine: AsyncEngine
) -> None:
    event = await append_project(store)
    with pytest.raises(DBAPIError, match="events_stream_version_key"):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version,"
                    " occurred_at,"
                    " correlation_id, data) VALUES (:e, :s, 1, 'project.deleted', 1, now(), :e, '{}')"
                ),
                {"e": uuid.uuid4(), "s": ev.project_stream(event.project_id)},
            )


async def test_positions_are_global_and_increasing(store: EventStore) -> None:
    for _ in range(5):
        await append_project(store)
    positions = [e.position for e in await store.read_all()]
    assert positions == sorted(positions) and len(set(positions)) == 5


async def test_a_read_model_constraint_appends_nothing(store: EventStore, engine: AsyncEngine) -> None:
    first = await append_project(store)
    with pytest.raises(ProjectionConflict, match="rm_projects_owner_name_key"):
        await append_project(store, project_created(first.name.upper()))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one() == 1
        assert (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 1


async def test_a_reader_never_skips_an_event_that_commits_late(store: EventStore) -> None:
    """T1 appends first but commits last; a reader following positions must still see it."""
    release = asyncio.Event()
    t1_appended = asyncio.Event()

    async def slow_writer() -> None:
        async with store.transaction() as tx:
            await tx.append("late-1", [project_created()], expected_version=0, correlation_id=uuid.uuid4())
            t1_appended.set()
            await release.wait()

    t1 = asyncio.create_task(slow_writer())
    await t1_appended.wait()
    t2 = asyncio.create_task(append_project(store))
    await asyncio.sleep(0.5)
    assert not t2.done(), "a second writer must wait for the first writer's commit"
    seen = await store.read_all(0)
    assert seen == []
    last_seen = 0
    release.set()
    await asyncio.gather(t1, t2)
    later = await store.read_all(last_seen)
    assert later[0].stream_id == "late-1"
    assert len(later) == 2 and later[0].position < later[1].position  # type: ignore[operator]
