"""What job handlers share within one worker process: opened once at start, closed at exit."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import httpx2
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import db
from blogqueue.connection import redis_client
from blogqueue.crypto import KeyCipher
from blogqueue.jobqueue import JobQueue
from blogqueue.queues import Keys
from blogqueue.registry import ModelRegistry, load_registry
from blogqueue.settings import Settings
from blogqueue.titles import TitleCatalog
from blogqueue.tmdb import http_client, open_catalog
from blogworker.cooldown import ProviderCooldown
from blogworker.providers.factory import GeneratorPool

PROVIDER_TIMEOUT_S = 120.0
# A post's read and save go through `connections`; ORM sessions (planning's claims, a run's start
# and end) are brief, and on SQLite write one at a time: two connections serve them, for ~4 MB less
# peak memory than the default pool's bursts of up to 15 (a thread and a connection each).
SQLITE_CONNECTIONS = 2


@dataclass
class WorkerServices:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    connections: db.SyncConnections  # a post's read and save, each as one unit
    cipher: KeyCipher
    registry: ModelRegistry
    catalog: TitleCatalog
    generators: GeneratorPool
    job_queue: JobQueue
    redis: aioredis.Redis  # our own keys: cancel marks and channel, provider cooldowns
    cooldown: ProviderCooldown
    http: httpx2.AsyncClient
    writes: AbstractAsyncContextManager[Any]  # db.writes: on SQLite, this process's writers queue here

    @classmethod
    def open(cls, settings: Settings) -> WorkerServices:
        """Fails at once, not at the first job, if the key ring is missing or malformed."""
        cipher = KeyCipher.from_settings(settings)
        engine = db.create_engine(settings, sqlite_pool_size=SQLITE_CONNECTIONS)
        http = http_client(settings.tmdb_timeout_s)
        redis = redis_client(settings)
        return cls(
            engine=engine,
            sessions=db.session_factory(engine),
            connections=db.SyncConnections(engine),
            cipher=cipher,
            registry=load_registry(),
            catalog=open_catalog(settings, http),
            generators=GeneratorPool(
                base_urls=settings.provider_base_urls(), timeout_s=settings.provider_timeout_s
            ),
            job_queue=JobQueue(settings),
            redis=redis,
            cooldown=ProviderCooldown(redis, Keys(settings.queue_prefix)),
            http=http,
            writes=db.writes(engine),
        )

    async def aclose(self) -> None:
        await self.generators.aclose()
        await self.catalog.aclose()
        await self.http.aclose()
        await self.engine.dispose()
        self.connections.dispose()
        await self.job_queue.close()
        await self.redis.aclose()
