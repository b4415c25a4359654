"""Dispatch by job name, and the one place that decides retry versus fail."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from bullmq import DelayedError, Job, UnrecoverableError

from blogqueue.errors import InvalidInput
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from blogworker.context import SHUTDOWN_REASON, JobCancelled, WorkerContext
from blogworker.reporting import JobReporter
from blogworker.selftest import run_selftest

log = structlog.get_logger("blogworker.processor")

Handler = Callable[[WorkerContext], Awaitable[Any]]
HANDLERS: Mapping[str, Handler] = {JobName.SELFTEST: run_selftest}


def classify(err: Exception) -> Exception:
    """Map an error from a handler to what BullMQ should do with the job.

    UnrecoverableError fails at once; DelayedError keeps the attempt; anything else is retried
    with the job's backoff until its attempts run out.
    """
    if isinstance(err, UnrecoverableError | DelayedError):
        return err
    if isinstance(err, JobCancelled):
        return UnrecoverableError(f"cancelled: {err}")
    if isinstance(err, InvalidInput):
        return UnrecoverableError(str(err))
    return err


class Processor:
    """The callable handed to the bullmq Worker: `(job, token, signal)`."""

    def __init__(
        self,
        settings: Settings,
        is_cancel_marked: Callable[[str], Awaitable[str | None]],
        handlers: Mapping[str, Handler] = HANDLERS,
        worker_name: str = "",
    ) -> None:
        self.settings = settings
        self.worker_name = worker_name
        self.handlers = handlers
        self._is_cancel_marked = is_cancel_marked

    async def __call__(self, job: Job, token: str, signal: Any) -> Any:
        with structlog.contextvars.bound_contextvars(job_id=job.id, job_name=job.name):
            reason = await self._is_cancel_marked(str(job.id))
            if reason is not None:
                raise UnrecoverableError(f"cancelled: {reason}")
            handler = self.handlers.get(job.name)
            if handler is None:
                raise UnrecoverableError(f"unknown job name {job.name!r}; known: {', '.join(self.handlers)}")
            ctx = WorkerContext(
                job=job, settings=self.settings, reporter=JobReporter(job), signal=signal, worker=self.worker_name
            )
            log.info("job_started", attempt=ctx.attempt + 1)
            try:
                return await handler(ctx)
            except JobCancelled as err:
                if str(err) == SHUTDOWN_REASON:
                    # Not the job's fault: hand it back at once, without spending an attempt.
                    await job.moveToDelayed(int(time.time() * 1000), token)
                    raise DelayedError(SHUTDOWN_REASON) from err
                raise classify(err) from err
            except Exception as err:
                raise classify(err) from err
