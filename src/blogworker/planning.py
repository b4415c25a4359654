"""The `generate` job: choose a run's titles, claim them, and queue one `generate-post` each.

Each post is an independent job (not a BullMQ flow) so a failing title is retried or fails on
its own, a stop removes the waiting ones, and a crash of this job is harmless: on a retry the
run's claims are reused and post job ids are derived from the run and title, so re-adding them
is a no-op.
"""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec

from blogqueue import claims, runs
from blogqueue.errors import NotFound
from blogqueue.models import GenerationRun, RunMode, RunStatus
from blogqueue.payloads import GeneratePost, GenerateRun, JobPayload
from blogqueue.queues import MAX_PRIORITY, JobName, plan_id, post_job_id
from blogqueue.run_events import ProgressData
from blogqueue.titles import MediaType, TitleFilters, TitleSummary
from blogqueue.tmdb import find_new_titles
from blogworker import failures
from blogworker.context import WorkerContext

PLAN_ROUNDS = 3  # find + claim passes, in case parallel runs claim some candidates first


async def _claim_titles(ctx: WorkerContext, run: GenerationRun, plan: str) -> list[tuple[MediaType, int]]:
    svc = ctx.services
    assert run.id is not None
    media_type = run.media_type
    filters = msgspec.convert(run.filters, TitleFilters)
    async with svc.sessions() as session:  # a retried planning job reuses what it claimed before
        mine = [c for c in await claims.claims_of(session, run.id) if c.job_id.startswith(f"{plan}-")]
    claimed = [(c.media_type, c.tmdb_id) for c in mine]
    for _ in range(PLAN_ROUNDS):
        missing = run.requested - len(claimed)
        if missing <= 0:
            break

        async def exclude(page: list[TitleSummary]) -> set[int]:
            async with svc.sessions() as session:
                return await claims.taken_ids(session, media_type, [title.tmdb_id for title in page])

        found = await find_new_titles(
            svc.catalog,
            run.source,
            media_type,
            filters,
            missing,
            exclude=exclude,
            window=run.trending_window,
        )
        if not found:
            break
        wanted = [(t.media_type, t.tmdb_id, post_job_id(plan, t.media_type, t.tmdb_id)) for t in found]
        async with svc.writes, svc.sessions() as session:
            got = await claims.claim_many(session, run.id, wanted)
        mine_now = [title for title in found if (title.media_type, title.tmdb_id) in got]
        claimed += [(title.media_type, title.tmdb_id) for title in mine_now]
        await ctx.reporter.report(
            *(
                f"candidate: {t.title} ({t.year or 'year unknown'}), TMDb {t.media_type} {t.tmdb_id}"
                for t in mine_now
            )
        )
    return claimed[: run.requested]


async def plan_run(ctx: WorkerContext, payload: GenerateRun) -> dict[str, Any]:
    svc = ctx.services
    async with svc.sessions() as session:
        run = await runs.get_run(session, payload.run_id)
    assert run.id is not None
    if run.status in runs.FINISHED:
        return {"runId": run.id, "planned": 0, "skipped": f"run is {run.status}"}
    await svc.job_queue.track_run_jobs(run.user_id, run.id, str(ctx.job.id))
    plan = plan_id(str(ctx.job.id))
    titles = await _claim_titles(ctx, run, plan)
    jobs = await _post_jobs(ctx, run, plan, payload.user_id, titles)
    if jobs:  # queued before the run says "running", so a stop from then on finds them all
        await svc.job_queue.track_run_jobs(run.user_id, run.id, *(job[2] for job in jobs))
        await svc.job_queue.enqueue_many(jobs)
    async with svc.sessions() as session:
        run = await runs.get_run(session, run.id)
        if run.status in runs.FINISHED:  # stopped while planning: take back what was just queued
            for _, _, job_id, _ in jobs:
                with contextlib.suppress(NotFound):
                    await svc.job_queue.cancel_job(job_id, run.message)
            await runs.release_unwritten(session, run, [])
            return {"runId": run.id, "planned": 0, "skipped": f"run is {run.status}"}
        continuous = run.mode == RunMode.CONTINUOUS
        run.planned = run.planned + len(jobs) if continuous else len(jobs)
        if continuous or jobs:
            await runs.set_status(session, run, RunStatus.RUNNING)
            # Its posts start as soon as they are queued, and may all be written by now: a post
            # finishes only a run that says "running".
            if (finished := await runs.finish_if_done(session, run.id or 0)) is not None:
                await ctx.publish(runs.finished_event(finished))
        else:
            await runs.set_status(session, run, RunStatus.FAILED, "no new titles matched")
            await ctx.publish(runs.finished_event(run))
    progress = ProgressData(stage="planned", planned=len(jobs), requested=run.requested)
    await ctx.reporter.report(f"planned {len(jobs)} of {run.requested} posts", progress=progress)
    return {"runId": run.id, "planned": len(jobs)}


async def _post_jobs(
    ctx: WorkerContext, run: GenerationRun, plan: str, user_id: str, titles: list[tuple[MediaType, int]]
) -> list[tuple[JobName, JobPayload, str, int | None]]:
    """One post job per title. Priorities are fair between users: each user's posts are numbered
    after the posts of theirs still waiting, so a small batch is not stuck behind a big one."""
    assert run.id is not None
    if not titles:
        return []
    after = await ctx.services.job_queue.queue_posts(user_id, len(titles))
    base = run.priority or 0
    return [
        (
            JobName.GENERATE_POST,
            GeneratePost(user_id=user_id, run_id=run.id, tmdb_id=tmdb_id, media_type=media_type),
            post_job_id(plan, media_type, tmdb_id),
            min(MAX_PRIORITY, base + max(after, 0) + index + 1),
        )
        for index, (media_type, tmdb_id) in enumerate(titles)
    ]


async def give_up_planning(ctx: WorkerContext, payload: GenerateRun, err: Exception) -> None:
    """Planning failed for good (a bad TMDb key, TMDb down past the retries): the run fails with
    the reason, and a batch run's claimed titles go back to the pool."""
    async with ctx.services.sessions() as session:
        run = await runs.get_run(session, payload.run_id)
        if run.status in runs.FINISHED or run.mode == RunMode.CONTINUOUS:
            return  # a continuous run plans again next tick
        await runs.set_status(session, run, RunStatus.FAILED, f"planning failed: {failures.reason(err)}")
        await runs.release_unwritten(session, run, [])
    await ctx.publish(runs.finished_event(run))
