"""Project file validity check, done before QGIS touches the file.

QGIS reports a broken .qgs only as "unable to read", so the XML is parsed here first to give the
user a line and column. A .qgz is an untrusted zip: its members are checked for path traversal,
zip bombs and CRC errors, and it must hold exactly one .qgs (QGIS extracts it itself later).
"""

from __future__ import annotations

import pathlib
import zipfile
from xml.parsers import expat

from runner.worker import errors

READ_CHUNK = 1024 * 1024
MAX_QGZ_TOTAL_SIZE = 2 * 1024**3
MAX_COMPRESSION_RATIO = 200
RATIO_CHECK_MIN_SIZE = 10 * 1024**2


def check_project_file(project_dir: pathlib.Path, project_file: str) -> pathlib.Path:
    """Validate the project file and return its path; raise a ``WorkerError`` when unusable."""
    path = project_path(project_dir, project_file)
    suffix = path.suffix.lower()
    if suffix == ".qgs":
        check_qgs(path, project_file)
    elif suffix == ".qgz":
        check_qgz(path, project_file)
    else:
        raise errors.InvalidProjectFileError(
            f'Invalid project file extension "{path.suffix}" of "{project_file}": expected .qgs or .qgz'
        )
    return path


def project_path(project_dir: pathlib.Path, project_file: str) -> pathlib.Path:
    """Resolve the project file inside ``project_dir``; a missing file is FILE_NOT_FOUND."""
    root = project_dir.resolve()
    path = (root / project_file).resolve()
    if not project_file or pathlib.PurePath(project_file).is_absolute() or not path.is_relative_to(root):
        raise errors.InvalidProjectFileError(f'Invalid project file name "{project_file}"')
    if not path.is_file():
        raise errors.ProjectFileNotFoundError(f'Project file "{project_file}" does not exist')
    return path


def _reject_entities(*_args: object) -> None:
    raise errors.InvalidProjectFileError("XML entity declarations are not allowed in a QGIS project file")


def check_qgs(path: pathlib.Path, display_name: str) -> None:
    """Parse the whole XML (streaming); report the expat error with a 1-based line and column."""
    prefix = f'Invalid QGIS project file "{display_name}"'
    parser = expat.ParserCreate()
    parser.EntityDeclHandler = _reject_entities
    try:
        with path.open("rb") as source:
            while chunk := source.read(READ_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError as error:
        where = f"at line {error.lineno}, column {error.offset + 1}"
        reason = expat.ErrorString(error.code)
        raise errors.InvalidProjectFileError(f"{prefix}: {reason} {where}") from error
    except errors.InvalidProjectFileError as error:
        raise errors.InvalidProjectFileError(f"{prefix}: {error}") from error


def _unsafe_member(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def check_qgz(path: pathlib.Path, display_name: str) -> None:
    """Check the zip structure, sizes and CRCs; exactly one .qgs member is required."""
    prefix = f'Invalid QGIS project file "{display_name}"'
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_members(members, prefix)
            broken = archive.testzip()  # safe now: reads are bounded by the declared sizes checked above
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError) as error:
        raise errors.InvalidProjectFileError(f"{prefix}: not a valid zip archive ({error})") from error
    if broken is not None:
        raise errors.InvalidProjectFileError(f'{prefix}: corrupt member "{broken}"')
    qgs = [m.filename for m in members if not m.is_dir() and m.filename.lower().endswith(".qgs")]
    if len(qgs) != 1:
        raise errors.InvalidProjectFileError(f"{prefix}: expected exactly one .qgs file, found {len(qgs)}")


def _check_members(members: list[zipfile.ZipInfo], prefix: str) -> None:
    """Reject traversal names and zip bombs using the central directory only (nothing is inflated)."""
    total = 0
    for member in members:
        if _unsafe_member(member.filename):
            raise errors.InvalidProjectFileError(f'{prefix}: unsafe member path "{member.filename}"')
        total += member.file_size
        if total > MAX_QGZ_TOTAL_SIZE:
            raise errors.InvalidProjectFileError(f"{prefix}: total uncompressed size is too large")
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_CHECK_MIN_SIZE and ratio > MAX_COMPRESSION_RATIO:
            raise errors.InvalidProjectFileError(
                f'{prefix}: member "{member.filename}" has a suspicious compression ratio ({ratio:.0f}:1)'
            )
