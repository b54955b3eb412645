"""The ``s3`` backend: any S3 API (SeaweedFS, MinIO, AWS) through the ``minio`` SDK.

The SDK is synchronous; calls run in worker threads. Uploads stream as multipart parts of 8 MiB read
from the request body as it arrives, so memory stays at about one part per upload.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from minio import Minio
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from storage.ports import CHUNK, BlobNotFound, BlobStoreError

PART_SIZE = 8 * 1024 * 1024
MISSING = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchBucket"})


class _StreamReader(io.RawIOBase):
    """A blocking file-like view of an async chunk iterator, for the SDK running in a thread."""

    def __init__(self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self._chunks = chunks
        self._loop = loop
        self._buffer = b""
        self._done = False
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            chunk = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result()
            if chunk is None:
                self._done = True
            else:
                self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        self.size += len(data)
        return data

    async def _next(self) -> bytes | None:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return None


class S3BlobStore:
    def __init__(self, client: Minio, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    @classmethod
    def connect(
        cls, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool
    ) -> S3BlobStore:
        return cls(Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure), bucket)

    async def ensure_bucket(self) -> None:
        def create() -> None:
            if not self._client.bucket_exists(self._bucket):
                self._client.make_bucket(self._bucket)

        await self._call(create)

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        reader = _StreamReader(chunks, asyncio.get_running_loop())
        await self._call(self._client.put_object, self._bucket, key, reader, -1, part_size=PART_SIZE)
        return reader.size

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        length = 0 if end is None else end - start + 1
        response = await self._call(
            self._client.get_object, self._bucket, key, offset=start, length=length, key=key
        )
        try:
            while chunk := await asyncio.to_thread(response.read, CHUNK):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def delete(self, key: str) -> None:
        await self._call(self._client.remove_object, self._bucket, key)

    async def exists(self, key: str) -> bool:
        try:
            await self._call(self._client.stat_object, self._bucket, key, key=key)
        except BlobNotFound:
            return False
        return True

    async def keys_older_than(self, prefix: str, cutoff: datetime) -> list[str]:
        def listing() -> list[str]:
            objects = self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
            return [
                o.object_name
                for o in objects
                if o.last_modified and o.last_modified < cutoff and o.object_name
            ]

        result: list[str] = await self._call(listing)
        return result

    async def check(self) -> None:
        await self._call(self._client.bucket_exists, self._bucket)

    async def _call(self, fn: Any, *args: Any, key: str | None = None, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except S3Error as exc:
            if exc.code in MISSING and key is not None:
                raise BlobNotFound(key) from exc
            raise BlobStoreError(f"S3 {exc.code}: {exc.message}") from exc
        except (HTTPError, OSError) as exc:
            raise BlobStoreError(f"S3 unreachable: {exc}") from exc
