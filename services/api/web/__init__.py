"""The web console: server-rendered pages under ``/console/`` over the API's own use cases (ADR 0012).

Pages are Jinja2 templates that read fine without JavaScript; a small hand-written script adds the live
job log (server-sent events). Sessions are browser-type API tokens in a cookie; forms carry CSRF tokens.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.web import auth_pages, change_pages, job_pages, project_pages, render, settings_pages

__all__ = ["error_page", "install", "is_console"]

error_page = render.error_page
is_console = render.is_console


def install(app: FastAPI) -> None:
    """Serve the console at ``/console/`` (``/`` leads there) and its static files."""
    console = APIRouter(prefix=render.PREFIX, include_in_schema=False)
    for module in (auth_pages, project_pages, job_pages, change_pages, settings_pages):
        console.include_router(module.router)
    app.include_router(console)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(render.PREFIX + "/", status_code=303)

    static = StaticFiles(directory=Path(__file__).parent / "static")
    app.mount(render.PREFIX + "/static", static, name="console-static")
