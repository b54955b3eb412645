"""One compose stack per session: built, started, and torn down with its volumes at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compose.stack import ComposeStack
from tests.dockerengine import Engine


@pytest.fixture(scope="session")
def compose_stack(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    stack = ComposeStack.create(docker_engine, tmp_path_factory.mktemp("compose"))
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
