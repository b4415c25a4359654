"""The callable handed to the bullmq Worker: decode each job's payload once from the handler table,
run its handler, and turn a failure into what BullMQ should do (decided in `failures.py`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import structlog
from bullmq import DelayedError, Job, UnrecoverableError

from blogqueue.errors import Cancelled, InvalidJob, Postponed
from blogqueue.payloads import (
    GeneratePost,
    GenerateRun,
    JobPayload,
    PublishPost,
    RunPayload,
    RunRequest,
    SelfTest,
    decode_payload,
)
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from blogworker import failures, metrics
from blogworker.context import WorkerContext
from blogworker.failures import Outcome
from blogworker.generation import give_up, write_post
from blogworker.intake import give_up_request, start_requested_run
from blogworker.planning import give_up_planning, plan_run
from blogworker.publishing import publish_scheduled
from blogworker.reporting import JobReporter
from blogworker.selftest import run_selftest
from blogworker.services import WorkerServices

log = structlog.get_logger("blogworker.processor")

P = TypeVar("P", bound=JobPayload | RunRequest)


@dataclass(frozen=True)
class Handler(Generic[P]):
    """What runs a job name: its payload type, the handler, and what to do once it failed for good."""

    payload_type: type[P]
    run: Callable[[WorkerContext, P], Awaitable[Any]]
    on_final_failure: Callable[[WorkerContext, P, Exception], Awaitable[None]] | None = None
    without_run_id: Handler[Any] | None = None  # for data that carries a run's parameters instead

    def variant(self, data: Any) -> Handler[Any]:
        if self.without_run_id is not None and isinstance(data, dict) and "runId" not in data:
            return self.without_run_id
        return self


HANDLERS: Mapping[str, Handler[Any]] = {
    JobName.SELFTEST: Handler(SelfTest, run_selftest),
    JobName.GENERATE: Handler(
        GenerateRun,
        plan_run,
        give_up_planning,
        without_run_id=Handler(RunRequest, start_requested_run, give_up_request),
    ),
    JobName.GENERATE_POST: Handler(GeneratePost, write_post, give_up),
    JobName.PUBLISH_POST: Handler(PublishPost, publish_scheduled),
}


class Cancellations(Protocol):
    def reason(self, job_id: str) -> str | None: ...

    async def forget(self, job_id: str) -> None: ...


class Processor:
    def __init__(
        self,
        settings: Settings,
        services: WorkerServices,
        cancellations: Cancellations,
        handlers: Mapping[str, Handler[Any]] = HANDLERS,
        worker_name: str = "",
    ) -> None:
        self.settings = settings
        self.services = services
        self.cancellations = cancellations
        self.handlers = handlers
        self.worker_name = worker_name
        self.stopping = asyncio.Event()  # the runner sets it before aborting jobs at shutdown

    async def __call__(self, job: Job, token: str, signal: Any) -> Any:
        with structlog.contextvars.bound_contextvars(job_id=job.id, job_name=job.name):
            # Filed under its user with its first report: a job another producer added while no
            # API followed the event stream is listed too.
            owner = job.data.get("userId") if isinstance(job.data, dict) else None
            ctx = WorkerContext(
                job=job,
                token=token,
                settings=self.settings,
                services=self.services,
                reporter=JobReporter(job, self.services.job_queue, owner),
                signal=signal,
                stopping=self.stopping,
                worker=self.worker_name,
            )
            handler = self.handlers.get(job.name)
            handler = handler.variant(job.data) if handler is not None else None
            payload: Any = None
            async with metrics.timed_job(job.name) as ended:
                try:
                    reason = self.cancellations.reason(str(job.id))
                    if reason is not None:
                        raise Cancelled(reason)
                    if handler is None:
                        raise InvalidJob(f"unknown job name {job.name!r}; known: {', '.join(self.handlers)}")
                    payload = decode_payload(job.data, handler.payload_type)
                    if isinstance(payload, RunPayload):
                        ctx.report_for_run(payload.run_id, payload.user_id)
                    log.info("job_started", attempt=ctx.attempt + 1)
                    result = await handler.run(ctx, payload)
                    await ctx.reporter.flush()
                    return result
                except Exception as err:
                    final = failures.is_final(err, ctx.attempt, ctx.attempts)
                    ended.update(
                        outcome="failed" if final else failures.decide(err).value, reason=type(err).__name__
                    )
                    failure = await self._settle(ctx, handler, payload, err)
                    if failure is err:
                        raise
                    raise failure from err
                finally:
                    ctx.draft = None  # the pair's cycle, broken: see `Draft`

    async def _settle(
        self, ctx: WorkerContext, handler: Handler[Any] | None, payload: Any, err: Exception
    ) -> Exception:
        """Act on the decision for this failure; returns the exception BullMQ should see."""
        await ctx.reporter.flush()
        outcome = failures.decide(err)
        if outcome in (Outcome.HAND_BACK, Outcome.POSTPONE):
            delay_s = err.delay_s if isinstance(err, Postponed) else 0.0
            if delay_s:
                await ctx.reporter.log(f"waiting {delay_s:.1f} s: {err}")
            await ctx.job.moveToDelayed(int((time.time() + delay_s) * 1000), ctx.token)
            delayed: Exception = DelayedError(str(err))
            return delayed
        if isinstance(err, Cancelled):
            await self.cancellations.forget(str(ctx.job.id))
        final = failures.is_final(err, ctx.attempt, ctx.attempts)
        log.warning("job_attempt_failed", outcome=outcome.value, final=final, error=failures.reason(err))
        if final and handler is not None and handler.on_final_failure is not None and payload is not None:
            await handler.on_final_failure(ctx, payload, err)
        if outcome is Outcome.FAIL:
            unrecoverable: Exception = UnrecoverableError(failures.reason(err))
            return unrecoverable
        return err
