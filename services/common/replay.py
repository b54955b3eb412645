"""Rebuild every read model from the events alone (``outpost events replay``).

The rebuild runs in one transaction holding the append lock, so writers wait and the result is a
consistent fold of the whole history; a failure leaves the old read models untouched.
"""

from __future__ import annotations

from sqlalchemy import text

from common import logging
from common.eventstore import EVENT_COLUMNS, EventStore, envelope_from_row
from contracts import codec

log = logging.get("replay")
BATCH = 2000


async def rebuild(store: EventStore) -> int:
    """Truncate and re-fold every projection; returns the number of events applied."""
    count = 0
    async with store.transaction() as tx:
        await tx.lock()
        for projection in store.projections:
            await tx.conn.execute(text(f"TRUNCATE {', '.join(projection.tables)}"))
        position = 0
        while True:
            rows = (
                await tx.conn.execute(
                    text(
                        f"SELECT {EVENT_COLUMNS} FROM events WHERE position > :p ORDER BY position LIMIT :l"
                    ),
                    {"p": position, "l": BATCH},
                )
            ).all()
            if not rows:
                break
            for row in rows:
                env = envelope_from_row(row._mapping)
                event = codec.decode(env)
                for projection in store.projections:
                    await projection.apply(tx.conn, env, event)
                position = env.position or position
                count += 1
        for projection in store.projections:
            await tx.conn.execute(
                text(
                    "INSERT INTO projection_checkpoints (name, position) VALUES (:n, :p)"
                    " ON CONFLICT (name) DO UPDATE SET position = excluded.position"
                ),
                {"n": projection.name, "p": position},
            )
    log.info("replay_done", action="replay", events=count, position=position)
    return count
