"""Job tokens: one job, one project, one attempt, a deadline; signed with the deployment's secret key.

A job token is accepted only while its job is ``started`` in the same attempt (the API checks the job's
read model), so it dies with the job, or with the attempt when the job is retried, even before its
deadline. It never grants anything outside its project.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

PREFIX = "job."


class InvalidJobToken(Exception):
    """The job token is malformed, forged or expired."""


@dataclass(frozen=True)
class JobClaims:
    job_id: UUID
    project_id: UUID
    expires_at: datetime
    attempt: int = 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(secret: bytes, claims: JobClaims) -> str:
    body = _b64(
        json.dumps(
            {
                "j": str(claims.job_id),
                "p": str(claims.project_id),
                "e": int(claims.expires_at.timestamp()),
                "a": claims.attempt,
            },
            separators=(",", ":"),
        ).encode()
    )
    signature = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    return f"{PREFIX}{body}.{signature}"


def verify(secret: bytes, token: str, now: datetime) -> JobClaims:
    if not token.startswith(PREFIX) or token.count(".") != 2:
        raise InvalidJobToken("not a job token")
    body, signature = token[len(PREFIX) :].split(".")
    expected = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        raise InvalidJobToken("bad signature")
    try:
        raw = json.loads(_unb64(body))
        claims = JobClaims(
            UUID(raw["j"]), UUID(raw["p"]), datetime.fromtimestamp(int(raw["e"]), UTC), int(raw.get("a", 1))
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidJobToken("malformed claims") from exc
    if claims.expires_at <= now:
        raise InvalidJobToken("expired")
    return claims
