"""The blob store port: what the API and the storage service need from any backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol

CHUNK = 1024 * 1024


class BlobStoreError(Exception):
    """The backend failed; the message says which blob and why."""


class BlobNotFound(BlobStoreError):
    """No blob is stored under this key."""


class BlobStore(Protocol):
    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Store the chunks under ``key`` (all or nothing); returns the size in bytes."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes ``start``..``end`` (inclusive, None = to the end), in chunks of at most 1 MiB."""
        ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def keys_older_than(self, prefix: str, cutoff: datetime) -> list[str]:
        """Keys under ``prefix`` stored before ``cutoff`` (for garbage collection)."""
        ...

    async def check(self) -> None:
        """Raise :class:`BlobStoreError` unless the backend is reachable."""
        ...
