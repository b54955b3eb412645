"""The storage service's settings (``OUTPOST_*``)."""

from __future__ import annotations

from common.settings import CommonSettings


class StorageSettings(CommonSettings):
    service_name: str = "storage"
    gc_interval_s: float = 300.0
    gc_grace_s: float = 6 * 3600.0
