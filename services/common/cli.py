"""The ``outpost`` command: run the stack, migrate, manage users, replay and read events."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from common import logging
from common.settings import CommonSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="outpost", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run the whole stack on loopback (what `make up` runs)")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser(
        "setup",
        help="migrate, then create the admin user from OUTPOST_ADMIN_USERNAME/_PASSWORD if set "
        "(the compose stack's one-shot; safe to run again)",
    )
    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    create = user.add_parser("create", help="create a user")
    create.add_argument("username")
    create.add_argument("password")
    create.add_argument("--email", default="")
    create.add_argument("--staff", action="store_true")
    quota = user.add_parser("quota", help="set the storage quota of a user or organization")
    quota.add_argument("account")
    quota.add_argument(
        "megabytes", type=_megabytes, help="MiB, or `default` for the server's OUTPOST_STORAGE_QUOTA_MB"
    )
    events = sub.add_parser("events", help="the event store").add_subparsers(dest="action", required=True)
    events.add_parser("replay", help="rebuild every read model from the events")
    dump = events.add_parser("dump", help="print events as JSON lines (audit)")
    dump.add_argument("--stream", help="only this stream, e.g. job-<uuid> or project-<uuid>")
    dump.add_argument("--after", type=int, default=0, help="global position to start after")
    args = parser.parse_args(argv)

    if args.command == "up":
        from common import supervisor

        return supervisor.up()
    settings = CommonSettings()
    logging.configure("cli", settings.log_level, settings.log_json)
    if args.command == "migrate":
        from common import migrate

        migrate.upgrade(settings.database_url)
        return 0
    if args.command == "setup":
        return _setup(settings)
    if args.command == "user" and args.action == "quota":
        from api.cli import set_quota

        found = set_quota(settings.database_url, args.account, args.megabytes)
        print(json.dumps({"account": args.account, "quota_mb": args.megabytes, "found": found}))
        return 0 if found else 1
    if args.command == "user":
        from api.cli import ensure_user

        created = ensure_user(
            settings.database_url, args.username, args.password, args.email, staff=args.staff
        )
        print(json.dumps({"username": args.username, "created": created}))
        return 0 if created else 1
    return asyncio.run(_events(settings, args))


def _megabytes(value: str) -> int | None:
    if value == "default":
        return None
    if not value.isdigit():
        raise argparse.ArgumentTypeError("a whole number of MiB, or `default`")
    return int(value)


def _setup(settings: CommonSettings) -> int:
    """Migrations, then the first user: what a container deployment runs before its services start."""
    from api.cli import ensure_user
    from common import migrate

    migrate.upgrade(settings.database_url)
    username = os.environ.get("OUTPOST_ADMIN_USERNAME", "")
    password = os.environ.get("OUTPOST_ADMIN_PASSWORD", "")
    if username and password:
        email = os.environ.get("OUTPOST_ADMIN_EMAIL", "")
        created = ensure_user(settings.database_url, username, password, email, staff=True)
        print(json.dumps({"migrated": True, "username": username, "created": created}))
    else:
        print(json.dumps({"migrated": True, "username": None}))
    return 0


async def _events(settings: CommonSettings, args: argparse.Namespace) -> int:
    from common import db, replay
    from common.clock import SystemClock
    from common.eventstore import EventStore
    from common.readmodels import all_projections

    engine = db.make_engine(settings.database_url, pool_size=2)
    store = EventStore(engine, all_projections(), SystemClock())
    try:
        if args.action == "replay":
            count = await replay.rebuild(store)
            print(json.dumps({"replayed_events": count}))
            return 0
        if args.stream:
            for env in await store.read_stream(args.stream):
                sys.stdout.write(env.model_dump_json() + "\n")
            return 0
        position = args.after
        while batch := await store.read_all(position):
            for env in batch:
                sys.stdout.write(env.model_dump_json() + "\n")
            position = batch[-1].position or position
        return 0
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
