"""One small interface through which a job reports progress and log lines."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
import redis.asyncio as aioredis
import structlog
from bullmq import Job

from blogqueue import run_events
from blogqueue.run_events import RunEvent

log = structlog.get_logger("blogworker.job")


class Reporter(Protocol):
    async def progress(self, value: int | dict[str, Any]) -> None: ...

    async def log(self, message: str) -> None: ...


class JobReporter:
    """Writes progress and logs to the BullMQ job (visible to Node tools and QueueEvents)."""

    def __init__(self, job: Job) -> None:
        self._job = job

    async def progress(self, value: int | dict[str, Any]) -> None:
        await self._job.updateProgress(value)

    async def log(self, message: str) -> None:
        await self._job.log(message)
        log.info("job_log", message=message)


class RunReporter:
    """A job's reporter that also publishes each line and progress step as a run event."""

    def __init__(self, inner: Reporter, redis: aioredis.Redis, prefix: str, event: RunEvent) -> None:
        self._inner, self._redis, self._prefix, self._event = inner, redis, prefix, event

    async def progress(self, value: int | dict[str, Any]) -> None:
        await self._inner.progress(value)
        data = value if isinstance(value, dict) else {"percent": value}
        await run_events.publish(
            self._redis, self._prefix, msgspec.structs.replace(self._event, kind="progress", data=data)
        )

    async def log(self, message: str) -> None:
        await self._inner.log(message)
        await run_events.publish(
            self._redis, self._prefix, msgspec.structs.replace(self._event, kind="log", message=message)
        )

    async def publish(self, kind: str, message: str, data: dict[str, Any]) -> None:
        event = msgspec.structs.replace(self._event, kind=kind, message=message, data=data)
        await run_events.publish(self._redis, self._prefix, event)
