"""Our own Redis client: commands packed in C, with the same bytes on the wire as redis-py's."""

from pathlib import Path

import redis.asyncio as aioredis

from blogqueue.connection import redis_client
from tests.conftest import make_settings


async def test_our_client_packs_in_c_and_round_trips_every_kind_of_value(
    redis_url: str, tmp_path: Path
) -> None:
    client = redis_client(make_settings(redis_url, tmp_path / "data"))
    python = aioredis.Connection()
    try:
        connection_class = client.connection_pool.connection_class
        args = ("ZADD", "k", 1764540000123.0, "été ✓", 0.1, b"raw", 5)
        assert connection_class.pack_command is not aioredis.Connection.pack_command
        assert b"".join(connection_class().pack_command(*args)) == b"".join(python.pack_command(*args))

        async with client.pipeline(transaction=False) as pipe:
            pipe.delete("conn-test:h", "conn-test:z")
            pipe.hset("conn-test:h", mapping={"text": "été ✓", "number": 7, "ratio": 0.25})
            pipe.zadd("conn-test:z", {"job-1": 1764540000123.0})
            pipe.hgetall("conn-test:h")
            pipe.zscore("conn-test:z", "job-1")
            *_, stored, score = await pipe.execute()
        assert stored == {"text": "été ✓", "number": "7", "ratio": "0.25"}
        assert score == 1764540000123.0
    finally:
        await client.aclose()
