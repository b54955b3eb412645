"""Health and metrics over HTTP for the services without an HTTP server of their own (scheduler, runner,
storage); the API serves the same paths itself.

- ``GET /healthz``: 200 ``{"status":"ok","checks":{...}}`` when every check passes, else 503 naming the
  failing ones (a container orchestrator restarts or stops routing to the service).
- ``GET /metrics``: the service's counters and gauges in the Prometheus text format, names prefixed
  ``outpost_<service>_``.

Off unless ``OUTPOST_HEALTH_PORT`` is set (compose.yaml sets 9100); ``OUTPOST_HEALTH_HOST`` defaults to
127.0.0.1. A deliberately small HTTP/1.0 responder on asyncio streams: two read-only paths, no framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from common import logging

log = logging.get("health")
Check = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_S = 2.0
MAX_REQUEST_BYTES = 8192


@dataclass
class Metrics:
    """Counters (by labels) and gauges (read when scraped) of one service."""

    prefix: str
    _counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    _gauges: dict[str, Callable[[], float]] = field(default_factory=dict)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        self._counters[key] = self._counters.get(key, 0.0) + amount

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        self._gauges[name] = read

    def value(self, name: str, **labels: str) -> float:
        return self._counters.get((name, tuple(sorted(labels.items()))), 0.0)

    def render(self) -> str:
        lines = []
        for name in sorted({name for name, _ in self._counters}):
            lines.append(f"# TYPE {self.prefix}_{name} counter")
            for (counter, labels), amount in sorted(self._counters.items()):
                if counter == name:
                    text = ",".join(f'{key}="{value}"' for key, value in labels)
                    lines.append(
                        f"{self.prefix}_{name}{{{text}}} {amount:g}"
                        if text
                        else f"{self.prefix}_{name} {amount:g}"
                    )
        for name, read in sorted(self._gauges.items()):
            lines.append(f"# TYPE {self.prefix}_{name} gauge")
            lines.append(f"{self.prefix}_{name} {read():g}")
        return "\n".join(lines) + "\n"


async def _run_check(check: Check) -> bool:
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except Exception:
        return False


async def serve(
    host: str, port: int, checks: dict[str, Check], metrics: Metrics, stop: asyncio.Event
) -> None:
    """Answer /healthz and /metrics on ``host:port`` until ``stop`` is set."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            method, path, *_ = head[:MAX_REQUEST_BYTES].decode("latin-1").split(" ", 2)
            status, content_type, body = await _respond(method, path.split("?", 1)[0], checks, metrics)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, content_type, body = 400, "text/plain", b"bad request\n"
        writer.write(
            f"HTTP/1.0 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, host, port)
    log.info("health_listening", action="start", host=host, port=port)
    async with server:
        await stop.wait()


async def _respond(
    method: str, path: str, checks: dict[str, Check], metrics: Metrics
) -> tuple[int, str, bytes]:
    if method != "GET":
        return 405, "text/plain", b"only GET\n"
    if path == "/healthz":
        results = dict(
            zip(checks, await asyncio.gather(*(_run_check(c) for c in checks.values())), strict=True)
        )
        healthy = all(results.values())
        body = {
            "status": "ok" if healthy else "unavailable",
            "checks": {k: "ok" if v else "failing" for k, v in results.items()},
        }
        return (200 if healthy else 503), "application/json", json.dumps(body, separators=(",", ":")).encode()
    if path == "/metrics":
        return 200, "text/plain; version=0.0.4", metrics.render().encode()
    return 404, "text/plain", b"not found\n"
