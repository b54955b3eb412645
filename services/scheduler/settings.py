"""The scheduler's settings (``OUTPOST_*``)."""

from __future__ import annotations

from pydantic import Field

from common.settings import CommonSettings
from scheduler.domain.rules import DEFAULT_TIMEOUTS_S, Policy


class SchedulerSettings(CommonSettings):
    service_name: str = "scheduler"
    sweep_interval_s: float = 1.0
    relay: bool = True
    job_timeouts_s: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_TIMEOUTS_S))
    job_max_attempts: int = Field(default=3, ge=1)
    retry_backoff_base_s: float = 2.0
    retry_backoff_max_s: float = 60.0
    lease_grace_s: float = Field(
        default=5.0, description="Extra time after a job's timeout before the reaper acts."
    )
    redispatch_s: float = Field(
        default=120.0, description="A queued job nobody started for this long is re-sent."
    )

    def policy(self) -> Policy:
        return Policy(
            timeouts_s=self.job_timeouts_s,
            max_attempts=self.job_max_attempts,
            backoff_base_s=self.retry_backoff_base_s,
            backoff_max_s=self.retry_backoff_max_s,
        )
