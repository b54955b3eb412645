"""Project settings (conflict policy, job timeouts; managers) and secrets (names only; admins change them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.app import projects, settings
from api.app import secrets as project_secrets
from api.auth import Svc
from api.errors import ValidationError
from api.web import render
from api.web.project_pages import project_context
from api.web.session import Csrf, Viewer
from common import secrets

router = APIRouter()
POLICIES = {"last_wins": True, "manual": False}


@router.get("/projects/{project_id}/settings/")
async def settings_page(request: Request, project_id: str, viewer: Viewer, svc: Svc) -> Response:
    project, found = await projects.authorize(svc, viewer, project_id, "manager")
    return render.page(
        request,
        "settings.html",
        viewer,
        timeouts=settings.job_timeouts(project),
        job_types=settings.JOB_TYPES,
        max_timeout=settings.MAX_TIMEOUT_S,
        secrets=await project_secrets.names(svc, project["id"]),
        secret_types=secrets.TYPES,
        **project_context(project, found, "settings"),
    )


def _timeouts(form: Any, current: dict[str, float]) -> dict[str, float | None]:
    """The changed timeouts: a number of seconds, or None where a set timeout was cleared."""
    changes: dict[str, float | None] = {}
    for job_type in settings.JOB_TYPES:
        raw = str(form.get(f"timeout-{job_type}") or "").strip()
        if not raw:
            if job_type in current:
                changes[job_type] = None
            continue
        try:
            seconds = float(raw)
        except ValueError as exc:
            raise ValidationError(f"The timeout of {job_type} must be a number of seconds.") from exc
        if current.get(job_type) != seconds:
            changes[job_type] = seconds
    return changes


@router.post("/projects/{project_id}/settings/", dependencies=[Csrf])
async def save_settings(request: Request, project_id: str, viewer: Viewer, svc: Svc) -> Response:
    project, _ = await projects.authorize(svc, viewer, project_id, "manager")
    form = await request.form()
    policy = str(form.get("conflict_policy") or "")
    if policy not in POLICIES:
        raise ValidationError("Choose a conflict policy: last wins or manual.")
    changes = _timeouts(form, settings.job_timeouts(project))
    if changes:
        settings.merge_timeouts(project, changes)  # refuse a bad timeout before recording anything
    if POLICIES[policy] != project["overwrite_conflicts"]:
        await projects.update(svc, viewer, project, {"overwrite_conflicts": POLICIES[policy]}, None)
    if changes:
        await settings.change_timeouts(svc, viewer, project, changes)
    return render.redirect(f"{render.PREFIX}/projects/{project['id']}/settings/?notice=settings")


@router.post("/projects/{project_id}/secrets/", dependencies=[Csrf])
async def set_secret(request: Request, project_id: str, viewer: Viewer, svc: Svc) -> Response:
    project, _ = await projects.authorize(svc, viewer, project_id, "admin")
    form = await request.form()
    name, kind = str(form.get("name") or "").strip(), str(form.get("type") or "envvar")
    await project_secrets.put(svc, viewer, project, name=name, kind=kind, value=form.get("value"))
    return render.redirect(f"{render.PREFIX}/projects/{project['id']}/settings/?notice=secret-set")


@router.post("/projects/{project_id}/secrets/{name}/delete", dependencies=[Csrf])
async def delete_secret(project_id: str, name: str, viewer: Viewer, svc: Svc) -> Response:
    project, _ = await projects.authorize(svc, viewer, project_id, "admin")
    await project_secrets.remove(svc, viewer, project, name)
    return render.redirect(f"{render.PREFIX}/projects/{project['id']}/settings/?notice=secret-deleted")
