"""Test helper process: append one event (no relay running), print its id, then hang until killed."""

from __future__ import annotations

import asyncio
import sys
import uuid

from common import db
from common.clock import SystemClock
from common.eventstore import EventStore
from common.readmodels import all_projections
from contracts import events as ev


async def main(database_url: str) -> None:
    engine = db.make_engine(database_url, pool_size=1)
    store = EventStore(engine, all_projections(), SystemClock())
    event = ev.ProjectCreated(project_id=uuid.uuid4(), name="crashy", owner="alice", created_by="alice")
    async with store.transaction() as tx:
        [env] = await tx.append(
            ev.project_stream(event.project_id), [event], expected_version=0, correlation_id=uuid.uuid4()
        )
    print(env.event_id, flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
