"""Shared fixtures: a private NATS and PostgreSQL per test session, a fresh database per test.

Every database is a copy of a template migrated once, so real-PostgreSQL tests stay fast.
Nothing is pre-started: the servers run on random loopback ports and stop with the session.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from common import db, migrate
from common.clock import SystemClock
from common.devstack import NatsServer, PostgresServer, SeaweedServer
from common.eventstore import EventStore
from common.readmodels import all_projections
from tests.dockerengine import docker_engine  # noqa: F401  (a session fixture for tests/docker and tests/compose)

TEMPLATE = "outpost_template"


def server_dir(prefix: str) -> Path:
    """A fresh directory under /tmp that the ``postgres`` user can enter (pytest's own are 0700)."""
    path = Path(tempfile.mkdtemp(prefix=f"outpost-{prefix}-"))
    path.chmod(0o711)
    return path


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    base = server_dir("pg")
    server = PostgresServer(base / "pg").start()
    url = server.create_database(TEMPLATE)
    migrate.upgrade(url)
    yield server
    server.stop("immediate")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    """A real S3 server (SeaweedFS) that checks credentials, for the ``s3`` backend."""
    base = server_dir("seaweed")
    server = SeaweedServer(base).start()
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def database_url(pg_server: PostgresServer) -> str:
    return pg_server.create_database(f"t_{uuid.uuid4().hex[:12]}", template=TEMPLATE)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = db.make_engine(database_url, pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture
def store(engine: AsyncEngine) -> EventStore:
    return EventStore(engine, all_projections(), SystemClock())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
