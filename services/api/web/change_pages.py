"""Changes: every delta QField pushed with its status, conflicts side by side, "Save all" and "Apply".

QFieldCloud's changes page asks the manager to "choose the desired action to reapply the changes, then
click Save all". Here each conflict shows base, current and incoming values per field; the actions are
the ones the API offers (``POST /api/v1/deltas/<pid>/resolve/``): apply incoming, keep current, or merge
with values typed in. "Save all" records every chosen resolution at once through the same use case.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from api.app import deltas, projects
from api.app import jobs as job_requests
from api.auth import Svc
from api.errors import ValidationError
from api.http import TRUE, as_bool
from api.web import render
from api.web.project_pages import project_context
from api.web.session import Csrf, Viewer

router = APIRouter()
GEOMETRY = "geometry"


def _card(delta: dict[str, Any]) -> dict[str, Any]:
    content = delta["content"] or {}
    feedback = delta["last_feedback"] or {}
    return {
        **delta,
        "layer": content.get("localLayerName") or content.get("sourceLayerId") or "",
        "method": content.get("method") or "",
        "pk": content.get("sourcePk") or content.get("localPk") or "",
        "message": feedback.get("msg") or "",
        "conflicts": [{**c, "suggested": _suggested(c)} for c in feedback.get("conflicts") or []]
        if delta["last_status"] == "conflict"
        else [],
    }


def _suggested(conflict: dict[str, Any]) -> str:
    """What the merge input starts with: the incoming value (else the current one) as text."""
    value = conflict.get("incoming") if conflict.get("incoming") is not None else conflict.get("current")
    return "" if value is None else render.cell(value)


@router.get("/projects/{project_id}/changes/")
async def changes_page(request: Request, project_id: str, viewer: Viewer, svc: Svc) -> Response:
    project, found = await projects.authorize(svc, viewer, project_id, "reporter")
    cards = [_card(d) for d in await deltas.listing(svc, project["id"])]
    cards.reverse()  # newest first, as the jobs
    return render.page(
        request,
        "changes.html",
        viewer,
        deltas=cards,
        conflicts=[c for c in cards if c["conflicts"]],
        pending=sum(1 for c in cards if c["last_status"] == "pending"),
        **project_context(project, found, "changes"),
    )


def coerce(raw: str, like: Any) -> Any:
    """A typed-in merge value, as the type of the value it replaces; empty means NULL for non-text."""
    if isinstance(like, bool):
        return as_bool(raw.strip(), "merged value")
    if raw.strip() == "" and not isinstance(like, str):
        return None
    try:
        if isinstance(like, int):
            return int(raw.strip())
        if isinstance(like, float):
            return float(raw.strip())
    except ValueError as exc:
        raise ValidationError(f"{raw!r} is not a number.") from exc
    return raw


def _merged(form: FormData, delta: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    merged: dict[str, Any] = {"attributes": attributes}
    for index, conflict in enumerate(delta["conflicts"]):
        raw = form.get(f"merged-{delta['id']}-{index}")
        if not isinstance(raw, str):
            raise ValidationError(f"The merged value of {conflict['field']!r} is missing.")
        like = conflict["incoming"] if conflict["incoming"] is not None else conflict["current"]
        if conflict["field"] == GEOMETRY:
            merged[GEOMETRY] = raw.strip() or None
        else:
            attributes[conflict["field"]] = coerce(raw, like)
    return merged


def resolutions(form: FormData, conflicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's ``resolutions`` from the form: one per conflict whose action was chosen."""
    chosen = []
    for delta in conflicts:
        action = form.get(f"resolution-{delta['id']}")
        if not action:
            continue
        item: dict[str, Any] = {"delta_id": delta["id"], "resolution": action}
        if action == "merge":
            item["merged"] = _merged(form, delta)
        chosen.append(item)
    if not chosen:
        raise ValidationError("Choose an action for at least one conflict, then click Save all.")
    return chosen


@router.post("/projects/{project_id}/changes/resolve", dependencies=[Csrf])
async def save_all(request: Request, project_id: str, viewer: Viewer, svc: Svc) -> Response:
    project, _ = await projects.authorize(svc, viewer, project_id, "manager")
    form = await request.form()
    conflicts = [_card(d) for d in await deltas.listing(svc, project["id"]) if d["last_status"] == "conflict"]
    await deltas.resolve(svc, viewer, project, resolutions(form, conflicts))
    notice = "resolved"
    if form.get("apply") in TRUE:
        await job_requests.request_job(svc, viewer, project["id"], "delta_apply", force=False, params={})
        notice = "resolved-applied"
    return render.redirect(f"{render.PREFIX}/projects/{project['id']}/changes/?notice={notice}")


@router.post("/projects/{project_id}/changes/apply", dependencies=[Csrf])
async def apply_pending(project_id: str, viewer: Viewer, svc: Svc) -> Response:
    """QFieldCloud's "Apply pending changes": a delta_apply job over every pending delta."""
    project, _ = await projects.authorize(svc, viewer, project_id, "reporter")
    if not project["project_file"]:
        raise deltas.NoQgisProject("The project has no QGIS project file; deltas cannot be applied to it.")
    await job_requests.request_job(svc, viewer, project["id"], "delta_apply", force=False, params={})
    return render.redirect(f"{render.PREFIX}/projects/{project['id']}/changes/?notice=applying")
