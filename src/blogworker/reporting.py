"""One small interface through which a job reports progress and log lines."""

from __future__ import annotations

from typing import Protocol

import msgspec
import structlog
from bullmq import Job

from blogqueue.jobqueue import JobQueue
from blogqueue.run_events import LogLine, Progress, ProgressData

log = structlog.get_logger("blogworker.job")


class Reporter(Protocol):
    async def progress(self, value: int | ProgressData) -> None: ...

    async def log(self, message: str) -> None: ...


class JobReporter:
    """Writes progress and logs to the BullMQ job (visible to Node tools and QueueEvents)."""

    def __init__(self, job: Job) -> None:
        self._job = job

    async def progress(self, value: int | ProgressData) -> None:
        await self._job.updateProgress(value if isinstance(value, int) else msgspec.to_builtins(value))

    async def log(self, message: str) -> None:
        await self._job.log(message)
        log.info("job_log", message=message)


class RunReporter:
    """A job's reporter that also publishes each line and progress step as a run event."""

    def __init__(self, inner: Reporter, job_queue: JobQueue, event: LogLine) -> None:
        self._inner, self._job_queue, self._event = inner, job_queue, event

    async def progress(self, value: int | ProgressData) -> None:
        await self._inner.progress(value)
        data = ProgressData(percent=value) if isinstance(value, int) else value
        event = self._event
        await self._job_queue.publish(
            Progress(run_id=event.run_id, user_id=event.user_id, job_id=event.job_id, data=data)
        )

    async def log(self, message: str) -> None:
        await self._inner.log(message)
        await self._job_queue.publish(msgspec.structs.replace(self._event, message=message))
