"""Database helpers: one async engine per process, built in bootstrap."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def psycopg_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for raw psycopg connections (LISTEN, large objects)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
