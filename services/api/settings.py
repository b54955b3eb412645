"""The API's settings (``OUTPOST_*``)."""

from __future__ import annotations

from pydantic import Field

from common.settings import CommonSettings


class ApiSettings(CommonSettings):
    service_name: str = "api"
    host: str = "127.0.0.1"
    port: int = 8000
    token_expiry_hours: int = 720
    relay: bool = True
    storage_quota_mb: int = Field(
        default=0,
        ge=0,
        description="Storage per account (user or organization) unless set per account; 0: none.",
    )
    file_versions_kept: int = Field(
        default=10, ge=1, description="Versions kept per file; older ones are pruned."
    )
