"""Time and identity, behind one small port so domain code stays pure and tests stay exact."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()
