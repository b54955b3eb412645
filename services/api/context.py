"""What request handlers get to work with, built once in :mod:`api.bootstrap`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from api.adapters.accounts import Accounts
from api.adapters.organizations import Organizations
from api.nats_link import NatsLink
from api.settings import ApiSettings
from common.clock import Clock
from common.eventstore import EventStore
from storage.ports import BlobStore


@dataclass(frozen=True)
class Services:
    settings: ApiSettings
    engine: AsyncEngine
    store: EventStore
    accounts: Accounts
    organizations: Organizations
    blobs: BlobStore
    clock: Clock
    nats: NatsLink

    @property
    def secret(self) -> bytes:
        return self.settings.secret_key.get_secret_value().encode()


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
