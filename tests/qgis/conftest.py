"""Fixtures for the QGIS worker tests.

pytest runs in the project venv, which has no PyQGIS; everything QGIS-related is therefore run in
Debian's /usr/bin/python3 through subprocesses, with a private XDG runtime dir and offscreen Qt.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import typing

import pytest

from tests.qgis.fake_api import FakeApi

QGIS_PYTHON = "/usr/bin/python3"
HERE = pathlib.Path(__file__).resolve().parent
SERVICES_DIR = HERE.parents[1] / "services"
MAKE_PROJECT = HERE / "make_project.py"


DESCRIBE_PROJECT = HERE / "describe_project.py"


class Completed(typing.NamedTuple):
    """A finished worker process: exit code, raw stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def qgis_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for /usr/bin/python3 with PyQGIS: offscreen Qt, private runtime dir, our services."""
    runtime = tmp_path_factory.mktemp("xdg-runtime")
    runtime.chmod(0o700)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PYTHONPATH=str(SERVICES_DIR),
        QT_QPA_PLATFORM="offscreen",
        XDG_RUNTIME_DIR=str(runtime),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@pytest.fixture
def make_project(qgis_env: dict[str, str]) -> typing.Callable[..., list[str]]:
    """Generate a fixture project of the given kind with tests/qgis/make_project.py (``env``: extra vars)."""

    def make(kind: str, out_dir: pathlib.Path, env: dict[str, str] | None = None) -> list[str]:
        done = subprocess.run(
            [QGIS_PYTHON, str(MAKE_PROJECT), kind, str(out_dir)],
            env={**qgis_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return make


def _run_qgis_python(env: dict[str, str], argv: list[str], stdin: str | None) -> Completed:
    done = subprocess.run(
        [QGIS_PYTHON, *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    return Completed(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def run_worker(qgis_env: dict[str, str]) -> typing.Callable[..., Completed]:
    """Run ``python3 -m runner.worker ARGS`` with optional stdin (and extra ``env``) and return the result."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Completed:
        return _run_qgis_python({**qgis_env, **(env or {})}, ["-m", "runner.worker", *args], stdin)

    return run


@pytest.fixture
def run_python(qgis_env: dict[str, str]) -> typing.Callable[..., Completed]:
    """Run ``python3 -c CODE ARGS`` in the worker's Python, to exercise one module directly."""

    def run(code: str, *args: str) -> Completed:
        return _run_qgis_python(qgis_env, ["-c", code, *args], None)

    return run


@pytest.fixture
def inspect(run_worker: typing.Callable[..., Completed]) -> typing.Callable[..., tuple[int, dict]]:
    """``inspect DIR FILE`` -> (exit code, parsed JSON printed on stdout)."""

    def run(directory: pathlib.Path, project_file: str) -> tuple[int, dict]:
        done = run_worker("inspect", str(directory), project_file)
        assert done.returncode in (0, 1), done.stderr
        assert done.stdout.count("\n") == 1, done.stdout
        return done.returncode, json.loads(done.stdout)

    return run


@pytest.fixture
def fake_api(tmp_path: pathlib.Path) -> typing.Iterator[FakeApi]:
    """A fake Outpost API on loopback serving ``tmp_path/remote`` as the project's files."""
    root = tmp_path / "remote"
    root.mkdir()
    api = FakeApi(root)
    api.thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


@pytest.fixture
def describe_project(qgis_env: dict[str, str]) -> typing.Callable[..., dict]:
    """Open a project in QGIS and describe its layers and features (tests/qgis/describe_project.py)."""

    def describe(project_file: pathlib.Path, env: dict[str, str] | None = None) -> dict:
        argv = [str(DESCRIBE_PROJECT), str(project_file)]
        done = _run_qgis_python({**qgis_env, **(env or {})}, argv, None)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return describe
