"""Auth, user and server endpoints (spec section 2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError

from api.adapters.accounts import User, guess_client_type
from api.auth import CurrentUser, OptionalPrincipal, Svc
from api.errors import AuthenticationFailed, ValidationError
from api.http import CompactJSONResponse, read_body
from storage.ports import BlobStoreError

router = APIRouter()
PROVIDERS = [{"type": "credentials", "id": "credentials", "name": "Username / Password"}]


def user_json(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "type": 1,
        "full_name": user.full_name,
        "email": user.email,
        "avatar_url": None,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


@router.post("/auth/login/")
@router.post("/auth/token/")
async def login(request: Request, svc: Svc) -> CompactJSONResponse:
    body = await read_body(request)
    login_name = body.get("username") or body.get("email")
    password = body.get("password")
    if not login_name or not password:
        raise ValidationError("username and password are required.")
    user = await svc.accounts.authenticate(str(login_name), str(password))
    if user is None:
        raise AuthenticationFailed("Unable to log in with provided credentials.")
    client_type = guess_client_type(request.headers.get("user-agent", ""))
    key, expires_at = await svc.accounts.issue_token(user, client_type)
    return CompactJSONResponse(
        {"token": key, "expires_at": expires_at.isoformat(), **user_json(user), "type": "1"}
    )


@router.get("/auth/user/")
async def current_user(user: CurrentUser) -> CompactJSONResponse:
    return CompactJSONResponse(user_json(user))


@router.post("/auth/logout/")
@router.get("/auth/logout/")
async def logout(principal: OptionalPrincipal, svc: Svc) -> CompactJSONResponse:
    if principal is not None and principal.user is not None:
        await svc.accounts.logout(principal.user)
    return CompactJSONResponse({"detail": "Successfully logged out."})


@router.get("/auth/providers/")
async def providers(_: OptionalPrincipal) -> CompactJSONResponse:
    return CompactJSONResponse(PROVIDERS)


@router.get("/server/info/")
async def server_info(_: OptionalPrincipal) -> CompactJSONResponse:
    return CompactJSONResponse(
        {
            "whitelabel": {"site_title": "Outpost", "logo_main": "", "logo_navbar": "", "favicon": ""},
            "signup_url": "",
            "auth_providers": PROVIDERS,
        }
    )


@router.get("/status/")
async def status(svc: Svc, _: OptionalPrincipal) -> CompactJSONResponse:
    """Open to all; a bad token header still fails (QFieldCloud authenticates every request)."""
    try:
        await svc.blobs.check()
        storage = "ok"
    except BlobStoreError:
        storage = "error"
    try:
        async with svc.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
        database = "ok"
    except SQLAlchemyError:
        database = "error"
    return CompactJSONResponse({"database": database, "storage": storage, "geodb": database})
