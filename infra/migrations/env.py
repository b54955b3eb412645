"""Alembic environment: migrations are plain SQL, run against OUTPOST_DATABASE_URL (or -x url=...)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

config = context.config
url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
if not url:
    raise SystemExit("no database URL: pass -x url=... or set sqlalchemy.url")

engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
