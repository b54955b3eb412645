"""Login and logout: a form that turns a username and password into a browser session."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import Svc
from api.web import render, session
from api.web.session import LoginCsrf, OptionalViewer, Viewer

router = APIRouter()


def _next(raw: str | None) -> str:
    """Where to go after login: a console path only, never another site (open redirect)."""
    if raw and raw.startswith(render.PREFIX + "/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return render.PREFIX + "/"


def _login_form(request: Request, svc: Svc, *, error: str = "", status: int = 200) -> Response:
    nonce = session.new_nonce()
    response = render.page(
        request,
        "login.html",
        None,
        status_code=status,
        login_csrf=session.login_token(svc.secret, nonce),
        next=_next(request.query_params.get("next")),
        error=error,
    )
    session.set_nonce(request, response, nonce)
    return response


@router.get("/login")
async def login_form(request: Request, svc: Svc, viewer: OptionalViewer) -> Response:
    if viewer is not None:
        return render.redirect(_next(request.query_params.get("next")))
    return _login_form(request, svc)


@router.post("/login", dependencies=[LoginCsrf])
async def login(request: Request, svc: Svc) -> Response:
    form = await request.form()
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    user = await svc.accounts.authenticate(username, password) if username and password else None
    if user is None:
        return _login_form(request, svc, error="Unknown username or wrong password.", status=401)
    key, expires_at = await svc.accounts.issue_token(user, session.CLIENT_TYPE)
    response = render.redirect(_next(str(form.get("next") or "")))
    max_age = int((expires_at - svc.clock.now()).total_seconds())
    session.set_session(request, response, key, max_age)
    return response


@router.post("/logout", dependencies=[session.Csrf])
async def logout(request: Request, svc: Svc, _: Viewer) -> Response:
    key = request.cookies.get(session.SESSION_COOKIE)
    if key:
        await svc.accounts.revoke(key)
    response = render.redirect(render.PREFIX + "/login")
    session.clear_session(response)
    return response
