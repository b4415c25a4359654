"""Stopping a run, from the API or from a worker (budget reached): remove its scheduler, remove its
waiting and delayed jobs, and abort its active ones in whichever worker runs them."""

from __future__ import annotations

import msgspec
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import run_events, runs
from blogqueue.errors import NotFound
from blogqueue.jobqueue import CancelOutcome, JobQueue
from blogqueue.models import GenerationRun, RunMode, RunStatus
from blogqueue.run_events import RunEvent


class StopReport(msgspec.Struct, frozen=True, rename="camel"):
    run_id: int
    status: str
    removed: int  # waiting or delayed jobs taken off the queue
    cancelling: int  # active jobs being aborted
    already_stopped: bool = False


def scheduler_id(run_id: int) -> str:
    return f"run-{run_id}"


async def stop_run(session: AsyncSession, job_queue: JobQueue, run: GenerationRun, reason: str) -> StopReport:
    """Idempotent: stopping a finished run changes nothing and says so."""
    assert run.id is not None
    if run.status in runs.FINISHED:
        return StopReport(run.id, run.status, 0, 0, already_stopped=True)
    # Mark it first: jobs that start from now on see the run is over and end at once.
    await runs.set_status(session, run, RunStatus.CANCELLED, reason)
    if run.mode == RunMode.CONTINUOUS:
        await job_queue.queue.removeJobScheduler(scheduler_id(run.id))
    removed = cancelling = 0
    for job_id in sorted(await job_queue.redis.smembers(job_queue.keys.run_jobs(run.id))):
        try:
            outcome = await job_queue.cancel_job(str(job_id), reason)
        except NotFound:
            continue
        removed += outcome is CancelOutcome.REMOVED
        cancelling += outcome is CancelOutcome.CANCELLING
    if removed:
        await job_queue.redis.decrby(job_queue.keys.queued_posts(str(run.user_id)), removed)
    await run_events.publish(job_queue.redis, job_queue.settings.queue_prefix, RunEvent(
        kind="run-finished", run_id=run.id, user_id=str(run.user_id), message=f"stopped: {reason}",
        data={"status": RunStatus.CANCELLED.value},
    ))  # fmt: skip
    return StopReport(run.id, RunStatus.CANCELLED.value, removed, cancelling)
