"""HTTP helpers: compact JSON, bodies in any of the three encodings clients send, pagination headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from api.errors import EmptyContent, MultipleContents, ValidationError

TRUE = frozenset({"1", "true", "True", "TRUE", "yes", "on"})
FALSE = frozenset({"0", "false", "False", "FALSE", "no", "off", ""})
DEFAULT_PAGE = 50


class CompactJSONResponse(Response):
    """JSON without spaces: QField finds error codes by substring (``"code":"over_quota"``)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False, default=str).encode()


async def read_body(request: Request) -> dict[str, Any]:
    """The request's fields, whether sent as JSON (QField), urlencoded (SDK) or multipart."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValidationError(f"the body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValidationError("the JSON body must be an object")
        return data
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return {}


def as_bool(value: Any, field: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value)
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValidationError(f"{field} must be a boolean, got {text!r}")


def as_int(value: str | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise ValidationError(f"{field} must be an integer") from exc
    if number < 0:
        raise ValidationError(f"{field} must not be negative")
    return number


def paginate(request: Request, items: Sequence[Any]) -> CompactJSONResponse:
    """Limit/offset pagination in headers only; no ``limit`` means the whole list (QField relies on it)."""
    limit = as_int(request.query_params.get("limit"), "limit")
    offset = as_int(request.query_params.get("offset"), "offset")
    if limit is None and offset is None:
        return CompactJSONResponse(list(items))
    limit = DEFAULT_PAGE if limit is None else max(limit, 1)
    offset = offset or 0
    page = list(items[offset : offset + limit])
    headers = {"X-Total-Count": str(len(items))}
    base = str(request.url.remove_query_params(["limit", "offset"]))
    joiner = "&" if "?" in base else "?"
    if offset + limit < len(items):
        headers["X-Next-Page"] = f"{base}{joiner}{urlencode({'limit': limit, 'offset': offset + limit})}"
    if offset > 0:
        prev = {"limit": limit, "offset": max(offset - limit, 0)}
        headers["X-Previous-Page"] = f"{base}{joiner}{urlencode(prev)}"
    return CompactJSONResponse(page, headers=headers)


@asynccontextmanager
async def single_file(request: Request, field: str = "file") -> AsyncIterator[UploadFile]:
    """The one ``field`` part of a multipart upload (spooled to disk past 1 MiB); other parts are ignored."""
    form = await request.form(max_files=4, max_fields=16)
    try:
        parts = [value for value in form.getlist(field) if isinstance(value, UploadFile)]
        if not parts:
            raise EmptyContent(f"The request has no '{field}' part.")
        if len(parts) > 1:
            raise MultipleContents(f"The request has more than one '{field}' part.")
        yield parts[0]
    finally:
        await form.close()
