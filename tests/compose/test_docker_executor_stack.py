"""compose.docker-executor.yaml: a worker container per job, on an internal network that reaches the API only.

The network test runs a probe from the worker image exactly where the executor puts workers (the jobs
network, no host alias) and tries every service of the stack, the internet and a listener on the host.
The host stays reachable at the jobs network's gateway until the firewall rule docs/operations.md gives
is in place; the test applies that rule and shows it closes the gap.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.devstack import free_port
from runner.adapters.docker import host_aliases
from tests.compose.conftest import JOBS_NETWORK
from tests.compose.stack import ComposeStack
from tests.e2e.conftest import cli, make_project
from tests.e2e.test_packaging_with_cli import wait_processed

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1800)]

# Run by python3 in the worker image: argv[1] is a JSON list of [host, port]; prints what connected.
PROBE = r"""
import json, socket, sys
result = {}
for host, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((host, port), timeout=3).close()
        result[f"{host}:{port}"] = "open"
    except OSError as error:
        result[f"{host}:{port}"] = type(error).__name__
print(json.dumps(result))
"""


def probe(stack: ComposeStack, targets: list[tuple[str, int]]) -> dict[str, str]:
    output = stack.engine.client.containers.run(
        "outpost/worker:dev",
        ["python3", "-c", PROBE, json.dumps(targets)],
        network_mode=JOBS_NETWORK,
        extra_hosts=host_aliases(JOBS_NETWORK),
        user="10001:10001",
        cap_drop=["ALL"],
        remove=True,
    )
    return dict(json.loads(output))


@contextlib.contextmanager
def host_listener() -> Iterator[int]:
    """A TCP server on every address of the host, accepting and closing connections."""
    port = free_port()
    server = socket.create_server(("0.0.0.0", port))  # every address: does the host answer?
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                connection, _ = server.accept()
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join()
        server.close()


@contextlib.contextmanager
def firewall_rule(rule: list[str]) -> Iterator[None]:
    subprocess.run(["iptables", "-I", *rule], check=True)
    try:
        yield
    finally:
        subprocess.run(["iptables", "-D", *rule], check=True)


def test_jobs_run_in_worker_containers_on_the_jobs_network(
    docker_executor_stack: ComposeStack, tmp_path: Path, repo_root: Path
) -> None:
    stack = docker_executor_stack
    since = int(time.time()) - 1
    token = str(cli(stack, "login", stack.user, stack.password)["token"])
    pid = cli(stack, "create-project", "containers", token=token)["id"]
    local = tmp_path / "project"
    make_project("simple", local, repo_root)
    cli(stack, "upload-files", pid, str(local), "--throw-on-error", token=token)
    wait_processed(stack, token, pid)
    [job] = cli(stack, "list-jobs", pid, "--type", "process_projectfile", token=token)

    events = list(
        stack.engine.client.events(
            since=since, until=int(time.time()) + 1, decode=True, filters={"type": "container"}
        )
    )
    mine = [e for e in events if e["Actor"]["Attributes"].get("outpost.job_id") == job["id"]]
    assert {"create", "start", "die", "destroy"} <= {e["Action"] for e in mine}, mine
    [worker_id] = {e["id"] for e in mine}
    connected = [
        e
        for e in stack.engine.client.events(
            since=since,
            until=int(time.time()) + 1,
            decode=True,
            filters={"type": "network", "event": "connect"},
        )
        if e["Actor"]["Attributes"].get("container") == worker_id
    ]
    assert [e["Actor"]["Attributes"]["name"] for e in connected] == [JOBS_NETWORK]
    assert not stack.engine.client.containers.list(all=True, filters={"label": f"outpost.job_id={job['id']}"})


def test_a_worker_reaches_the_api_and_nothing_else(docker_executor_stack: ComposeStack) -> None:
    stack = docker_executor_stack
    backend = f"{stack.project}_backend"
    postgres_ip = stack.containers("postgres")[0].attrs["NetworkSettings"]["Networks"][backend]["IPAddress"]
    jobs_gateway = stack.engine.client.networks.get(JOBS_NETWORK).attrs["IPAM"]["Config"][0]["Gateway"]
    with host_listener() as port:
        seen = probe(
            stack,
            [
                ("api", 8000),
                ("postgres", 5432),
                ("nats", 4222),
                ("s3", 8333),
                (postgres_ip, 5432),
                ("1.1.1.1", 443),
                (jobs_gateway, port),
            ],
        )
        assert seen["api:8000"] == "open", seen
        for name in ("postgres:5432", "nats:4222", "s3:8333"):
            assert seen[name] == "gaierror", seen  # not even a name on the jobs network
        assert seen[f"{postgres_ip}:5432"] != "open", seen
        assert seen["1.1.1.1:443"] != "open", seen
        # The host answers at the gateway of an internal network: Docker filters forwarding, not input.
        assert seen[f"{jobs_gateway}:{port}"] == "open", seen
        with firewall_rule(["INPUT", "-i", JOBS_NETWORK, "-j", "DROP"]):
            closed = probe(stack, [("api", 8000), (jobs_gateway, port)])
        assert closed == {"api:8000": "open", f"{jobs_gateway}:{port}": "TimeoutError"}, closed
