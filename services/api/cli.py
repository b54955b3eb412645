"""Account administration used by ``outpost user create|quota`` and ``outpost up`` (the demo user)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text

from api.adapters.accounts import Accounts, UserAlreadyExists
from common import db
from common.clock import SystemClock


def ensure_user(
    database_url: str, username: str, password: str, email: str = "", *, staff: bool = False
) -> bool:
    """Create the user; False if it exists already (its password is left alone)."""

    async def create() -> bool:
        engine = db.make_engine(database_url, pool_size=1)
        try:
            await Accounts(engine, SystemClock(), timedelta(days=30)).create_user(
                username, password, email, staff
            )
            return True
        except UserAlreadyExists:
            return False
        finally:
            await engine.dispose()

    return asyncio.run(create())


def set_quota(database_url: str, account: str, megabytes: int | None) -> bool:
    """Set (or with None, clear) the storage quota of a user or organization; False if there is none."""

    async def update() -> bool:
        engine = db.make_engine(database_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                found = await conn.execute(
                    text(
                        "UPDATE users SET storage_quota_bytes = :q"
                        " WHERE lower(username) = lower(:u) RETURNING id"
                    ),
                    {"q": None if megabytes is None else megabytes * 1024 * 1024, "u": account},
                )
                return found.first() is not None
        finally:
            await engine.dispose()

    return asyncio.run(update())
