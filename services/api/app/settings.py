"""Outpost's own project settings: job timeouts per type, validated here and recorded as an event."""

from __future__ import annotations

from typing import Any

from api.auth import Principal
from api.context import Services
from api.errors import ValidationError
from common.clock import new_id
from contracts import events as ev

JOB_TYPES = ("process_projectfile", "package", "delta_apply")
MAX_TIMEOUT_S = 24 * 3600


def job_timeouts(project: dict[str, Any]) -> dict[str, float]:
    """The timeouts set on the project; a job type missing here runs with the scheduler's default."""
    return dict((project.get("settings") or {}).get("job_timeouts") or {})


def merge_timeouts(project: dict[str, Any], changes: Any) -> dict[str, float]:
    """The project's timeouts with ``changes`` (job type -> seconds, or None to restore the default)."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationError("job_timeouts must be an object of job type -> seconds.")
    merged = job_timeouts(project)
    for job_type, seconds in changes.items():
        if job_type not in JOB_TYPES:
            raise ValidationError(f"Unknown job type {job_type!r}.")
        if seconds is None:
            merged.pop(job_type, None)
            continue
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 1 <= seconds <= MAX_TIMEOUT_S
        ):
            raise ValidationError(f"The timeout of {job_type} must be between 1 and {MAX_TIMEOUT_S} seconds.")
        merged[job_type] = float(seconds)
    return merged


async def change_timeouts(svc: Services, principal: Principal, project: dict[str, Any], changes: Any) -> None:
    """Record ProjectSettingsChanged with the merged timeouts (the caller has checked the role)."""
    merged = merge_timeouts(project, changes)
    event = ev.ProjectSettingsChanged(
        project_id=project["id"], changed_by=principal.username, settings={"job_timeouts": merged}
    )
    async with svc.store.transaction() as tx:
        await tx.append(
            ev.project_stream(project["id"]), [event], expected_version=None, correlation_id=new_id()
        )
