"""The compose stacks of the session: built, started, and torn down with their volumes at the end.

``compose_stack`` is compose.yaml as it ships (local executor); ``docker_executor_stack`` adds
compose.docker-executor.yaml (a worker container per job on the internal jobs network)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.compose.stack import COMPOSE_FILES, ComposeStack
from tests.dockerengine import Engine

JOBS_NETWORK = "op-e2e-jobs"  # also the bridge's interface name: at most 15 characters


@pytest.fixture(scope="session")
def compose_stack(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    yield from _running(ComposeStack.create(docker_engine, tmp_path_factory.mktemp("compose")))


@pytest.fixture(scope="session")
def docker_executor_stack(
    docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ComposeStack]:
    socket = docker_engine.host.removeprefix("unix://")
    stack = ComposeStack.create(
        docker_engine,
        tmp_path_factory.mktemp("compose-docker"),
        project="outpost-e2e-docker",
        files=(*COMPOSE_FILES, "compose.docker-executor.yaml"),
        extra_env={
            "OUTPOST_DOCKER_SOCKET": socket,
            "OUTPOST_DOCKER_GID": str(os.stat(socket).st_gid),
            "OUTPOST_JOBS_NETWORK": JOBS_NETWORK,
        },
    )
    yield from _running(stack)


def _running(stack: ComposeStack) -> Iterator[ComposeStack]:
    stack.down()  # volumes a crashed session left behind
    stack.build()
    try:
        stack.up()
        yield stack
    except BaseException:
        print(stack.logs(), flush=True)
        raise
    finally:
        stack.down()
