"""JetStream streams Outpost needs; created (or updated) idempotently at start-up.

The same definitions, as `nats stream add` commands, are in infra/jetstream/README.md.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from contracts import subjects

DUPLICATE_WINDOW_S = 600.0


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    """Both streams; ``replicas`` is 3 on a 3-node JetStream cluster (docs/operations.md)."""
    return [
        StreamConfig(
            name=subjects.EVENTS_STREAM,
            subjects=[subjects.EVENTS_SUBJECTS],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_S,
            num_replicas=replicas,
            max_age=30 * 24 * 3600.0,
        ),
        StreamConfig(
            name=subjects.COMMANDS_STREAM,
            subjects=[subjects.COMMANDS_SUBJECTS],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_S,
            num_replicas=replicas,
        ),
    ]


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    for config in stream_configs(replicas):
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
