"""While a provider rate-limits us, other jobs for it wait instead of adding to the pile: one
Redis key per provider, set for as long as the provider said to stay away. A post job reads it
with its first report (`JobReporter.flush(cooldown=...)`)."""

from __future__ import annotations

import redis.asyncio as aioredis

from blogqueue.queues import Keys


class ProviderCooldown:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def start(self, provider: str, seconds: float) -> None:
        """Stay away from the provider for `seconds`, or longer if an earlier cooldown says so."""
        key, ms = self._keys.cooldown(provider), max(1, int(seconds * 1000))
        await self._redis.set(key, "1", px=ms, nx=True)
        await self._redis.pexpire(key, ms, gt=True)
