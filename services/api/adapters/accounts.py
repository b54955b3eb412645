"""Users and API tokens in PostgreSQL. Passwords are argon2 hashes; tokens are stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.clock import Clock

TOKEN_LENGTH = 100
TOKEN_ALPHABET = string.ascii_letters + string.digits
SINGLE_SESSION_CLIENTS = frozenset({"qfield", "qfieldsync", "unknown"})
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,150}$")


class UserAlreadyExists(Exception):
    """A user with this username exists already."""


class InvalidUsername(Exception):
    """Usernames are 1-150 letters, digits and _ . @ + -."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    is_staff: bool
    is_active: bool

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def guess_client_type(user_agent: str) -> str:
    """QFieldCloud's client types, from the User-Agent prefix."""
    if user_agent.startswith("qfield|"):
        return "qfield"
    if user_agent.startswith("sdk|"):
        return "sdk"
    if user_agent.startswith("cli|"):
        return "cli"
    if re.search(r"QGIS/[34]\d{4}", user_agent):
        return "qfieldsync"
    if "Mozilla" in user_agent or "WebKit" in user_agent:
        return "browser"
    return "unknown"


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


_USER_COLUMNS = "id, username, email, first_name, last_name, is_staff, is_active"


class Accounts:
    def __init__(self, engine: AsyncEngine, clock: Clock, token_expiry: timedelta) -> None:
        self._engine = engine
        self._clock = clock
        self._expiry = token_expiry
        self._hasher = PasswordHasher()

    async def create_user(
        self, username: str, password: str, email: str = "", is_staff: bool = False
    ) -> User:
        if not USERNAME_RE.match(username):
            raise InvalidUsername(username)
        try:
            async with self._engine.begin() as conn:
                row = (
                    await conn.execute(
                        text(
                            "INSERT INTO users (username, email, password_hash, is_staff)"
                            f" VALUES (:u, :e, :h, :s) RETURNING {_USER_COLUMNS}"
                        ),
                        {"u": username, "e": email, "h": self._hasher.hash(password), "s": is_staff},
                    )
                ).one()
        except IntegrityError as exc:
            raise UserAlreadyExists(username) from exc
        return User(**row._mapping)

    async def get(self, username: str) -> User | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text(f"SELECT {_USER_COLUMNS} FROM users WHERE lower(username) = lower(:u)"),
                    {"u": username},
                )
            ).first()
        return None if row is None else User(**row._mapping)

    async def authenticate(self, login: str, password: str) -> User | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        f"SELECT {_USER_COLUMNS}, password_hash FROM users"
                        " WHERE lower(username) = lower(:l) OR (email <> '' AND lower(email) = lower(:l))"
                        " ORDER BY (lower(username) = lower(:l)) DESC LIMIT 1"
                    ),
                    {"l": login},
                )
            ).first()
        if row is None:
            self._hasher.hash(password)  # same cost whether or not the user exists
            return None
        values = dict(row._mapping)
        stored = values.pop("password_hash")
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        user = User(**values)
        return user if user.is_active else None

    async def issue_token(self, user: User, client_type: str) -> tuple[str, datetime]:
        key = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
        now = self._clock.now()
        expires_at = now + self._expiry
        async with self._engine.begin() as conn:
            if client_type in SINGLE_SESSION_CLIENTS:
                await conn.execute(
                    text(
                        "UPDATE auth_tokens SET expires_at = :now"
                        " WHERE user_id = :u AND client_type = :c AND expires_at > :now"
                    ),
                    {"now": now, "u": user.id, "c": client_type},
                )
            await conn.execute(
                text(
                    "INSERT INTO auth_tokens (user_id, key_hash, client_type, created_at, expires_at)"
                    " VALUES (:u, :h, :c, :now, :exp)"
                ),
                {"u": user.id, "h": hash_token(key), "c": client_type, "now": now, "exp": expires_at},
            )
        return key, expires_at

    async def user_for_token(self, key: str) -> User | None:
        session = await self.session_for_token(key)
        return None if session is None else session[0]

    async def session_for_token(self, key: str) -> tuple[User, str] | None:
        """The user of a live token and the token's client type (qfield, sdk, browser, ...)."""
        now = self._clock.now()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    text(
                        "UPDATE auth_tokens t SET last_used_at = :now FROM users u"
                        " WHERE t.key_hash = :h AND t.expires_at > :now AND u.id = t.user_id AND u.is_active"
                        " RETURNING u.id, u.username, u.email, u.first_name, u.last_name, u.is_staff,"
                        " u.is_active, t.client_type"
                    ),
                    {"now": now, "h": hash_token(key)},
                )
            ).first()
        if row is None:
            return None
        fields = dict(row._mapping)
        client_type = str(fields.pop("client_type"))
        return User(**fields), client_type

    async def logout(self, user: User) -> None:
        now = self._clock.now()
        async with self._engine.begin() as conn:
            await conn.execute(
                text("UPDATE auth_tokens SET expires_at = :now WHERE user_id = :u AND expires_at > :now"),
                {"now": now, "u": user.id},
            )

    async def revoke(self, key: str) -> None:
        """End one token (a browser session's logout), leaving the user's other tokens alone."""
        now = self._clock.now()
        async with self._engine.begin() as conn:
            await conn.execute(
                text("UPDATE auth_tokens SET expires_at = :now WHERE key_hash = :h AND expires_at > :now"),
                {"now": now, "h": hash_token(key)},
            )
