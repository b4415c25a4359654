"""The one Redis connection factory for every Queue, Worker, QueueEvents and our own keys.

redis-py 8 defaults to a 5 s socket timeout, shorter than BullMQ's blocking commands (BZPOPMIN up
to 10 s, XREAD BLOCK 10 s). bullmq then re-sends them through its retry backoff and delayed jobs,
backoff retries and QueueEvents stall for seconds to minutes. We never time out reads; TCP
keepalive finds dead peers instead.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.connection import HiredisRespSerializer

from blogqueue.settings import Settings

CONNECT_TIMEOUT_S = 5.0


def _keepalive_options() -> dict[int, int]:
    names = {"TCP_KEEPIDLE": 30, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3}
    return {getattr(socket, name): value for name, value in names.items() if hasattr(socket, name)}


def connection_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for redis-py, as bullmq accepts them under `connection`."""
    url = urlsplit(settings.redis_url)
    db = (url.path or "/0").lstrip("/") or "0"
    return {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 6379,
        "db": int(db),
        "username": unquote(url.username) if url.username else None,
        "password": unquote(url.password) if url.password else None,
        "ssl": url.scheme == "rediss",
        "socket_timeout": None,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_keepalive": True,
        "socket_keepalive_options": _keepalive_options(),
    }


class _HiredisPacking:
    """Commands packed by hiredis in C, as redis-py's sync client packs them; its asyncio client
    packs them in Python, which took 70 % of the round trip of a job's report (a dozen commands)."""

    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = self._packer.pack(*args)
        return packed


class _Connection(_HiredisPacking, aioredis.Connection):
    pass


class _SSLConnection(_HiredisPacking, aioredis.SSLConnection):
    pass


def redis_client(settings: Settings) -> aioredis.Redis:
    """A pooled client for BlogQueue's own keys (user index, cancel marks, pub/sub, reports)."""
    options = connection_options(settings)
    connection_class = _SSLConnection if options.pop("ssl") else _Connection
    pool = aioredis.ConnectionPool(connection_class=connection_class, decode_responses=True, **options)
    return aioredis.Redis.from_pool(pool)
