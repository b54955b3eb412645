"""End-to-end fixtures: one stack per session, started exactly as `make up` starts it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import server_dir
from tests.e2e.stack import Stack

CLI = str(Path(sys.executable).parent / "qfieldcloud-cli")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    base = server_dir("stack")
    running = Stack.random(base / "data")
    running.start()
    yield running
    if running.process and running.process.poll() is None:
        running.stop()
    shutil.rmtree(base, ignore_errors=True)


def cli(stack: Stack, *args: str, token: str | None = None) -> Any:
    """Run the real qfieldcloud-cli with --json and return its parsed output (it exits 0 on API errors)."""
    env = {**os.environ, "QFIELDCLOUD_URL": stack.api_url}
    if token:
        env["QFIELDCLOUD_TOKEN"] = token
    result = subprocess.run(
        [CLI, "--json", *args], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    try:
        return json.loads(result.stdout)
    except ValueError as exc:
        raise AssertionError(f"qfieldcloud-cli {args}: {result.stdout} {result.stderr}") from exc


def cli_text(stack: Stack, *args: str, token: str | None = None) -> str:
    """Run qfieldcloud-cli in human mode; returns stdout + stderr (for commands whose --json is broken)."""
    env = {**os.environ, "QFIELDCLOUD_URL": stack.api_url}
    if token:
        env["QFIELDCLOUD_TOKEN"] = token
    result = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=True)
    return result.stdout + result.stderr


def make_project(kind: str, out: Path, repo_root: Path) -> None:
    """Generate a QGIS project with PyQGIS (tests/qgis/make_project.py) under Debian's python3."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_RUNTIME_DIR": str(out.parent),
        "PYTHONPATH": str(repo_root / "services"),
    }
    subprocess.run(
        ["/usr/bin/python3", str(repo_root / "tests/qgis/make_project.py"), kind, str(out)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
