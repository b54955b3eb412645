"""Settings shared by every service. Each service subclasses this once, in its own settings module.

Everything is read from ``OUTPOST_*`` environment variables, once, in a service's bootstrap.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTPOST_", extra="ignore")

    database_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:15432/outpost",
        description="SQLAlchemy URL of the PostgreSQL database holding events, read models and blobs.",
    )
    nats_url: str = "nats://127.0.0.1:14222"
    nats_replicas: int = Field(
        default=1, ge=1, le=5, description="Replicas of the JetStream streams (3 on a 3-node cluster)."
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Signs job tokens. `outpost up` generates one into the data dir when unset.",
    )
    storage_backend: str = Field(default="postgres", description="Where file contents live: postgres or s3.")
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "outpost"
    s3_secure: bool = False
    health_host: str = "127.0.0.1"
    health_port: int = Field(
        default=0, ge=0, le=65535, description="/healthz and /metrics of scheduler, runner, storage; 0: off."
    )
    log_level: str = "info"
    log_json: bool | None = None  # None: JSON unless stderr is a terminal
    service_name: str = "outpost"
