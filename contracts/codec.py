"""Turning payloads into envelopes and back, with upcasting of old schema versions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts import commands, events
from contracts.base import Command, CommandEnvelope, Envelope, EventData


class UnknownEventType(Exception):
    """An event type this code does not know; it was written by a newer version."""


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (event_type, from_version) -> function returning the data at from_version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def envelope(
    data: EventData,
    *,
    event_id: UUID,
    stream_id: str,
    stream_version: int,
    occurred_at: datetime,
    correlation_id: UUID,
    causation_id: UUID | None = None,
) -> Envelope:
    return Envelope(
        event_id=event_id,
        event_type=data.TYPE,
        schema_version=data.SCHEMA_VERSION,
        stream_id=stream_id,
        stream_version=stream_version,
        occurred_at=occurred_at,
        correlation_id=correlation_id,
        causation_id=causation_id,
        data=data.model_dump(mode="json"),
    )


def decode(env: Envelope) -> EventData:
    """The typed payload of a stored or received event, upcast to the current schema."""
    cls = events.BY_TYPE.get(env.event_type)
    if cls is None:
        raise UnknownEventType(env.event_type)
    data, version = dict(env.data), env.schema_version
    while version < cls.SCHEMA_VERSION:
        data = UPCASTERS[(env.event_type, version)](data)
        version += 1
    return cls.model_validate(data)


def command_envelope(
    cmd: Command, *, command_id: UUID, issued_at: datetime, correlation_id: UUID, causation_id: UUID | None
) -> CommandEnvelope:
    return CommandEnvelope(
        command_id=command_id,
        command_type=cmd.TYPE,
        schema_version=cmd.SCHEMA_VERSION,
        issued_at=issued_at,
        correlation_id=correlation_id,
        causation_id=causation_id,
        data=cmd.model_dump(mode="json"),
    )


def decode_command(env: CommandEnvelope) -> Command:
    cls = commands.BY_TYPE.get(env.command_type)
    if cls is None:
        raise UnknownEventType(env.command_type)
    return cls.model_validate(env.data)
