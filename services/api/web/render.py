"""Jinja2 pages: one environment, a few filters, and the HTML error page every console error ends in."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from api.auth import Principal
from api.context import Services
from api.web import session

PREFIX = "/console"
# Fixed messages shown after a form was handled (the query string picks one; it never carries text).
NOTICES = {
    "settings": "Settings saved.",
    "secret-set": "Secret saved. Its value cannot be read back.",
    "secret-deleted": "Secret deleted.",
    "resolved": "Resolutions saved.",
    "resolved-applied": "Resolutions saved; a delta_apply job applies the pending changes.",
    "applying": "A delta_apply job applies the pending changes.",
    "job": "Job requested.",
}


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max((end - start).total_seconds(), 0.0)
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60)} s"


def _size(value: int | None) -> str:
    number = float(value or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if number < 1024 or unit == "GiB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024
    return f"{number:.1f} GiB"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def cell(value: Any) -> str:
    """A value in a conflict table: JSON for anything that is not text, so 1, "1" and null differ."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("api.web", "templates"),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, duration=_duration, size=_size, pretty=_pretty, cell=cell)
    env.globals.update(prefix=PREFIX, csrf_field=session.CSRF_FIELD)
    return env


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def page(
    request: Request,
    template: str,
    viewer: Principal | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the viewer, the CSRF token of this session and a notice, if any."""
    key = request.cookies.get(session.SESSION_COOKIE)
    csrf = session.csrf_token(_services(request).secret, key) if key and viewer else ""
    notice = NOTICES.get(request.query_params.get("notice", ""), "")
    body = (
        environment()
        .get_template(template)
        .render(viewer=viewer, csrf=csrf, notice=notice, path=request.url.path, **context)
    )
    return HTMLResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


def redirect(url: str) -> RedirectResponse:
    """After a POST: 303 See Other, so reloading the next page never posts again."""
    return RedirectResponse(url, status_code=303)


def is_console(request: Request) -> bool:
    path = request.url.path
    return path in ("/", PREFIX) or path.startswith(PREFIX + "/")


TITLES = {400: "That did not work", 403: "Not allowed", 404: "Not found", 405: "Not allowed"}


def error_page(request: Request, status: int, code: str, message: str) -> Response:
    """A console error as an HTML page; a missing session is a redirect to the login form instead."""
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = PREFIX + "/"
        return redirect(f"{PREFIX}/login?next={quote(target, safe='')}")
    title = TITLES.get(status, "Something went wrong" if status >= 500 else "That did not work")
    body = (
        environment()
        .get_template("error.html")
        .render(
            viewer=None,
            csrf="",
            notice="",
            path=request.url.path,
            status=status,
            code=code,
            title=title,
            message=message,
        )
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
