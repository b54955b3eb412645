"""Who is calling: a user with an API token, or a QGIS worker with a job token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text

from api.adapters.accounts import User
from api.context import Services, services
from api.errors import NotAuthenticated, PermissionDenied, TokenAuthenticationFailed
from common import jobtokens


@dataclass(frozen=True)
class Principal:
    """A user, or a worker acting for one job of one project (``job`` set, ``user`` is the job's creator)."""

    username: str
    user: User | None = None
    job: jobtokens.JobClaims | None = None
    client_type: str = ""  # of the user's token: qfield, sdk, browser, ...


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if not header:
        return None
    keyword, _, key = header.partition(" ")
    if keyword.lower() != "token" or not key.strip():
        raise TokenAuthenticationFailed("Invalid token header.")
    return key.strip()


async def optional_principal(
    request: Request, svc: Annotated[Services, Depends(services)]
) -> Principal | None:
    key = _token(request)
    if key is None:
        return None
    if key.startswith(jobtokens.PREFIX):
        return await _job_principal(svc, key)
    found = await person_for_token(svc, key)
    if found is None:
        raise TokenAuthenticationFailed("Invalid token.")
    return found


async def person_for_token(svc: Services, key: str) -> Principal | None:
    """The person behind a live API token (the console's session is one), or None."""
    session = await svc.accounts.session_for_token(key)
    if session is None:
        return None
    user, client_type = session
    return Principal(username=user.username, user=user, client_type=client_type)


async def _job_principal(svc: Services, key: str) -> Principal:
    try:
        claims = jobtokens.verify(svc.secret, key, svc.clock.now())
    except jobtokens.InvalidJobToken as exc:
        raise TokenAuthenticationFailed(f"Invalid job token: {exc}.") from exc
    async with svc.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, attempt, created_by FROM rm_jobs WHERE id = :id AND project_id = :p"),
                {"id": claims.job_id, "p": claims.project_id},
            )
        ).first()
    if row is None or row.status != "started" or row.attempt != claims.attempt:
        raise TokenAuthenticationFailed("The job attempt of this token is not running.")
    return Principal(username=row.created_by, job=claims)


async def principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise NotAuthenticated("Authentication credentials were not provided.")
    return principal


async def person(principal: Annotated[Principal, Depends(principal)]) -> Principal:
    """Endpoints for people only: a job token gets 403 here, it is not a user session."""
    if principal.user is None:
        raise PermissionDenied("Job tokens are accepted only on their project's files.")
    return principal


async def user_principal(principal: Annotated[Principal, Depends(person)]) -> User:
    assert principal.user is not None
    return principal.user


CurrentPrincipal = Annotated[Principal, Depends(person)]
PersonOrJob = Annotated[Principal, Depends(principal)]
CurrentUser = Annotated[User, Depends(user_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
Svc = Annotated[Services, Depends(services)]
