"""NATS subjects and JetStream names. Payloads are JSON, readable with ``nats sub 'outpost.>'``.

Events:   outpost.evt.<aggregate>.<id>.<name>   e.g. outpost.evt.job.<uuid>.started
Commands: outpost.cmd.<name>                    e.g. outpost.cmd.run_job
"""

from __future__ import annotations

from contracts.base import Command, Envelope

PREFIX = "outpost"
EVENTS_STREAM = "OUTPOST_EVENTS"
EVENTS_SUBJECTS = f"{PREFIX}.evt.>"
COMMANDS_STREAM = "OUTPOST_COMMANDS"
COMMANDS_SUBJECTS = f"{PREFIX}.cmd.>"

RUN_JOB = f"{PREFIX}.cmd.run_job"
RPC_CREATE_JOB = f"{PREFIX}.rpc.create_job"
RPC_QUEUE = "scheduler"


def for_event(envelope: Envelope) -> str:
    """``project.file_uploaded`` on stream ``project-<id>`` -> ``outpost.evt.project.<id>.file_uploaded``."""
    aggregate, _, name = envelope.event_type.partition(".")
    entity_id = envelope.stream_id.split("-", 1)[1]
    return f"{PREFIX}.evt.{aggregate}.{entity_id}.{name}"


def for_command(command: type[Command]) -> str:
    return f"{PREFIX}.cmd.{command.TYPE}"
