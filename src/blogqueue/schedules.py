"""A continuous run's schedule, changed while it runs: a new interval or cron pattern, pause and
resume. The BullMQ job scheduler is replaced (upsert) or removed; a changed or resumed schedule
plans its next batch at once, as a new continuous run does."""

from __future__ import annotations

from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import runs
from blogqueue.errors import Conflict, InvalidInput
from blogqueue.jobqueue import JobQueue
from blogqueue.models import GenerationRun, RunMode, RunStatus
from blogqueue.payloads import GenerateRun
from blogqueue.queues import JobName, scheduler_id
from blogqueue.runs import RunSpec
from blogqueue.schemas import ScheduleRequest, ScheduleView


def view(run: GenerationRun) -> ScheduleView:
    return ScheduleView(run.id or 0, run.status, run.interval_minutes, run.cron)


def _require_continuous(run: GenerationRun, *states: RunStatus) -> None:
    if run.mode != RunMode.CONTINUOUS or run.status not in states:
        wanted = " or ".join(states)
        raise Conflict(
            f"run {run.id} is a {run.mode} run, {run.status}: this needs a continuous run {wanted}"
        )


async def _upsert(job_queue: JobQueue, run: GenerationRun) -> None:
    assert run.id is not None
    payload = GenerateRun(user_id=str(run.user_id), run_id=run.id)
    await job_queue.schedule(scheduler_id(run.id), JobName.GENERATE, payload,
                             every_ms=(run.interval_minutes or 0) * 60_000, cron=run.cron)  # fmt: skip


async def reschedule(
    session: AsyncSession, job_queue: JobQueue, run: GenerationRun, request: ScheduleRequest
) -> GenerationRun:
    """Every `intervalMinutes` or on `cron` from now on (checked as at creation)."""
    _require_continuous(run, RunStatus.RUNNING, RunStatus.PAUSED)
    spec = RunSpec(model=run.model, source=run.source, media_type=run.media_type, count=run.requested,
                   mode=RunMode.CONTINUOUS, interval_minutes=request.interval_minutes,
                   cron=request.cron)  # fmt: skip
    if problems := runs.schedule_problems(spec):
        raise InvalidInput.of(problems)
    run.interval_minutes, run.cron = request.interval_minutes, request.cron
    session.add(run)
    await session.commit()
    if run.status == RunStatus.RUNNING:
        await _upsert(job_queue, run)
    await job_queue.runs_changed(run.user_id)
    return run


async def pause(session: AsyncSession, job_queue: JobQueue, run: GenerationRun) -> GenerationRun:
    """No more ticks until resumed; posts already queued are still written."""
    _require_continuous(run, RunStatus.RUNNING)
    assert run.id is not None
    await job_queue.remove_scheduler(scheduler_id(run.id))
    await runs.set_status(session, run, RunStatus.PAUSED, "paused")
    await job_queue.runs_changed(run.user_id)
    return run


async def resume(session: AsyncSession, job_queue: JobQueue, run: GenerationRun) -> GenerationRun:
    _require_continuous(run, RunStatus.PAUSED)
    await _upsert(job_queue, run)
    await runs.set_status(session, run, RunStatus.RUNNING, "")
    await job_queue.runs_changed(run.user_id)
    return run


class Switch(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"


async def switch(session: AsyncSession, job_queue: JobQueue, run: GenerationRun, to: Switch) -> GenerationRun:
    return await (pause if to is Switch.PAUSE else resume)(session, job_queue, run)
