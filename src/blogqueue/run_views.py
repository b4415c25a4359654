"""What a person sees of runs: their progress, posts, cost and last log lines, and what a run will
probably cost. Each view reads the database and the queue; one page of post jobs is one round trip."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.jobqueue import JobQueue
from blogqueue.models import BlogPost, GenerationRun, RunMode
from blogqueue.queues import JobName, scheduler_id
from blogqueue.registry import ModelRegistry
from blogqueue.run_events import LogLine
from blogqueue.runs import FINISHED, RunSpec
from blogqueue.schemas import CostEstimate, PostOutcome, RunView

# What one post typically costs in tokens (prompt with facts; a 600-900 word post): for estimates.
TYPICAL_INPUT_TOKENS = 1_200
TYPICAL_OUTPUT_TOKENS = 1_400
RECENT_RUNS = 10
LOG_LINES = 20
POST_OUTCOMES = 100


def estimate(spec: RunSpec, registry: ModelRegistry) -> CostEstimate:
    per_post = registry.estimate_cost_usd(spec.model, TYPICAL_INPUT_TOKENS, TYPICAL_OUTPUT_TOKENS)
    return CostEstimate(
        model=spec.model,
        posts=spec.count,
        per_post_usd=round(per_post, 6),
        total_usd=round(per_post * spec.count, 6),
        assumption=f"about {TYPICAL_INPUT_TOKENS} input and {TYPICAL_OUTPUT_TOKENS} output tokens per post, "
        "at the registry's current prices" + ("; per tick" if spec.mode is RunMode.CONTINUOUS else ""),
    )


async def _outcomes(session: AsyncSession, job_queue: JobQueue, run: GenerationRun) -> list[PostOutcome]:
    assert run.id is not None
    saved = {
        post.tmdb_id: post
        for post in (await session.exec(select(BlogPost).where(BlogPost.run_id == run.id))).all()
    }
    job_ids = (await job_queue.run_job_ids(run.id))[-POST_OUTCOMES:]
    found: list[PostOutcome] = []
    for job in await job_queue.load_jobs(job_ids):
        if job is None or job.name != JobName.GENERATE_POST:
            continue
        tmdb_id = int(job.data.get("tmdbId", 0))
        outcome = PostOutcome(
            job_id=job.id,
            tmdb_id=tmdb_id,
            media_type=str(job.data.get("mediaType", "")),
            state=job.state,
            reason=job.failed_reason,
        )
        post = saved.get(tmdb_id)
        if post is not None:
            outcome.state = "saved" if not post.incomplete else "cancelled"
            outcome.title, outcome.slug, outcome.incomplete = post.title, post.slug, post.incomplete
            outcome.tokens_in, outcome.tokens_out, outcome.cost_usd = (
                post.tokens_in,
                post.tokens_out,
                post.cost_usd,
            )
        found.append(outcome)
    return found


async def describe(session: AsyncSession, job_queue: JobQueue, run: GenerationRun) -> RunView:
    assert run.id is not None
    next_tick = None
    if run.mode == RunMode.CONTINUOUS and run.status not in FINISHED:
        next_tick = await job_queue.next_tick(scheduler_id(run.id))
    logs = await job_queue.recent_events(run.id, LogLine, LOG_LINES)
    finished = run.posts_done + run.posts_failed
    return RunView(
        id=run.id,
        user_id=run.user_id,
        state=run.status,
        mode=run.mode,
        model=run.model,
        source=run.source,
        media_type=run.media_type,
        requested=run.requested,
        planned=run.planned,
        done=run.posts_done,
        failed=run.posts_failed,
        progress=round(100 * finished / run.planned, 1) if run.planned else 0.0,
        tokens_in=run.tokens_in,
        tokens_out=run.tokens_out,
        cost_usd=round(run.cost_usd, 6),
        budget_usd=run.budget_usd,
        interval_minutes=run.interval_minutes,
        cron=run.cron,
        next_tick_at=next_tick,
        message=run.message,
        created_at=run.created_at,
        finished_at=run.finished_at,
        posts=await _outcomes(session, job_queue, run),
        last_logs=[event.message for event in logs],
    )


async def recent_runs(session: AsyncSession, user_id: int, run_id: int | None = None) -> list[GenerationRun]:
    """A user's active runs and their latest finished ones, newest first."""
    query = select(GenerationRun).where(GenerationRun.user_id == user_id)
    if run_id is not None:
        query = query.where(GenerationRun.id == run_id)
    rows = (await session.exec(query.order_by(col(GenerationRun.id).desc()))).all()
    active = [run for run in rows if run.status not in FINISHED]
    return active + [run for run in rows if run.status in FINISHED][: max(0, RECENT_RUNS - len(active))]
