"""Cancellation from other processes: bullmq can only abort a job inside the worker running it.

Producers write a durable mark and publish on a channel. This bridge loads the marks whenever it
(re)subscribes, then follows the channel, so a worker knows every cancelled job in memory: the
check when a job starts costs no round trip, and a missed message is covered by the marks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec
import redis.asyncio as aioredis
import structlog

from blogqueue.jobqueue import CancelMark, CancelMessage
from blogqueue.queues import Keys

log = structlog.get_logger("blogworker.cancellation")

MARK_MAX_AGE_MS = 7 * 24 * 3600 * 1000
RESUBSCRIBE_DELAY_S = 1.0


class CancelBridge:
    def __init__(self, redis: aioredis.Redis, keys: Keys, on_cancel: Callable[[str, str], None]) -> None:
        self._redis = redis
        self._keys = keys
        self._on_cancel = on_cancel
        self._reasons: dict[str, str] = {}
        self.ready = asyncio.Event()

    def reason(self, job_id: str) -> str | None:
        """Why the job was cancelled, or None if it was not."""
        return self._reasons.get(job_id)

    async def run(self) -> None:
        """Follow cancellations until cancelled; reconnect whenever Redis goes away."""
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._keys.cancel_channel)
                    await self._load_marks()  # after subscribing, so nothing falls in between
                    self.ready.set()
                    async for message in pubsub.listen():
                        cancel = msgspec.json.decode(message["data"], type=CancelMessage)
                        self._cancel(cancel.job_id, cancel.reason)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - Redis went away or a bad message: resubscribe
                log.warning("cancel_bridge_reconnect", error=repr(err))
                await asyncio.sleep(RESUBSCRIBE_DELAY_S)

    async def _load_marks(self) -> None:
        raw = await self._redis.hgetall(self._keys.cancel_marks)
        cutoff = time.time() * 1000 - MARK_MAX_AGE_MS
        marks = {str(job_id): msgspec.json.decode(value, type=CancelMark) for job_id, value in raw.items()}
        stale = [job_id for job_id, mark in marks.items() if mark.at < cutoff]
        if stale:
            await self._redis.hdel(self._keys.cancel_marks, *stale)
        for job_id, mark in marks.items():
            if mark.at >= cutoff:
                self._cancel(job_id, mark.reason)

    def _cancel(self, job_id: str, reason: str) -> None:
        self._reasons[job_id] = reason
        self._on_cancel(job_id, reason)

    async def forget(self, job_id: str) -> None:
        """The job has ended: drop its mark here and in Redis."""
        if self._reasons.pop(job_id, None) is not None:
            await self._redis.hdel(self._keys.cancel_marks, job_id)
