"""Clients that misbehave on the wire: nothing partial may ever appear (architecture brief, guarantee 8)."""

from __future__ import annotations

import socket
import time

import pytest

from tests.e2e.conftest import cli
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_a_client_that_disconnects_mid_upload_leaves_no_version(stack: Stack) -> None:
    token = cli(stack, "login", stack.user, stack.password)["token"]
    pid = cli(stack, "create-project", "disconnects", token=token)["id"]
    boundary = "outpostboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    declared = 10 * 1024 * 1024
    request = (
        f"POST /api/v1/files/{pid}/big.bin/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", stack.port)) as sock:
        sock.sendall(request + head)
        sock.sendall(b"x" * (3 * 1024 * 1024))  # then the client goes away
    time.sleep(1.0)
    assert cli(stack, "list-files", pid, token=token) == []
    # and the server is fine afterwards
    assert cli(stack, "status")["database"] == "ok"
