"""Base classes for event payloads, commands and the envelope that carries them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    """Immutable, strict model: unknown keys are an error, never silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EventData(Frozen):
    """The payload of one event. Subclasses name themselves with a stable ``TYPE``."""

    TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1


class Command(Frozen):
    """An instruction to exactly one handler, in the imperative (``RunJob``)."""

    TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1


class Envelope(Frozen):
    """An event as stored in PostgreSQL and published on NATS.

    ``position`` is the global order in the event store; it is ``None`` until the event is appended.
    """

    event_id: UUID
    event_type: str
    schema_version: int
    stream_id: str
    stream_version: int = Field(ge=1)
    occurred_at: datetime
    correlation_id: UUID
    causation_id: UUID | None = None
    position: int | None = None
    data: dict[str, Any]


class CommandEnvelope(Frozen):
    """A command on the wire: its type, id (the ``Nats-Msg-Id``) and payload."""

    command_id: UUID
    command_type: str
    schema_version: int
    issued_at: datetime
    correlation_id: UUID
    causation_id: UUID | None = None
    data: dict[str, Any]
