"""The API's settings (``OUTPOST_*``)."""

from __future__ import annotations

from common.settings import CommonSettings


class ApiSettings(CommonSettings):
    service_name: str = "api"
    host: str = "127.0.0.1"
    port: int = 8000
    storage_backend: str = "postgres"
    token_expiry_hours: int = 720
    relay: bool = True
