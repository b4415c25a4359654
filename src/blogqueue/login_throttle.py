"""Failed sign-ins are counted per email and per client address in Redis; past the limit,
sign-in is refused until the window ends (even with the right password)."""

from __future__ import annotations

import redis.asyncio as aioredis

from blogqueue.errors import TooManyRequests
from blogqueue.queues import Keys
from blogqueue.settings import Settings

ADDRESS_FACTOR = 4  # one address may fail for a few accounts before it is stopped too


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self._redis = redis
        self._max = settings.login_max_failures
        self._window_s = settings.login_lockout_s
        self._keys_of = Keys(settings.queue_prefix)

    def _keys(self, email: str, address: str) -> list[tuple[str, int]]:
        return [
            (self._keys_of.login_failures("email", email.strip().lower()), self._max),
            (self._keys_of.login_failures("address", address), self._max * ADDRESS_FACTOR),
        ]

    async def check(self, email: str, address: str) -> None:
        for key, limit in self._keys(email, address):
            failures = int(await self._redis.get(key) or 0)
            if failures >= limit:
                retry_after = max(1, int(await self._redis.ttl(key)))
                raise TooManyRequests(
                    f"too many failed sign-ins; try again in {retry_after} s", retry_after=retry_after
                )

    async def failed(self, email: str, address: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for key, _ in self._keys(email, address):
                pipe.incr(key)
                pipe.expire(key, self._window_s, nx=True)
            await pipe.execute()

    async def succeeded(self, email: str) -> None:
        await self._redis.delete(self._keys(email, "")[0][0])
