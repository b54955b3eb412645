"""File transfer with the Outpost API over HTTP, using urllib only (no SDK in the worker).

Downloads are streamed to disk in 1 MiB chunks so a large GeoPackage never sits in memory, and
names coming from the server are confined to the job directory. The job token is sent only to
the API's origin: a redirect to another host (e.g. presigned object storage) drops it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import typing
import urllib.error
import urllib.parse
import urllib.request
import uuid

from runner.worker import errors, table

CHUNK_SIZE = 1024 * 1024
ALLOWED_SCHEMES = ("http", "https")
TIMEOUT = 60.0
Log = typing.Callable[[str], None]


class _OriginRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects but never forward the token to a different origin."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]  # noqa: PLR0917
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _scheme(newurl) not in ALLOWED_SCHEMES:
            raise urllib.error.URLError(f"refusing redirect to {newurl}")
        if new is not None and _origin(newurl) != _origin(req.full_url):
            for key in [key for key in new.headers if key.lower() == "authorization"]:
                del new.headers[key]
        return new


def _scheme(url: str) -> str:
    return urllib.parse.urlsplit(url).scheme.lower()


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


_OPENER = urllib.request.build_opener(_OriginRedirectHandler())


def _base(api_url: str) -> str:
    return api_url if api_url.endswith("/") else api_url + "/"


def file_url(api_url: str, project_id: str, name: str | None = None) -> str:
    """``files/{project_id}/`` or ``files/{project_id}/{quoted name}/`` under the API root."""
    url = f"{_base(api_url)}files/{urllib.parse.quote(project_id, safe='')}/"
    return url if name is None else f"{url}{urllib.parse.quote(name, safe='/')}/"


def _open(request: urllib.request.Request) -> typing.Any:
    """Open a request, turning HTTP and network failures into ``ApiError`` with an error_type."""
    try:
        return _OPENER.open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as error:
        detail = error.read(500).decode("utf-8", "replace").strip()
        error.close()
        message = f"{request.get_method()} {request.full_url} failed with HTTP {error.code}"
        raise errors.ApiError(f"{message}: {detail}" if detail else message, error.code) from error
    except (urllib.error.URLError, OSError) as error:
        raise errors.ApiError(f"{request.get_method()} {request.full_url} failed: {error}") from error


def _request(url: str, token: str, **kwargs: typing.Any) -> urllib.request.Request:
    """An authenticated request; only http(s) URLs, so a bad api_url cannot read local files."""
    if _scheme(url) not in ALLOWED_SCHEMES:
        raise errors.ApiError(f"Unsupported API URL scheme in {url!r}")
    request = urllib.request.Request(url, **kwargs)  # noqa: S310 - scheme checked above
    request.add_header("Authorization", f"Token {token}")
    return request


def list_files(api_url: str, token: str, project_id: str) -> list[dict[str, typing.Any]]:
    """The project's file list (``GET files/{project_id}/?skip_metadata=1``)."""
    url = file_url(api_url, project_id) + "?skip_metadata=1"
    with _open(_request(url, token, headers={"Accept": "application/json"})) as response:
        try:
            entries = json.load(response)
        except ValueError as error:
            raise errors.ApiError(f"GET {url} did not return JSON: {error}") from error
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e for e in entries):
        raise errors.ApiError(f"GET {url} did not return a list of files")
    return entries


def safe_join(root: pathlib.Path, name: str) -> pathlib.Path:
    """``root / name``, refusing names that are empty, absolute or escape ``root``.

    The names come from the API, so a bad one is reported as an API failure (API_OTHER).
    """
    drive_like = len(name) > 1 and name[1] == ":"
    if not name or "\0" in name or name.startswith("/") or ".." in name.split("/") or drive_like:
        raise errors.ApiError(f'Refusing unsafe file name "{name}" listed by the API')
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()) or target == root.resolve():
        raise errors.ApiError(f'Refusing unsafe file name "{name}" listed by the API')
    return target


