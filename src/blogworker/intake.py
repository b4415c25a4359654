"""A `generate` job that carries a run's parameters instead of a runId (what a Node producer
sends): checked as the API checks a request, turned into a run exactly once, then planned by
this same job as any run is.

The run is keyed by the job (its id and the time it was added), so a retry or a recovery after
a crash finds the run it made instead of making another; a unique column makes that hold even
if two workers raced.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from blogqueue import runs, users
from blogqueue.models import GenerationRun, RunMode, RunStatus
from blogqueue.payloads import GenerateRun, RunRequest
from blogworker.context import WorkerContext
from blogworker.planning import give_up_planning, plan_run


def _request_key(ctx: WorkerContext) -> runs.RequestJob:
    return runs.RequestJob(str(ctx.job.id), int(ctx.job.timestamp or 0))


async def _run_of(ctx: WorkerContext, request: RunRequest) -> GenerationRun:
    key = _request_key(ctx)
    svc = ctx.services
    async with svc.sessions() as session:
        run = await runs.run_for_request(session, key)
        if run is not None and run.mode == RunMode.CONTINUOUS and run.status == RunStatus.PLANNING:
            await runs.start_schedule(session, svc.job_queue, run)  # a crash came between the two
        if run is not None:
            return run
        user = await users.by_reference(session, request.user_id)
        assert user.id is not None
        spec = await runs.admit(session, svc.registry, ctx.settings, user, request)
        try:
            return await runs.create_run(session, svc.job_queue, user.id, spec, key)
        except IntegrityError:  # another worker created it first
            await session.rollback()
            found = await runs.run_for_request(session, key)
            if found is None:
                raise
            return found


async def start_requested_run(ctx: WorkerContext, request: RunRequest) -> dict[str, Any]:
    run = await _run_of(ctx, request)
    assert run.id is not None
    ctx.report_for_run(run.id, str(run.user_id))
    if run.mode == RunMode.CONTINUOUS:  # its scheduler plans each tick
        await ctx.reporter.log(f"continuous run {run.id} created; scheduler {run.plan_job_id}")
        return {"runId": run.id, "scheduler": run.plan_job_id}
    return await plan_run(ctx, GenerateRun(user_id=str(run.user_id), run_id=run.id))


async def give_up_request(ctx: WorkerContext, request: RunRequest, err: Exception) -> None:
    """The job failed for good: the run it made, if it made one, fails as any run's planning does."""
    async with ctx.services.sessions() as session:
        run = await runs.run_for_request(session, _request_key(ctx))
    if run is not None and run.id is not None:
        await give_up_planning(ctx, GenerateRun(user_id=str(run.user_id), run_id=run.id), err)
