"""A provider's cooldown, as one worker process sees it."""

import asyncio

import redis.asyncio as aioredis

from blogqueue.queues import Keys
from blogworker.cooldown import REFRESH_S, ProviderCooldown


async def test_a_cooldown_is_seen_at_once_here_and_within_the_refresh_elsewhere(redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    keys = Keys("cooldown-test")
    here, elsewhere = ProviderCooldown(redis, keys), ProviderCooldown(redis, keys)
    try:
        assert await here.remaining_s("openai") == 0
        assert await elsewhere.remaining_s("openai") == 0

        await here.start("openai", 30)
        assert 29 < await here.remaining_s("openai") <= 30  # this process: at once
        assert await elsewhere.remaining_s("openai") == 0  # another: from what it read last
        assert 29_000 < await redis.pttl(keys.cooldown("openai")) <= 30_000
        await asyncio.sleep(REFRESH_S)
        assert 28 < await elsewhere.remaining_s("openai") <= 30  # ...and within the refresh
        assert await elsewhere.remaining_s("anthropic") == 0  # per provider

        await here.start("openai", 5)  # a shorter one never cuts a longer one short
        assert await here.remaining_s("openai") > 28
        assert await redis.pttl(keys.cooldown("openai")) > 28_000
    finally:
        await redis.aclose()
