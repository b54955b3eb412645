"""Per-job overhead: from handing a job to the executor to the worker starting its first real step.

Floor: ``python3 -c 'import qgis.core'`` measured in the same run. Warm = a worker from the warm pool
(QGIS already started), cold = a fresh process. The worker gets no API (the download step fails at once),
which does not matter: the figure ends when that step starts.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
import uuid
from typing import Any

from bench.report import Report
from runner.adapters.local import LocalExecutor
from runner.ports import WorkerSpec

SAMPLES = 5
FIRST_REAL_STEP = ("download_project_directory", "started")


def qgis_import_ms() -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(["/usr/bin/python3", "-c", "import qgis.core"], check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def overhead_ms(pool_size: int) -> list[float]:
    executor = LocalExecutor("/usr/bin/python3", "runner.worker", pool_size=pool_size)
    await executor.start()
    try:
        return await _first_steps(executor, pause_s=2.0)  # let the pool refill, as it would between jobs
    finally:
        await executor.close()


async def docker_overhead_ms() -> list[float]:
    """The same figure for the docker executor, on the private dockerd and image the docker tests use."""
    from runner.adapters.docker import DockerExecutor
    from tests.dockerengine import (
        CACHE,
        WORKER_TAG,
        _exclusive,
        _ping,
        _stop,
        ensure_base_image,
        ensure_worker_image,
        start_dockerd,
    )

    CACHE.mkdir(parents=True, exist_ok=True)
    with _exclusive(CACHE / "lock"):
        host, pid = start_dockerd(CACHE)
        try:
            client = _ping(host)
            assert client is not None
            ensure_base_image(host, client)
            ensure_worker_image(client)
            executor = DockerExecutor(image=WORKER_TAG, network="host", runner_id="bench", client=client)
            return await _first_steps(executor)
        finally:
            _stop(pid)


async def _first_steps(executor: Any, pause_s: float = 0.0) -> list[float]:
    """Milliseconds from handing each of ``SAMPLES`` jobs to ``executor`` to its first real step."""
    times = []
    for _ in range(SAMPLES):
        spec = WorkerSpec(
            job_id=str(uuid.uuid4()),
            job_type="process_projectfile",
            project_id=str(uuid.uuid4()),
            project_file="p.qgs",
            api_url="http://127.0.0.1:9/api/v1/",
            token="bench",  # noqa: S106
        )
        started = time.perf_counter()
        ready: list[float] = []

        async def on_message(message: dict[str, Any], t0: float = started, seen: list[float] = ready) -> None:
            if (message.get("step_id"), message.get("stage")) == FIRST_REAL_STEP and not seen:
                seen.append((time.perf_counter() - t0) * 1000)

        await executor.run(spec, on_message)
        times.extend(ready)
        await asyncio.sleep(pause_s)
    return times


async def run(report: Report) -> None:
    floor = qgis_import_ms()
    report.add("qgis_import_ms", floor, "ms", notes="/usr/bin/python3 -c 'import qgis.core', median of 3")
    warm = statistics.median(await overhead_ms(pool_size=1))
    cold = statistics.median(await overhead_ms(pool_size=0))
    report.add(
        "job_overhead_warm_ms",
        warm,
        "ms",
        floor="qgis_import_ms",
        floor_value=floor,
        target="< 50 ms",
        notes=f"local executor, warm pool of 1, median of {SAMPLES}",
    )
    report.add(
        "job_overhead_cold_ms",
        cold,
        "ms",
        floor="qgis_import_ms",
        floor_value=floor,
        notes=f"local executor, fresh process per job (QGIS start included), median of {SAMPLES}",
    )
    docker = statistics.median(await docker_overhead_ms())
    report.add(
        "job_overhead_docker_ms",
        docker,
        "ms",
        floor="qgis_import_ms",
        floor_value=floor,
        notes=f"docker executor, a new container per job (QGIS start included), median of {SAMPLES}",
    )
