"""The append-only event store in PostgreSQL, with inline projections and a transactional outbox.

How the guarantees are kept (docs/adr/0002-event-store.md):
- Append-only: triggers refuse UPDATE, DELETE and TRUNCATE on ``events``.
- Idempotent: ``event_id`` is unique; appending an event that exists is a no-op.
- Optimistic concurrency: ``(stream_id, stream_version)`` is unique; a stale expected version raises
  :class:`ConcurrencyError`.
- Commit order = position order: every appending transaction takes one advisory lock before it
  writes and holds it until commit, so a reader following ``position`` never skips an event whose
  transaction committed late.
- Read models are updated in the same transaction as the events (with their checkpoint), and the
  messages for NATS go into ``outbox`` in that transaction too, so a commit always reaches JetStream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.clock import Clock, new_id
from contracts import codec, subjects
from contracts.base import Command, Envelope, EventData

APPEND_LOCK_KEY = 7_370_626_163_170_377_588  # any constant shared by every writer
NOTIFY_CHANNEL = "outpost_outbox"


class EventStoreError(Exception):
    """The event store refused an operation."""


class ConcurrencyError(EventStoreError):
    """Another writer appended to this stream first; reload the stream and decide again."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id} is at version {actual}, expected {expected}")
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


class ProjectionConflict(EventStoreError):
    """A read model constraint refused the events (e.g. a duplicate name); nothing was appended."""

    def __init__(self, constraint: str) -> None:
        super().__init__(f"read model constraint {constraint} refused the change")
        self.constraint = constraint


class Projection(Protocol):
    """A read model kept in step with the events, in the transaction that appends them."""

    name: str
    tables: tuple[str, ...]

    async def apply(self, conn: AsyncConnection, env: Envelope, event: EventData) -> None: ...


class Transaction:
    """One unit of work: load streams, append events, queue commands; committed together."""

    def __init__(self, conn: AsyncConnection, store: EventStore) -> None:
        self.conn = conn
        self._store = store
        self._locked = False
        self.appended: list[Envelope] = []

    async def lock(self) -> None:
        """Take the append lock now (it is taken at the first append otherwise)."""
        if not self._locked:
            await self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK_KEY})
            self._locked = True

    async def load(self, stream_id: str) -> list[Envelope]:
        rows = await self.conn.execute(
            text(f"SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = :s ORDER BY stream_version"),
            {"s": stream_id},
        )
        return [envelope_from_row(row._mapping) for row in rows]

    async def append(
        self,
        stream_id: str,
        events: Sequence[EventData],
        *,
        expected_version: int | None,
        correlation_id: UUID,
        causation_id: UUID | None = None,
        event_ids: Sequence[UUID] | None = None,
    ) -> list[Envelope]:
        """Append ``events`` to ``stream_id``; returns the envelopes actually written.

        ``expected_version`` is the version the caller's decision was based on (0 = new stream);
        ``None`` appends after whatever is there. Events whose ``event_id`` exists are skipped.
        """
        await self.lock()
        ids = list(event_ids) if event_ids is not None else [new_id() for _ in events]
        if await self._all_exist(ids):
            return []
        current = await self.version(stream_id)
        if expected_version is not None and current != expected_version:
            raise ConcurrencyError(stream_id, expected_version, current)
        now = self._store.clock.now()
        written: list[Envelope] = []
        for event_id, data in zip(ids, events, strict=True):
            env = codec.envelope(
                data,
                event_id=event_id,
                stream_id=stream_id,
                stream_version=current + 1,
                occurred_at=now,
                correlation_id=correlation_id,
                causation_id=causation_id,
            )
            position = await self._insert(env)
            if position is None:
                continue
            current += 1
            env = env.model_copy(update={"position": position})
            await self._outbox(str(env.event_id), subjects.for_event(env), env.model_dump(mode="json"))
            await self._project(env, data)
            written.append(env)
        self.appended.extend(written)
        return written

    async def send(
        self, command: Command, *, correlation_id: UUID, causation_id: UUID | None, command_id: UUID
    ) -> None:
        """Queue a command for NATS; it is published only if this transaction commits."""
        await self.lock()
        env = codec.command_envelope(
            command,
            command_id=command_id,
            issued_at=self._store.clock.now(),
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        await self._outbox(str(command_id), subjects.for_command(type(command)), env.model_dump(mode="json"))

    async def version(self, stream_id: str) -> int:
        row = await self.conn.execute(
            text("SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = :s"), {"s": stream_id}
        )
        return int(row.scalar_one())

    async def _all_exist(self, ids: list[UUID]) -> bool:
        if not ids:
            return False
        row = await self.conn.execute(
            text("SELECT count(*) FROM events WHERE event_id = ANY(:ids)"), {"ids": ids}
        )
        return int(row.scalar_one()) == len(ids)

    async def _insert(self, env: Envelope) -> int | None:
        try:
            row = await self.conn.execute(
                text(
                    "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version,"
                    " occurred_at, correlation_id, causation_id, data)"
                    " VALUES (:event_id, :stream_id, :stream_version, :event_type, :schema_version,"
                    " :occurred_at, :correlation_id, :causation_id, CAST(:data AS jsonb))"
                    " ON CONFLICT (event_id) DO NOTHING RETURNING position"
                ),
                {**env.model_dump(exclude={"data", "position"}), "data": json.dumps(env.data)},
            )
        except IntegrityError as exc:
            raise ConcurrencyError(env.stream_id, env.stream_version - 1, -1) from exc
        position = row.scalar_one_or_none()
        return None if position is None else int(position)

    async def _outbox(self, msg_id: str, subject: str, payload: dict[str, Any]) -> None:
        await self.conn.execute(
            text("INSERT INTO outbox (msg_id, subject, payload) VALUES (:m, :s, CAST(:p AS jsonb))"),
            {"m": msg_id, "s": subject, "p": json.dumps(payload)},
        )
        await self.conn.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))

    async def _project(self, env: Envelope, data: EventData) -> None:
        for projection in self._store.projections:
            try:
                await projection.apply(self.conn, env, data)
            except IntegrityError as exc:
                constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None) or "unknown"
                raise ProjectionConflict(constraint) from exc
            await self.conn.execute(
                text(
                    "INSERT INTO projection_checkpoints (name, position) VALUES (:n, :p)"
                    " ON CONFLICT (name) DO UPDATE SET position = excluded.position"
                ),
                {"n": projection.name, "p": env.position},
            )


class EventStore:
    def __init__(self, engine: AsyncEngine, projections: Sequence[Projection], clock: Clock) -> None:
        self.engine = engine
        self.projections = tuple(projections)
        self.clock = clock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self.engine.begin() as conn:
            yield Transaction(conn, self)

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[Envelope]:
        """Events in commit order after global position ``after``."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(f"SELECT {EVENT_COLUMNS} FROM events WHERE position > :a ORDER BY position LIMIT :l"),
                {"a": after, "l": limit},
            )
            return [envelope_from_row(row._mapping) for row in rows]

    async def read_stream(self, stream_id: str) -> list[Envelope]:
        async with self.transaction() as tx:
            return await tx.load(stream_id)


EVENT_COLUMNS = (
    "position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,"
    " correlation_id, causation_id, data"
)


def envelope_from_row(row: Any) -> Envelope:
    values: dict[str, Any] = dict(row)
    occurred: datetime = values["occurred_at"]
    values["occurred_at"] = occurred
    return Envelope.model_validate(values)
