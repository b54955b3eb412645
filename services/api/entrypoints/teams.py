"""Team endpoints (spec section 8): an organization's teams and their members."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.app import teams
from api.auth import CurrentPrincipal, Svc
from api.errors import ValidationError
from api.http import CompactJSONResponse, paginate, read_body

router = APIRouter()
BASE = "/organizations/{org}/teams"


@router.get(f"{BASE}/")
async def list_teams(
    request: Request, org: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    found = await teams.organization(svc, principal, org, manage=False)
    return paginate(request, await teams.list_for(svc, found))


@router.post(f"{BASE}/", status_code=201)
async def create_team(
    request: Request, org: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    found = await teams.organization(svc, principal, org, manage=True)
    body = await read_body(request)
    return CompactJSONResponse(
        await teams.create(svc, found, teams.check_name(body.get("team"))), status_code=201
    )


@router.get(f"{BASE}/{{team}}/")
async def get_team(org: str, team: str, principal: CurrentPrincipal, svc: Svc) -> CompactJSONResponse:
    found = await teams.organization(svc, principal, org, manage=False)
    return CompactJSONResponse(await teams.get(svc, found, team))


@router.put(f"{BASE}/{{team}}/")
@router.patch(f"{BASE}/{{team}}/")
async def rename_team(
    request: Request, org: str, team: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    found = await teams.organization(svc, principal, org, manage=True)
    body = await read_body(request)
    new = teams.check_name(body.get("team"))
    return CompactJSONResponse(await teams.rename(svc, principal, found, team, new))


@router.delete(f"{BASE}/{{team}}/", status_code=204)
async def delete_team(org: str, team: str, principal: CurrentPrincipal, svc: Svc) -> Response:
    found = await teams.organization(svc, principal, org, manage=True)
    await teams.delete(svc, principal, found, team)
    return Response(status_code=204)


@router.get(f"{BASE}/{{team}}/members/")
async def list_members(
    request: Request, org: str, team: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    found = await teams.organization(svc, principal, org, manage=False)
    members = (await teams.get(svc, found, team))["members"]
    return paginate(request, [{"member": member} for member in members])


@router.post(f"{BASE}/{{team}}/members/", status_code=201)
async def add_member(
    request: Request, org: str, team: str, principal: CurrentPrincipal, svc: Svc
) -> CompactJSONResponse:
    found = await teams.organization(svc, principal, org, manage=True)
    member = (await read_body(request)).get("member")
    if not isinstance(member, str) or not member:
        raise ValidationError("member is required.")
    return CompactJSONResponse(await teams.add_member(svc, found, team, member), status_code=201)


@router.delete(f"{BASE}/{{team}}/members/{{member}}/", status_code=204)
async def remove_member(org: str, team: str, member: str, principal: CurrentPrincipal, svc: Svc) -> Response:
    found = await teams.organization(svc, principal, org, manage=True)
    await teams.remove_member(svc, found, team, member)
    return Response(status_code=204)
