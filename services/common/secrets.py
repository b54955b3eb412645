"""Project secrets: encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The encryption key is derived from the deployment's secret key with HKDF, so one setting protects
both job tokens and secrets, and neither key can be computed from the other.
"""

from __future__ import annotations

import base64
import configparser
import re
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]{1,127}$")
TYPES = ("envvar", "pgservice")
MAX_VALUE_BYTES = 64 * 1024
RESERVED = frozenset(
    {"PATH", "HOME", "TMPDIR", "PYTHONPATH", "XDG_RUNTIME_DIR", "QT_QPA_PLATFORM", "PGSERVICEFILE"}
)


class InvalidSecret(Exception):
    """The secret's name, type or value is not acceptable; the message says which and why."""


class UndecryptableSecret(Exception):
    """A stored secret cannot be decrypted: the deployment's secret key changed."""


@dataclass(frozen=True)
class Secret:
    name: str
    type: str
    value: str


def cipher(secret_key: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"outpost", info=b"project-secrets").derive(
        secret_key
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def validate(name: str, kind: str, value: str) -> None:
    if not NAME_RE.match(name) or name in RESERVED:
        raise InvalidSecret(
            "name: 2-128 upper-case letters, digits and _, starting with a letter, not a reserved name."
        )
    if kind not in TYPES:
        raise InvalidSecret("type must be envvar or pgservice.")
    if not value or len(value.encode()) > MAX_VALUE_BYTES:
        raise InvalidSecret(f"value must be 1 to {MAX_VALUE_BYTES} bytes.")
    if kind == "pgservice":
        parser = configparser.ConfigParser()
        try:
            parser.read_string(value)
        except configparser.Error as exc:
            raise InvalidSecret(f"A pgservice value must be a pg_service.conf section: {exc}") from exc
        if len(parser.sections()) != 1:
            raise InvalidSecret("A pgservice value must hold exactly one [service] section.")


async def load_for_job(conn: AsyncConnection, fernet: Fernet, project_id: object) -> list[Secret]:
    rows = await conn.execute(
        text("SELECT name, type, ciphertext FROM project_secrets WHERE project_id = :p ORDER BY name"),
        {"p": project_id},
    )
    found = []
    for row in rows:
        try:
            value = fernet.decrypt(bytes(row.ciphertext)).decode()
        except InvalidToken as exc:
            raise UndecryptableSecret(row.name) from exc
        found.append(Secret(row.name, row.type, value))
    return found


def pg_service_file(secrets: list[Secret]) -> str:
    return "".join("\n" + s.value.strip() + "\n" for s in secrets if s.type == "pgservice")


def redact(textual: str, values: list[str]) -> str:
    """Every occurrence of a secret value (and of each of its lines) replaced by ``***``."""
    for value in sorted(_fragments(values), key=len, reverse=True):
        textual = textual.replace(value, "***")
    return textual


def _fragments(values: list[str]) -> set[str]:
    pieces = set()
    for value in values:
        pieces.add(value)
        for line in value.splitlines():
            if len(line.strip()) >= 4:
                pieces.add(line.strip())
            key, sep, rest = line.partition("=")
            if sep and len(rest.strip()) >= 4 and key.strip().lower() in ("password", "pass", "passwd"):
                pieces.add(rest.strip())
    return {p for p in pieces if p}
