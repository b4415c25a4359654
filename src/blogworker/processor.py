"""Dispatch by job name; what a failure means is decided in `failures.py`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import structlog
from bullmq import DelayedError, Job, UnrecoverableError

from blogqueue.queues import JobName
from blogqueue.settings import Settings
from blogworker.context import SHUTDOWN_REASON, JobCancelled, WorkerContext
from blogworker.failures import classify
from blogworker.generation import write_post
from blogworker.planning import plan_run
from blogworker.reporting import JobReporter
from blogworker.selftest import run_selftest
from blogworker.services import WorkerServices

log = structlog.get_logger("blogworker.processor")

Handler = Callable[[WorkerContext], Awaitable[Any]]
HANDLERS: Mapping[str, Handler] = {
    JobName.SELFTEST: run_selftest,
    JobName.GENERATE: plan_run,
    JobName.GENERATE_POST: write_post,
}


class Cancellations(Protocol):
    def reason(self, job_id: str) -> str | None: ...

    async def forget(self, job_id: str) -> None: ...


class Processor:
    """The callable handed to the bullmq Worker: `(job, token, signal)`."""

    def __init__(
        self,
        settings: Settings,
        cancellations: Cancellations,
        handlers: Mapping[str, Handler] = HANDLERS,
        worker_name: str = "",
        services: WorkerServices | None = None,
    ) -> None:
        self.settings = settings
        self.services = services
        self.worker_name = worker_name
        self.handlers = handlers
        self.cancellations = cancellations

    async def __call__(self, job: Job, token: str, signal: Any) -> Any:
        with structlog.contextvars.bound_contextvars(job_id=job.id, job_name=job.name):
            reason = self.cancellations.reason(str(job.id))
            if reason is not None:
                await self.cancellations.forget(str(job.id))
                raise UnrecoverableError(f"cancelled: {reason}")
            handler = self.handlers.get(job.name)
            if handler is None:
                raise UnrecoverableError(f"unknown job name {job.name!r}; known: {', '.join(self.handlers)}")
            ctx = WorkerContext(
                job=job,
                token=token,
                settings=self.settings,
                reporter=JobReporter(job),
                signal=signal,
                worker=self.worker_name,
                services=self.services,
            )
            log.info("job_started", attempt=ctx.attempt + 1)
            try:
                return await handler(ctx)
            except JobCancelled as err:
                if str(err) == SHUTDOWN_REASON:
                    # Not the job's fault: hand it back at once, without spending an attempt.
                    await job.moveToDelayed(int(time.time() * 1000), token)
                    raise DelayedError(SHUTDOWN_REASON) from err
                await self.cancellations.forget(str(job.id))
                raise classify(err) from err
            except Exception as err:
                raise classify(err) from err
