"""``python -m scheduler``: create and dispatch jobs from events, reap dead attempts, answer job requests."""

from __future__ import annotations

import asyncio

from nats.aio.msg import Msg

from common import db, logging, service
from common.clock import SystemClock
from common.consumer import Consumer
from common.eventstore import EventStore
from common.health import Metrics
from common.readmodels import all_projections
from contracts import subjects
from contracts.base import Envelope
from scheduler.app.handlers import Scheduler
from scheduler.app.reaper import Reaper
from scheduler.entrypoints import rpc
from scheduler.settings import SchedulerSettings


async def main(stop: asyncio.Event) -> None:
    settings = SchedulerSettings()
    logging.configure("scheduler", settings.log_level, settings.log_json)
    engine = db.make_engine(settings.database_url)
    clock = SystemClock()
    scheduler = Scheduler(EventStore(engine, all_projections(), clock), clock, settings.policy())
    reaper = Reaper(scheduler, grace_s=settings.lease_grace_s, redispatch_s=settings.redispatch_s)
    nc = await service.connect_nats(settings.nats_url, stop, settings.nats_replicas)
    if nc is None:
        return

    metrics = Metrics("outpost_scheduler")

    async def on_event(msg: Msg) -> None:
        envelope = Envelope.model_validate_json(msg.data)
        await scheduler.handle(envelope)
        metrics.inc("events_handled_total", type=envelope.event_type)

    async def sweep() -> None:
        await reaper.sweep()
        metrics.inc("sweeps_total")

    consumer = Consumer(
        nc.jetstream(),
        stream=subjects.EVENTS_STREAM,
        durable="scheduler",
        subject=subjects.EVENTS_SUBJECTS,
        handler=on_event,
        concurrency=4,
    )
    await rpc.serve(nc, scheduler)
    tasks = [
        asyncio.create_task(consumer.run(stop)),
        asyncio.create_task(service.every(settings.sweep_interval_s, stop, sweep, "sweep")),
        *service.start_health(settings, service.health_checks(nc, engine), metrics, stop),
    ]
    if settings.relay:
        tasks.append(asyncio.create_task(service.relay(settings.database_url, nc, stop)))
    logging.get("scheduler").info("scheduler_started", action="start")
    await asyncio.gather(*tasks)
    await nc.close()
    await engine.dispose()


if __name__ == "__main__":
    service.run(main)
