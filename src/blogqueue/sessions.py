"""Ending every session of a user at once: each user has a session generation in Redis, which a
password change or a disabled account moves on; a session token carries the generation it was
issued in and is refused once the user's has moved past it. A counter rather than a "valid after"
time, so that neither clock skew between the CLI's host and the API's nor the whole seconds of a
token's `iat` decide which sessions survive."""

from __future__ import annotations

import redis.asyncio as aioredis

from blogqueue.queues import Keys

GENERATION_CLAIM = "gen"  # the token claim holding its generation; tokens without one are generation 0


class SessionGenerations:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def current(self, user_id: int) -> int:
        return int(await self._redis.get(self._keys.session_generation(user_id)) or 0)

    async def end_sessions(self, user_id: int) -> None:
        """Refuse every session token the user holds now; later sign-ins are not affected."""
        await self._redis.incr(self._keys.session_generation(user_id))
