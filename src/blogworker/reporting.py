"""One small interface through which a job reports progress and log lines."""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from bullmq import Job

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
