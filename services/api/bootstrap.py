"""Builds the API: everything is created inside the lifespan, nothing at import time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import web
from api.adapters.accounts import Accounts
from api.adapters.organizations import NotAllowed, Organizations, UnknownAccount
from api.context import Services
from api.entrypoints import (
    accounts,
    collaborators,
    deltas,
    files,
    health,
    jobs,
    organizations,
    packages,
    projects,
    teams,
)
from api.entrypoints import secrets as project_secrets
from api.entrypoints import settings as project_settings
from api.errors import ApiError, ServiceUnavailable
from api.http import CompactJSONResponse
from api.nats_link import NatsLink
from api.settings import ApiSettings
from common import db, logging, service
from common.clock import SystemClock
from common.eventstore import EventStore
from common.readmodels import all_projections
from storage.factory import make_blob_store
from storage.ports import BlobNotFound, BlobStoreError

log = logging.get("api")


def create_app(settings: ApiSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db.make_engine(settings.database_url)
        clock = SystemClock()
        blobs = await make_blob_store(settings, engine)
        app.state.services = Services(
            settings=settings,
            engine=engine,
            store=EventStore(engine, all_projections(), clock),
            accounts=Accounts(engine, clock, timedelta(hours=settings.token_expiry_hours)),
            organizations=Organizations(engine),
            blobs=blobs,
            clock=clock,
            nats=NatsLink(settings.nats_url),
        )
        app.state.services.nats.start()
        stop = asyncio.Event()
        relay_task = asyncio.create_task(_relay(settings, stop)) if settings.relay else None
        log.info("api_started", action="start", host=settings.host, port=settings.port)
        try:
            yield
        finally:
            stop.set()
            if relay_task is not None:
                await relay_task
            await app.state.services.nats.close()
            await engine.dispose()

    app = FastAPI(title="Outpost", lifespan=lifespan, docs_url="/api/docs", openapi_url="/api/openapi.json")
    for module in (
        accounts,
        organizations,
        teams,
        projects,
        project_settings,
        project_secrets,
        collaborators,
        files,
        packages,
        deltas,
        jobs,
    ):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(health.router)
    web.install(app)
    _install_error_handlers(app)
    return app


async def _relay(settings: ApiSettings, stop: asyncio.Event) -> None:
    """Publish the outbox to JetStream for as long as the API runs (one leader among all relays)."""
    nc = await service.connect_nats(settings.nats_url, stop, settings.nats_replicas)
    if nc is None:
        return
    try:
        await service.relay(settings.database_url, nc, stop)
    finally:
        await nc.close()


def _error(request: Request, status: int, code: str, message: str) -> Response:
    """``{"code","message"}`` JSON for the API; an HTML page (or the login form) for the console."""
    if web.is_console(request):
        return web.error_page(request, status, code, message)
    return CompactJSONResponse({"code": code, "message": message}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _error(request, exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 400, "validation_error", "; ".join(str(e.get("msg")) for e in exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = "object_not_found" if exc.status_code == 404 else "api_error"
        return _error(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(UnknownAccount)
    async def unknown_account(request: Request, exc: UnknownAccount) -> Response:
        return _error(request, 400, "api_error", f"There is no user or organization named {exc}.")

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return _error(request, 403, "permission_denied", str(exc))

    @app.exception_handler(BlobNotFound)
    async def blob_missing(request: Request, exc: BlobNotFound) -> Response:
        return _error(request, 404, "object_not_found", f"The file content is missing: {exc}")

    @app.exception_handler(BlobStoreError)
    async def storage_down(request: Request, exc: BlobStoreError) -> Response:
        return _error(request, 503, ServiceUnavailable.code, f"Storage is unavailable: {exc}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled_error", action="request", error=repr(exc), exc_info=exc)
        return _error(request, 500, "unknown_error", "An unexpected error happened; it has been logged.")
