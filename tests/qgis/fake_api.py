"""A fake Outpost API on loopback for ``runner.worker run`` tests, plus protocol helpers.

It serves ``files/{project_id}/`` from a directory, like the API does for a worker token (files
under ``DCIM/`` are listed as attachments), accepts project file uploads, and accepts package
uploads on ``packages/{project_id}/{job_id}/files/{name}/`` the way QFieldCloud's
``PackageUploadFilesView`` does (201 with ``{name, size, sha256, md5sum}``) and the project
thumbnail on ``projects/{project_id}/thumbnail/`` (multipart field ``thumbnail``, 204).
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import http.server
import json
import pathlib
import threading
import typing
import urllib.parse
import uuid

TOKEN = "secret-job-token"
ATTACHMENT_DIR = "DCIM/"


class FakeApi:
    """The API surface a worker uses; every request is recorded."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.project_id = str(uuid.uuid4())
        self.extra_entries: list[dict] = []
        self.status_override: int | None = None
        self.package_status: int | None = None  # only for package uploads
        self.package_reply: dict[str, typing.Any] = {}  # overrides of the package upload reply
        self.requests: list[tuple[str, str]] = []
        self.uploads: dict[str, bytes] = {}
        self.upload_fields: dict[str, str] = {}
        self.package_uploads: list[tuple[str, str, bytes]] = []  # (job id, name, bytes) in upload order
        self.thumbnail_status: int | None = None  # only for thumbnail uploads
        self.thumbnails: list[dict[str, typing.Any]] = []  # field, filename, content_type, content
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/"

    def listing(self) -> list[dict]:
        entries = []
        for path in sorted(self.root.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(self.root).as_posix()
            entries.append(
                {
                    "name": name,
                    "size": path.stat().st_size,
                    "md5sum": hashlib.md5(path.read_bytes()).hexdigest(),
                    "is_attachment": name.startswith(ATTACHMENT_DIR),
                }
            )
        return entries + self.extra_entries

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: typing.Any) -> None:
                pass

            def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _path(self) -> str:
                return urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)

            def _name(self) -> str | None:
                prefix = f"/api/v1/files/{api.project_id}/"
                path = self._path()
                assert path.startswith(prefix), path
                rest = path[len(prefix) :]
                return rest[:-1] if rest else None

            def _denied(self) -> bool:
                api.requests.append((self.command, self.path))
                if api.status_override:
                    self._reply(api.status_override, b'{"code": "error"}')
                    return True
                if self.headers.get("Authorization") != f"Token {TOKEN}":
                    self._reply(401, b'{"code": "not_authenticated"}')
                    return True
                return False

            def _file_part(self) -> typing.Any:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + body)
                return next(p for p in message.iter_parts() if p.get_filename())

            def do_GET(self) -> None:
                if self._denied():
                    return
                name = self._name()
                if name is None:
                    self._reply(200, json.dumps(api.listing()).encode())
                elif (api.root / name).is_file():
                    self._reply(200, (api.root / name).read_bytes(), "application/octet-stream")
                else:
                    self._reply(404, b'{"code": "object_not_found"}')

            def do_POST(self) -> None:
                if self._denied():
                    return
                if self._path().startswith("/api/v1/packages/"):
                    self._package_upload()
                    return
                if self._path().startswith("/api/v1/projects/"):
                    self._thumbnail_upload()
                    return
                part = self._file_part()
                name = self._name() or ""
                api.uploads[name] = part.get_payload(decode=True)
                api.upload_fields[name] = part.get_param("name", header="content-disposition")
                self._reply(201, json.dumps({"name": name, "size": len(api.uploads[name])}).encode())

            def _package_upload(self) -> None:
                parts = self._path()[len("/api/v1/packages/") :].split("/", 3)
                project_id, job_id, marker, rest = parts
                assert (project_id, marker) == (api.project_id, "files"), self.path
                assert rest.endswith("/"), self.path
                part = self._file_part()
                assert part.get_param("name", header="content-disposition") == "file"
                if api.package_status:
                    self._reply(api.package_status, b'{"code": "permission_denied"}')
                    return
                name, content = rest[:-1], part.get_payload(decode=True)
                api.package_uploads.append((job_id, name, content))
                reply = {
                    "name": name,
                    "size": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "md5sum": hashlib.md5(content).hexdigest(),
                }
                self._reply(201, json.dumps({**reply, **api.package_reply}).encode())

            def _thumbnail_upload(self) -> None:
                assert self._path() == f"/api/v1/projects/{api.project_id}/thumbnail/", self.path
                part = self._file_part()
                if api.thumbnail_status:
                    self._reply(api.thumbnail_status, b'{"code": "unknown_error"}')
                    return
                api.thumbnails.append(
                    {
                        "field": part.get_param("name", header="content-disposition"),
                        "filename": part.get_filename(),
                        "content_type": part.get_content_type(),
                        "content": part.get_payload(decode=True),
                    }
                )
                self._reply(204, b"")

        return Handler


def job_spec(api: FakeApi, project_file: str = "project.qgs", **overrides: typing.Any) -> str:
    spec = {
        "job_id": str(uuid.uuid4()),
        "type": "process_projectfile",
        "project_id": api.project_id,
        "project_file": project_file,
        "api_url": api.api_url,
        "token": TOKEN,
        "params": {},
    }
    spec.update(overrides)
    return json.dumps(spec)


def protocol_lines(stdout: str) -> list[dict]:
    """Every stdout line must be one protocol object; exactly one result, and it comes last."""
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert lines, "no protocol output"
    assert all(line["kind"] in ("step", "log", "result") for line in lines)
    assert [line["kind"] for line in lines].count("result") == 1
    assert lines[-1]["kind"] == "result"
    return lines


def step_events(lines: list[dict]) -> list[tuple[str, str]]:
    return [(line["step_id"], line["stage"]) for line in lines if line["kind"] == "step"]