def download_file(
    api_url: str, token: str, project_id: str, name: str, target: pathlib.Path
) -> tuple[int, str]:
    """Stream one file to ``target``; return its size and md5 (hex)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".{uuid.uuid4().hex[:8]}.part")
    digest, size = hashlib.md5(usedforsecurity=False), 0
    request = _request(file_url(api_url, project_id, name), token)
    try:
        with _open(request) as response, partial.open("wb") as out:
            expected = response.headers.get("Content-Length")
            while chunk := response.read(CHUNK_SIZE):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        if expected is not None and expected.isdigit() and int(expected) != size:
            raise errors.ApiError(f'Incomplete download of "{name}": {size} of {expected} bytes')
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return size, digest.hexdigest()


def download_project_files(
    api_url: str, token: str, project_id: str, root: pathlib.Path, log: Log
) -> list[dict[str, typing.Any]]:
    """Download every non-attachment file of the project under ``root``; log a table of them."""
    root.mkdir(parents=True, exist_ok=True)
    entries = [entry for entry in list_files(api_url, token, project_id) if not entry.get("is_attachment")]
    downloaded = []
    for entry in entries:
        name = str(entry["name"])
        size, md5 = download_file(api_url, token, project_id, name, safe_join(root, name))
        remote_md5 = str(entry.get("md5sum") or "")
        if len(remote_md5) == 32 and remote_md5 != md5:
            log(f'Warning: md5 of "{name}" is {md5}, the server listed {remote_md5}')
        downloaded.append({"name": name, "size": size, "md5sum": md5})
    log(f"Downloaded {len(downloaded)} project file(s):")
    rows = [(item["name"], item["size"], item["md5sum"]) for item in downloaded]
    for line in table.format_table(["File", "Size", "MD5"], rows):
        log(line)
    return downloaded


def _multipart_parts(
    name: str, boundary: str, field: str = "file", content_type: str = "application/octet-stream"
) -> tuple[bytes, bytes]:
    filename = pathlib.PurePosixPath(name).name.replace("\\", "\\\\").replace('"', '\\"')
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode("ascii")


def _stream_body(
    head: bytes, path: pathlib.Path, tail: bytes, digest: typing.Any = None
) -> typing.Iterator[bytes]:
    yield head
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_SIZE):
            if digest is not None:
                digest.update(chunk)
            yield chunk
    yield tail


def _post_file(
    url: str,
    token: str,
    name: str,
    path: pathlib.Path,
    *,
    digest: typing.Any = None,
    part: tuple[str, str] = ("file", "application/octet-stream"),
) -> typing.Any:
    """Streamed multipart POST of ``path`` as one file ``part`` (field, content type).

    Returns the JSON reply (or its text; None when the body is empty).
    """
    boundary = uuid.uuid4().hex
    head, tail = _multipart_parts(name, boundary, *part)
    request = _request(
        url,
        token,
        method="POST",
        data=_stream_body(head, path, tail, digest),
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
        },
    )
    with _open(request) as response:
        body = response.read()
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "replace")


def upload_file(
    api_url: str, token: str, project_id: str, name: str, path: str | os.PathLike[str]
) -> typing.Any:
    """Streamed multipart POST of ``path`` as field ``file`` to ``files/{project_id}/{name}/``."""
    return _post_file(file_url(api_url, project_id, name), token, name, pathlib.Path(path))


def package_file_url(api_url: str, project_id: str, job_id: str, name: str) -> str:
    """``packages/{project_id}/{job_id}/files/{quoted name}/`` under the API root."""
    project, job = (urllib.parse.quote(value, safe="") for value in (project_id, job_id))
    return f"{_base(api_url)}packages/{project}/{job}/files/{urllib.parse.quote(name, safe='/')}/"


def upload_package_file(
    api_url: str, token: str, project_id: str, job_id: str, *, name: str, path: pathlib.Path
) -> dict[str, typing.Any]:
    """Upload one package file; the reply's size/sha256 (when given) must match what was sent."""
    digest = hashlib.sha256()
    url = package_file_url(api_url, project_id, job_id, name)
    reply = _post_file(url, token, name, path, digest=digest)
    reply = reply if isinstance(reply, dict) else {}
    sent = {"name": name, "size": path.stat().st_size, "sha256": digest.hexdigest()}
    for key in ("size", "sha256"):
        if reply.get(key) not in (None, "") and reply[key] != sent[key]:
            detail = f"the server stored {key} {reply[key]!r}, the worker sent {sent[key]!r}"
            raise errors.ApiError(f'Upload of package file "{name}" is corrupt: {detail}')
    return {**sent, "md5sum": reply.get("md5sum")}


def upload_package(
    api_url: str,
    token: str,
    project_id: str,
    job_id: str,
    *,
    files: list[tuple[str, pathlib.Path]],
    log: Log,
) -> list[dict[str, typing.Any]]:
    """Upload the package files in the given order (the project file last); log a table of them."""
    uploaded = [
        upload_package_file(api_url, token, project_id, job_id, name=name, path=path) for name, path in files
    ]
    log(f"Uploaded {len(uploaded)} package file(s):")
    rows = [(item["name"], item["size"], item["sha256"]) for item in uploaded]
    for line in table.format_table(["File", "Size", "SHA256"], rows):
        log(line)
    return uploaded


def thumbnail_url(api_url: str, project_id: str) -> str:
    """``projects/{project_id}/thumbnail/`` under the API root."""
    return f"{_base(api_url)}projects/{urllib.parse.quote(project_id, safe='')}/thumbnail/"


def upload_thumbnail(api_url: str, token: str, project_id: str, path: pathlib.Path) -> None:
    """POST the PNG as multipart field ``thumbnail`` (the API replies 204 No Content)."""
    url = thumbnail_url(api_url, project_id)
    _post_file(url, token, "thumbnail.png", path, part=("thumbnail", "image/png"))
