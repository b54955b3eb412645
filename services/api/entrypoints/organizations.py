"""Users, organizations and members (spec sections 2 and 8)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.adapters.accounts import InvalidUsername, UserAlreadyExists
from api.adapters.organizations import MEMBER_ROLES, Organization
from api.app import quota
from api.auth import CurrentUser, Svc
from api.context import Services
from api.entrypoints.accounts import user_json
from api.errors import ObjectNotFound, PermissionDenied, UserExists, ValidationError
from api.http import CompactJSONResponse, as_bool, paginate, read_body

router = APIRouter()


@router.post("/users/", status_code=201)
async def create_user(request: Request, user: CurrentUser, svc: Svc) -> CompactJSONResponse:
    """Staff only (SDK 0.18 ``create-user``); 409 when the name is taken."""
    if not user.is_staff:
        raise PermissionDenied("Only staff users can create users.")
    body = await read_body(request)
    username, password = str(body.get("username") or ""), str(body.get("password") or "")
    if not username or not password:
        raise ValidationError("username and password are required.")
    try:
        created = await svc.accounts.create_user(username, password, str(body.get("email") or ""))
    except InvalidUsername as exc:
        raise ValidationError("Usernames are 1-150 letters, digits and _ . @ + -.") from exc
    except UserAlreadyExists as exc:
        raise UserExists(f"A user named {username!r} exists already.") from exc
    return CompactJSONResponse(user_json(created), status_code=201)


@router.post("/organizations/", status_code=201)
async def create_organization(request: Request, user: CurrentUser, svc: Svc) -> CompactJSONResponse:
    """Any user may create an organization; they become its owner."""
    body = await read_body(request)
    name = str(body.get("username") or body.get("name") or "")
    try:
        org = await svc.organizations.create(name, user.username, str(body.get("email") or ""))
    except InvalidUsername as exc:
        raise ValidationError("Organization names are 1-150 letters, digits and _ . @ + -.") from exc
    except UserAlreadyExists as exc:
        raise UserExists(f"An account named {name!r} exists already.") from exc
    return CompactJSONResponse(await _org_json(svc, org, "owner"), status_code=201)


@router.get("/users/{username}/organizations/")
async def user_organizations(username: str, user: CurrentUser, svc: Svc) -> CompactJSONResponse:
    if username.lower() != user.username.lower():
        raise PermissionDenied("You can only list your own organizations.")
    items = [await _org_json(svc, org, role) for org, role in await svc.organizations.of_user(user.username)]
    return CompactJSONResponse(items)


@router.get("/subscriptions/{username}/current/")
async def current_subscription(username: str, user: CurrentUser, svc: Svc) -> CompactJSONResponse:
    """Storage of the account's projects and its quota (api/app/quota.py); Outpost has no plans."""
    if username.lower() != user.username.lower():
        org = await svc.organizations.get(username)
        if org is None or await svc.organizations.role_of(org, user.username) not in ("owner", "admin"):
            raise PermissionDenied("You can only see your own subscription or your organizations'.")
    storage = await quota.of(svc, username)
    limit = storage.limit
    return CompactJSONResponse(
        {
            "plan_display_name": "Self-hosted",
            "status": "active_paid",
            "storage_used_bytes": storage.used,
            "active_storage_total_bytes": limit,
            "plan_storage_threshold_warning_bytes": None if limit is None else limit * 9 // 10,
            "plan_storage_threshold_critical_bytes": None if limit is None else limit * 99 // 100,
            "is_storage_unlimited": limit is None,
        }
    )


async def _org_json(svc: Services, org: Organization, role: str) -> dict[str, Any]:
    return {
        "username": org.username,
        "type": 2,
        "email": org.email,
        "avatar_url": None,
        "members": [m["member"] for m in await svc.organizations.members(org)],
        "organization_owner": org.owner,
        "membership_role": "admin" if role == "owner" else role,
        "membership_role_origin": "organization_owner" if role == "owner" else "organization_member",
        "membership_is_public": True,
    }


async def _org_for(svc: Services, name: str, me: str, admin: bool) -> Organization:
    org = await svc.organizations.get(name)
    if org is None:
        raise ObjectNotFound(f"No organization named {name!r}.")
    role = await svc.organizations.role_of(org, me)
    if role is None or (admin and role not in ("owner", "admin")):
        raise PermissionDenied(f"You need to be an admin of {org.username!r} for this.")
    return org


@router.get("/members/{org_name}/")
async def list_members(request: Request, org_name: str, user: CurrentUser, svc: Svc) -> CompactJSONResponse:
    org = await _org_for(svc, org_name, user.username, admin=False)
    return paginate(request, await svc.organizations.members(org))


@router.post("/members/{org_name}/", status_code=201)
async def add_member(request: Request, org_name: str, user: CurrentUser, svc: Svc) -> CompactJSONResponse:
    org = await _org_for(svc, org_name, user.username, admin=True)
    body = await read_body(request)
    member, role = str(body.get("member") or ""), body.get("role")
    if not member or role not in MEMBER_ROLES:
        raise ValidationError("member is required and role must be admin or member.")
    try:
        await svc.organizations.add_member(
            org, member, str(role), as_bool(body.get("is_public"), "is_public")
        )
    except UserAlreadyExists as exc:
        raise ValidationError(f"{member!r} is already a member of {org.username!r}.") from exc
    return CompactJSONResponse(await _member(svc, org, member), status_code=201)


@router.get("/members/{org_name}/{member}/")
async def get_member(org_name: str, member: str, user: CurrentUser, svc: Svc) -> CompactJSONResponse:
    org = await _org_for(svc, org_name, user.username, admin=False)
    return CompactJSONResponse(await _member(svc, org, member))


@router.patch("/members/{org_name}/{member}/")
@router.put("/members/{org_name}/{member}/")
async def change_member(
    request: Request, org_name: str, member: str, user: CurrentUser, svc: Svc
) -> CompactJSONResponse:
    org = await _org_for(svc, org_name, user.username, admin=True)
    body = await read_body(request)
    role = body.get("role")
    if role is not None and role not in MEMBER_ROLES:
        raise ValidationError("role must be admin or member.")
    is_public = as_bool(body["is_public"], "is_public") if "is_public" in body else None
    if not await svc.organizations.change_member(org, member, role, is_public):
        raise ObjectNotFound(f"{member!r} is not a member of {org.username!r}.")
    return CompactJSONResponse(await _member(svc, org, member))


@router.delete("/members/{org_name}/{member}/", status_code=204)
async def remove_member(org_name: str, member: str, user: CurrentUser, svc: Svc) -> Response:
    org = await _org_for(svc, org_name, user.username, admin=True)
    if not await svc.organizations.remove_member(org, member):
        raise ObjectNotFound(f"{member!r} is not a member of {org.username!r}.")
    return Response(status_code=204)


async def _member(svc: Services, org: Organization, member: str) -> dict[str, Any]:
    for item in await svc.organizations.members(org):
        if str(item["member"]).lower() == member.lower():
            return item
    raise ObjectNotFound(f"{member!r} is not a member of {org.username!r}.")
