"""Account administration used by ``outpost user create`` and ``outpost up`` (the demo user)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

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
