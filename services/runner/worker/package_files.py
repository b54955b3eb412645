"""The files of a finished package: which ones, in which order, with sizes and checksums.

The order is the upload order: everything else first, the ``.qgs``/``.qgz`` last, so a client that
sees the project file knows the data it references is already there (as QFieldCloud does). Hidden
files and ``*~`` backups are never part of a package.
"""

from __future__ import annotations

import hashlib
import pathlib
import typing

CHUNK_SIZE = 1024 * 1024
PROJECT_SUFFIXES = (".qgs", ".qgz")


def is_packaged(relative: pathlib.PurePosixPath) -> bool:
    """Hidden files/dirs and editor backups are skipped, like the SDK's upload does."""
    return not any(part.startswith(".") for part in relative.parts) and not relative.name.endswith("~")


def ordered_files(export_dir: pathlib.Path) -> list[tuple[str, pathlib.Path]]:
    """(relative POSIX name, path) of every package file, sorted, project files last."""
    found = []
    for path in export_dir.rglob("*"):
        relative = pathlib.PurePosixPath(path.relative_to(export_dir).as_posix())
        if path.is_file() and is_packaged(relative):
            found.append((str(relative), path))
    return sorted(found, key=lambda item: (item[0].lower().endswith(PROJECT_SUFFIXES), item[0]))


def sha256_of(path: pathlib.Path) -> str:
    """SHA-256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def describe(export_dir: pathlib.Path) -> list[dict[str, typing.Any]]:
    """``[{"name", "size", "sha256"}]`` in upload order."""
    return [
        {"name": name, "size": path.stat().st_size, "sha256": sha256_of(path)}
        for name, path in ordered_files(export_dir)
    ]
