"""Serving a stored blob over HTTP: ETag, ``If-None-Match``, one ``Range`` (206 or 416, never a 200)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from api.context import Services
from api.errors import InvalidHttpRange

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int]:
    """One ``bytes=a-b`` range within the file; anything else is 416 (never a full 200)."""
    match = RANGE_RE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise InvalidHttpRange(f"Unsupported Range header {header!r}.")
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        raise InvalidHttpRange(f"Range {header!r} is outside the file of {size} bytes.")
    return start, end


def serve(svc: Services, request: Request, *, blob_key: str, size: int, etag: str, name: str) -> Response:
    headers = {
        "ETag": f'"{etag}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name.rsplit('/', 1)[-1])}",
    }
    if request.headers.get("if-none-match", "").strip('"') == etag:
        return Response(status_code=304, headers=headers)
    range_header = request.headers.get("range")
    if range_header is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            _stream(svc, blob_key, 0, None), headers=headers, media_type="application/octet-stream"
        )
    start, end = parse_range(range_header, size)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        _stream(svc, blob_key, start, end),
        status_code=206,
        headers=headers,
        media_type="application/octet-stream",
    )


async def _stream(svc: Services, key: str, start: int, end: int | None) -> AsyncIterator[bytes]:
    async for chunk in svc.blobs.read(key, start, end):
        yield chunk
