from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from common import jobtokens

pytestmark = pytest.mark.unit
SECRET = b"k" * 32
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def claims(expires_in: float = 60) -> jobtokens.JobClaims:
    return jobtokens.JobClaims(uuid.uuid4(), uuid.uuid4(), NOW + timedelta(seconds=expires_in))


def test_round_trip() -> None:
    original = claims()
    assert jobtokens.verify(SECRET, jobtokens.mint(SECRET, original), NOW) == original


def test_expired_token_is_refused() -> None:
    token = jobtokens.mint(SECRET, claims(expires_in=-1))
    with pytest.raises(jobtokens.InvalidJobToken, match="expired"):
        jobtokens.verify(SECRET, token, NOW)


def test_other_secret_is_refused() -> None:
    token = jobtokens.mint(SECRET, claims())
    with pytest.raises(jobtokens.InvalidJobToken, match="signature"):
        jobtokens.verify(b"other" * 8, token, NOW)


@pytest.mark.parametrize("token", ["", "job.", "job.a.b.c", "job.abc.def", "Token x"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(jobtokens.InvalidJobToken):
        jobtokens.verify(SECRET, token, NOW)


def test_tampered_claims_are_refused() -> None:
    token = jobtokens.mint(SECRET, claims())
    body, signature = token.removeprefix("job.").split(".")
    forged = jobtokens.mint(b"x", claims()).removeprefix("job.").split(".")[0]
    with pytest.raises(jobtokens.InvalidJobToken):
        jobtokens.verify(SECRET, f"job.{forged}.{signature}", NOW)
    assert body != forged
