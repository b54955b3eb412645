"""Browser sessions and CSRF tokens for the console.

A session is an ordinary API token of client type ``browser`` (api/adapters/accounts.py), kept in an
HttpOnly, SameSite=Lax cookie scoped to ``/console``. Every POST carries a CSRF token derived from the
session token with HMAC and the server's secret key, so it is never stored and cannot be computed
without the secret. Before login there is no session: the login form is bound to a random ``login
nonce`` cookie instead (double submit, signed the same way).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from api.auth import Principal, person_for_token
from api.context import Services, services
from api.errors import ApiError, PermissionDenied

SESSION_COOKIE = "outpost_session"
NONCE_COOKIE = "outpost_login_nonce"
CSRF_FIELD = "csrf_token"
PATH = "/console"
CLIENT_TYPE = "browser"
REJECTED = "The form has expired or did not come from this site; reload the page and try again."


class LoginRequired(ApiError):
    """The console needs a logged-in session; the error page sends the browser to the login form."""

    code, status = "not_authenticated", 401


class CsrfRejected(PermissionDenied):
    """The form's CSRF token is missing or does not belong to this session."""

    code = "csrf_failed"


def _sign(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"outpost-console:{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(secret: bytes, session_key: str) -> str:
    return _sign(secret, "csrf", session_key)


def login_token(secret: bytes, nonce: str) -> str:
    return _sign(secret, "login", nonce)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(request: Request, response: Response, key: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        key,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(NONCE_COOKIE, path=PATH)


def set_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        NONCE_COOKIE, nonce, max_age=3600, path=PATH, httponly=True, samesite="lax", secure=_secure(request)
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=PATH)


async def optional_viewer(request: Request, svc: Annotated[Services, Depends(services)]) -> Principal | None:
    """The logged-in user of this browser, or None (no cookie, or an expired or revoked session)."""
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return None
    return await person_for_token(svc, key)


async def viewer(principal: Annotated[Principal | None, Depends(optional_viewer)]) -> Principal:
    if principal is None:
        raise LoginRequired("Please log in to use the console.")
    return principal


def _matches(sent: object, expected: str) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(sent, expected)


async def check_csrf(request: Request, svc: Annotated[Services, Depends(services)]) -> None:
    """Every console POST but login: the form's token must be the HMAC of this browser's session."""
    form = await request.form()
    session_key = request.cookies.get(SESSION_COOKIE)
    if not session_key or not _matches(form.get(CSRF_FIELD), csrf_token(svc.secret, session_key)):
        raise CsrfRejected(REJECTED)


async def check_login_csrf(request: Request, svc: Annotated[Services, Depends(services)]) -> None:
    """The login POST: the form's token must be the HMAC of the nonce cookie set with the form."""
    form = await request.form()
    nonce = request.cookies.get(NONCE_COOKIE)
    if not nonce or not _matches(form.get(CSRF_FIELD), login_token(svc.secret, nonce)):
        raise CsrfRejected(REJECTED)


Viewer = Annotated[Principal, Depends(viewer)]
OptionalViewer = Annotated[Principal | None, Depends(optional_viewer)]
Csrf = Depends(check_csrf)
LoginCsrf = Depends(check_login_csrf)
