"""Pure rules about a project's files shared by the API and the runner."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

DEFAULT_ATTACHMENT_DIRS = ("DCIM",)


def attachment_dirs(project_details: dict[str, Any] | None) -> tuple[str, ...]:
    dirs = (project_details or {}).get("attachment_dirs") or DEFAULT_ATTACHMENT_DIRS
    return tuple(str(d).strip("/") for d in dirs if str(d).strip("/"))


def is_attachment(path: str, dirs: tuple[str, ...]) -> bool:
    """A path inside an attachment dir (``DCIM/a.jpg``); unlike upstream, ``DCIMx.txt`` is not one."""
    return any(path == d or path.startswith(d + "/") for d in dirs)


def package_inputs_hash(files: Iterable[tuple[str, str]], settings: dict[str, Any]) -> str:
    """What a package depends on: every non-attachment file (path, sha256) and the packaging settings."""
    digest = hashlib.sha256()
    for path, sha256 in sorted(files):
        digest.update(f"{path}\0{sha256}\n".encode())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()
