"""Liveness, readiness and Prometheus-style metrics for operators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from api.auth import Svc
from api.errors import ApiError
from api.http import CompactJSONResponse

router = APIRouter()


@router.get("/healthz")
async def healthz() -> CompactJSONResponse:
    return CompactJSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(svc: Svc) -> CompactJSONResponse:
    try:
        async with svc.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return CompactJSONResponse({"status": "unavailable", "database": repr(exc)}, status_code=503)
    try:
        nats = "ok" if svc.nats.client.is_connected else "unavailable"
    except ApiError:
        nats = "unavailable"
    return CompactJSONResponse({"status": "ok", "database": "ok", "nats": nats})


@router.get("/metrics")
async def metrics(svc: Svc) -> PlainTextResponse:
    async with svc.engine.connect() as conn:
        jobs = (await conn.execute(text("SELECT type, status, count(*) FROM rm_jobs GROUP BY 1, 2"))).all()
        outbox = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
        position = (await conn.execute(text("SELECT coalesce(max(position), 0) FROM events"))).scalar_one()
    lines = [
        "# TYPE outpost_jobs gauge",
        *(f'outpost_jobs{{type="{t}",status="{s}"}} {n}' for t, s, n in jobs),
        "# TYPE outpost_outbox_pending gauge",
        f"outpost_outbox_pending {outbox}",
        "# TYPE outpost_events_position counter",
        f"outpost_events_position {position}",
    ]
    return PlainTextResponse("\n".join(lines) + "\n")
