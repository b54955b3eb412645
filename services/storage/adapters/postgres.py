"""The ``postgres`` backend: each blob is one PostgreSQL large object, written and read in chunks.

A small install then needs only PostgreSQL and NATS. ``lo_put``/``lo_get`` move at most one chunk
per round trip, so memory stays flat whatever the file size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.ports import CHUNK, BlobNotFound, BlobStoreError


class PostgresBlobStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        size = 0
        try:
            async with self._engine.begin() as conn:
                oid = (await conn.execute(text("SELECT lo_create(0)"))).scalar_one()
                async for chunk in chunks:
                    for offset in range(0, len(chunk), CHUNK):
                        piece = chunk[offset : offset + CHUNK]
                        await conn.execute(
                            text("SELECT lo_put(:oid, :off, :data)"), {"oid": oid, "off": size, "data": piece}
                        )
                        size += len(piece)
                await conn.execute(
                    text("INSERT INTO blobs (key, oid, size) VALUES (:k, :o, :s)"),
                    {"k": key, "o": oid, "s": size},
                )
        except DBAPIError as exc:
            raise BlobStoreError(f"storing blob {key} failed: {exc.orig}") from exc
        return size

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        async with self._engine.connect() as conn:
            row = (await conn.execute(text("SELECT oid, size FROM blobs WHERE key = :k"), {"k": key})).first()
            if row is None:
                raise BlobNotFound(key)
            oid, size = row
            last = size - 1 if end is None else min(end, size - 1)
            offset = start
            while offset <= last:
                length = min(CHUNK, last - offset + 1)
                data = (
                    await conn.execute(
                        text("SELECT lo_get(:o, :off, :len)"), {"o": oid, "off": offset, "len": length}
                    )
                ).scalar_one()
                await conn.rollback()  # end the implicit transaction: no snapshot held between chunks
                yield bytes(data)
                offset += length

    async def delete(self, key: str) -> None:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(text("DELETE FROM blobs WHERE key = :k RETURNING oid"), {"k": key})
            ).first()
            if row is not None:
                await conn.execute(text("SELECT lo_unlink(:o)"), {"o": row[0]})

    async def exists(self, key: str) -> bool:
        async with self._engine.connect() as conn:
            row = (await conn.execute(text("SELECT 1 FROM blobs WHERE key = :k"), {"k": key})).first()
            return row is not None

    async def keys_older_than(self, prefix: str, cutoff: datetime) -> list[str]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT key FROM blobs WHERE key LIKE :p AND created_at < :c ORDER BY key"),
                {"p": prefix.replace("%", r"\%").replace("_", r"\_") + "%", "c": cutoff},
            )
            return [row[0] for row in rows]

    async def check(self) -> None:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1 FROM blobs LIMIT 1"))
        except DBAPIError as exc:
            raise BlobStoreError(f"postgres blob store unreachable: {exc.orig}") from exc
