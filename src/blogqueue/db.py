"""The async database engine: SQLite (aiosqlite, WAL) by default, PostgreSQL in production; and a
way to run a hot path's statements as one unit of work (`SyncConnections`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from typing import Any, Concatenate, ParamSpec, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event, make_url, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 5_000
P = ParamSpec("P")
T = TypeVar("T")


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


def create_engine(
    settings: Settings, *, pool_timeout_s: float = 30.0, sqlite_pool_size: int | None = None
) -> AsyncEngine:
    """`pool_timeout_s`: how long a caller waits for a free connection before TimeoutError.
    `sqlite_pool_size`: on SQLite, a fixed pool of that many connections, with no overflow. Each
    aiosqlite connection is a thread of its own: the default overflow opens up to ten more in a
    burst and closes each after one use, a thread and a SQLite connection (and its page cache) each."""
    url = settings.database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fixed = {} if sqlite_pool_size is None else {"pool_size": sqlite_pool_size, "max_overflow": 0}
        engine = create_async_engine(url, pool_timeout=pool_timeout_s, **fixed)
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


class SyncConnections:
    """Runs `work(connection, ...)`, a function of a sync SQLAlchemy Connection, as one unit: on
    PostgreSQL through the async engine (`run_sync`); on SQLite over the sqlite3 driver in a thread
    of its own, one unit at a time (SQLite writes one at a time anyway).

    aiosqlite hands each step of each statement (cursor, execute, fetch, close) to its thread and
    back: a post's read and save took twice the CPU that way. A pool of threads took a third more
    than one thread, in hand-offs of the interpreter lock between them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if engine.dialect.name == "sqlite":
            self._sqlite = create_sync_engine(make_url(engine.url).set(drivername="sqlite"))
            event.listen(self._sqlite, "connect", _tune_sqlite)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-units")

    async def run(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        if self._sqlite is None or self._thread is None:
            async with self._engine.connect() as connection:
                return await connection.run_sync(work, *args, **kwargs)
        sqlite = self._sqlite

        def unit() -> T:
            with sqlite.connect() as connection:
                return work(connection, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._thread, unit)

    def dispose(self) -> None:
        if self._thread is not None:
            self._thread.shutdown()
        if self._sqlite is not None:
            self._sqlite.dispose()
