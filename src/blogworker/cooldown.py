"""While a provider rate-limits us, other jobs for it wait instead of adding to the pile: one
Redis key per provider, set for as long as the provider said to stay away.

Every post asks before it calls its provider, so a process reads the key at most every
REFRESH_S per provider and answers from what it read meanwhile: a cooldown another worker starts
reaches this one within that, one this process starts at once."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from blogqueue.queues import Keys

REFRESH_S = 0.5


class ProviderCooldown:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._until: dict[str, float] = {}  # provider -> end of its cooldown, by this process's clock
        self._read_at: dict[str, float] = {}  # provider -> when the key was last read

    async def remaining_s(self, provider: str) -> float:
        """Seconds left of the provider's cooldown; 0 when there is none."""
        now = time.monotonic()
        if now - self._read_at.get(provider, -REFRESH_S) >= REFRESH_S:
            self._read_at[provider] = now  # first: jobs asking meanwhile take what is known
            left_ms = max(0, int(await self._redis.pttl(self._keys.cooldown(provider))))
            self._until[provider] = max(self._until.get(provider, 0.0), now + left_ms / 1000)
        return max(0.0, self._until.get(provider, 0.0) - time.monotonic())

    async def start(self, provider: str, seconds: float) -> None:
        """Stay away from the provider for `seconds`, or longer if an earlier cooldown says so."""
        key, ms = self._keys.cooldown(provider), max(1, int(seconds * 1000))
        self._until[provider] = max(self._until.get(provider, 0.0), time.monotonic() + seconds)
        await self._redis.set(key, "1", px=ms, nx=True)
        await self._redis.pexpire(key, ms, gt=True)
