"""The scheduler's settings (``OUTPOST_*``)."""

from __future__ import annotations

from common.settings import CommonSettings


class SchedulerSettings(CommonSettings):
    service_name: str = "scheduler"
    sweep_interval_s: float = 2.0
    relay: bool = True
