"""``python -m runner``: take RunJob commands from the work queue and run them."""

from __future__ import annotations

import asyncio

from nats.aio.msg import Msg

from common import db, logging, service
from common.clock import SystemClock
from common.consumer import Consumer
from common.eventstore import EventStore
from common.health import Metrics
from common.readmodels import all_projections
from contracts import codec, commands, subjects
from contracts.base import CommandEnvelope
from runner.adapters.local import LocalExecutor
from runner.adapters.noop import NoopExecutor
from runner.app.run_job import JobRunner, Limits, Liveness
from runner.ports import Executor
from runner.settings import RunnerSettings


def _executor(settings: RunnerSettings) -> Executor:
    if settings.executor == "noop":
        return NoopExecutor()
    if settings.executor == "local":
        return LocalExecutor(
            settings.worker_python,
            settings.worker_module,
            settings.worker_env,
            pool_size=settings.warm_pool,
            memory_mb=settings.worker_memory_mb,
            cpus=settings.worker_cpus,
        )
    if settings.executor == "docker":
        from runner.adapters.docker import DockerExecutor  # the docker SDK only where it is used

        return DockerExecutor(
            image=settings.docker_image,
            module=settings.worker_module,
            network=settings.docker_network,
            runner_id=settings.runner_id,
            extra_env=settings.worker_env,
        )
    raise SystemExit(f"unknown executor {settings.executor!r}: use local, docker or noop")


async def main(stop: asyncio.Event) -> None:
    settings = RunnerSettings()
    logging.configure("runner", settings.log_level, settings.log_json)
    engine = db.make_engine(settings.database_url)
    executor = _executor(settings)
    metrics = Metrics("outpost_runner")
    metrics.gauge("capacity", lambda: settings.capacity)
    if isinstance(executor, LocalExecutor):
        metrics.gauge("warm_workers", lambda: executor.warm_workers)
    job_runner = JobRunner(
        EventStore(engine, all_projections(), SystemClock()),
        executor,
        SystemClock(),
        secret=settings.secret_key.get_secret_value().encode(),
        api_url=settings.api_url,
        runner_id=settings.runner_id,
        liveness=Liveness(lease_s=settings.lease_s, heartbeat_s=settings.heartbeat_s),
        limits=Limits(memory_mb=settings.worker_memory_mb, cpus=settings.worker_cpus),
        flush_s=settings.log_flush_s,
        metrics=metrics,
    )
    nc = await service.connect_nats(settings.nats_url, stop, settings.nats_replicas)
    if nc is None:
        return

    async def on_command(msg: Msg) -> None:
        env = CommandEnvelope.model_validate_json(msg.data)
        cmd = codec.decode_command(env)
        if isinstance(cmd, commands.RunJob):
            await job_runner.handle(cmd, env.correlation_id)

    consumer = Consumer(
        nc.jetstream(),
        stream=subjects.COMMANDS_STREAM,
        durable="runners",
        subject=subjects.RUN_JOB,
        handler=on_command,
        concurrency=settings.capacity,
        ack_wait_s=30.0,
    )
    if isinstance(executor, LocalExecutor):
        await executor.start()  # the warm pool, if any, is ready before the first job
    tasks = [asyncio.create_task(consumer.run(stop, drain_s=settings.drain_s))]
    tasks += service.start_health(settings, service.health_checks(nc, engine), metrics, stop)
    if settings.relay:
        tasks.append(asyncio.create_task(service.relay(settings.database_url, nc, stop)))
    logging.get("runner").info(
        "runner_started",
        action="start",
        runner_id=settings.runner_id,
        executor=settings.executor,
        capacity=settings.capacity,
        warm_pool=settings.warm_pool,
    )
    await asyncio.gather(*tasks)
    if isinstance(executor, LocalExecutor):
        await executor.close()
    await nc.close()
    await engine.dispose()


if __name__ == "__main__":
    service.run(main)
