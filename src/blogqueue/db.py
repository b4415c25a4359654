"""The async database engine: SQLite (aiosqlite, WAL) by default, PostgreSQL in production."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractAsyncContextManager
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 5_000


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while workers write; busy_timeout makes writers queue instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # first: the next one may wait
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL is still safe against a crash of the process; only a power loss may undo
    # the last commits. FULL would sync the disk on every commit, the main cost of a write.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(settings: Settings, *, pool_timeout_s: float = 30.0) -> AsyncEngine:
    """`pool_timeout_s`: how long a caller waits for a free connection before TimeoutError."""
    url = settings.database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_timeout=pool_timeout_s)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_timeout=pool_timeout_s)


_write_locks: WeakKeyDictionary[AsyncEngine, asyncio.Lock] = WeakKeyDictionary()


def writes(engine: AsyncEngine) -> AbstractAsyncContextManager[Any]:
    """Hold while writing through a busy SQLite engine: one write transaction at a time per process.
    A writer that finds the database locked sleeps in SQLite's busy handler (up to 100 ms a try)
    and can lose to newcomers for seconds, while these writers queue in order. PostgreSQL: nothing."""
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    if (lock := _write_locks.get(engine)) is None:
        lock = _write_locks[engine] = asyncio.Lock()
    return lock


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def migrate(settings: Settings, revision: str = "head") -> None:
    """Apply Alembic migrations (blocking: call from a thread inside an event loop)."""
    # Imported here: alembic (with mako and pygments) is 7 MB that workers, which never migrate,
    # would otherwise hold for life.
    from alembic import command  # noqa: PLC0415
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", "blogqueue:migrations")
    config.attributes["settings"] = settings
    command.upgrade(config, revision)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
