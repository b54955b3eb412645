"""docs/operations.md's JetStream cluster: three nats-server nodes, streams with OUTPOST_NATS_REPLICAS=3.

The streams Outpost creates are replicated on every node, and a node SIGKILLed (the stream leader)
loses nothing: publishing goes on once the cluster elects a new leader, and a consumer reads every message.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import NoStreamResponseError

from common import jetstream
from common.devstack import free_port, nats_server_binary, wait_for_port
from contracts import subjects

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
NODES = 3


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, tuple[str, subprocess.Popen[bytes]]]]:
    """Three nodes on loopback, routes to each other: node name -> (client URL, process)."""
    ports = [(free_port(), free_port()) for _ in range(NODES)]
    routes = ",".join(f"nats://127.0.0.1:{route}" for _, route in ports)
    nodes: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    for index, (client_port, route_port) in enumerate(ports):
        data = tmp_path / f"n{index}"
        data.mkdir()
        command = [
            nats_server_binary(),
            *("-a", "127.0.0.1", "-p", str(client_port), "-n", f"n{index}", "-js", "-sd", str(data)),
            *("--cluster_name", "outpost", "--cluster", f"nats://127.0.0.1:{route_port}", "--routes", routes),
        ]
        log = (tmp_path / f"n{index}.log").open("ab")
        nodes[f"n{index}"] = (
            f"nats://127.0.0.1:{client_port}",
            subprocess.Popen(command, stdout=log, stderr=log),
        )
    for url, _ in nodes.values():
        wait_for_port(int(url.rsplit(":", 1)[1]))
    yield nodes
    for _, process in nodes.values():
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        process.wait()


async def until(action: Callable[[], Awaitable[Any]], within: float = 30.0) -> Any:
    """Retry ``action`` while the cluster forms or elects (JetStream answers 503 meanwhile)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await action()
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.25)


async def test_streams_are_replicated_and_survive_the_loss_of_their_leader(
    cluster: dict[str, tuple[str, subprocess.Popen[bytes]]],
) -> None:
    nc = await nats.connect(
        [url for url, _ in cluster.values()], max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )
    js = nc.jetstream()
    try:
        await until(lambda: jetstream.ensure_streams(js, replicas=NODES))
        info = await until(lambda: js.stream_info(subjects.EVENTS_STREAM))
        assert info.config.num_replicas == NODES
        assert info.cluster is not None and len(info.cluster.replicas or []) == NODES - 1
        commands = await js.stream_info(subjects.COMMANDS_STREAM)
        assert commands.config.num_replicas == NODES

        subject = f"{subjects.PREFIX}.evt.project.created"
        await until(lambda: js.publish(subject, b'{"n":1}', headers={"Nats-Msg-Id": "one"}))
        leader = info.cluster.leader
        _, process = cluster[leader]
        process.send_signal(signal.SIGKILL)
        process.wait()

        async def publish_two() -> None:
            ack = await js.publish(subject, b'{"n":2}', headers={"Nats-Msg-Id": "two"}, timeout=2)
            assert ack.stream == subjects.EVENTS_STREAM

        await until(publish_two, within=60)
        info = await until(lambda: js.stream_info(subjects.EVENTS_STREAM))
        assert info.cluster is not None and info.cluster.leader != leader
        assert info.state.messages == 2

        # a new consumer needs the meta leader, maybe the node just killed: retry while one is elected
        sub = await until(
            lambda: js.pull_subscribe(subject, durable="check", stream=subjects.EVENTS_STREAM), within=60
        )
        got = await until(lambda: sub.fetch(2, timeout=2))
        assert sorted(m.data for m in got) == [b'{"n":1}', b'{"n":2}']
    except NoStreamResponseError:
        pytest.fail("JetStream never answered")
    finally:
        await nc.close()
