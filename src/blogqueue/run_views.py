"""What a person sees of runs: their progress, posts written and failed (with the reason), cost
and last log lines, and what a run will probably cost. Cost does not grow with history: a status
page is a few indexed database queries (none per run) and one Redis round trip for its runs (plus a
count of live workers, taken at most every few seconds); a run's post jobs are read a page at a time."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.jobqueue import JobQueue, JobSummary, RunSnapshot
from blogqueue.models import BlogPost, GenerationRun, PostFailure, RunMode
from blogqueue.queues import is_post_job_id, scheduler_id
from blogqueue.registry import ModelRegistry
from blogqueue.runs import ACTIVE, FINISHED, RunSpec, get_run
from blogqueue.schemas import CostEstimate, PostOutcome, PostOutcomePage, RunView, StatusResponse
from blogqueue.settings import Settings
from blogqueue.waits import hold_ups

# What one post typically costs in tokens (prompt with facts; a 600-900 word post): for estimates.
TYPICAL_INPUT_TOKENS = 1_200
TYPICAL_OUTPUT_TOKENS = 1_400
MAX_RUNS_PER_PAGE = 50
LOG_LINES = 20
POSTS_PER_RUN = 50  # written posts a status page shows per run (a batch has at most 50)


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


async def status_page(
    session: AsyncSession, job_queue: JobQueue, settings: Settings, user_id: int, *,
    run_id: int | None = None, page: int = 1, page_size: int = 10,
) -> StatusResponse:  # fmt: skip
    """A user's runs, active ones first, newest first, a page at a time; while one is unfinished,
    also what keeps queued jobs waiting."""
    where = [GenerationRun.user_id == user_id] + ([GenerationRun.id == run_id] if run_id is not None else [])
    rows, total = await _runs_page(session, where, (page - 1) * page_size, page_size)
    ids = [run.id for run in rows if run.id is not None]
    written = await _written_posts(session, ids)
    failed = await _failed_posts(session, ids)
    await session.commit()  # hand the connection back before waiting on Redis
    schedulers = {
        run.id: scheduler_id(run.id)
        for run in rows
        if run.id is not None and run.mode == RunMode.CONTINUOUS and run.status not in FINISHED
    }
    snapshots, metrics, throttles = await job_queue.run_snapshots(
        ids, schedulers, LOG_LINES, settings.limiter_max
    )
    views = [_view(run, written[run.id or 0] + failed[run.id or 0], snapshots[run.id or 0]) for run in rows]
    unfinished = any(run.status not in FINISHED for run in rows)
    held = await hold_ups(job_queue, settings, metrics, throttles) if unfinished else []
    return StatusResponse(views, metrics, page, page_size, total, held)


async def _runs_page(
    session: AsyncSession, where: list[Any], offset: int, limit: int
) -> tuple[list[GenerationRun], int]:
    """A page of the matching runs, active first, then finished, each newest first, and how many match:
    two index walks (active, then finished) rather than sorting every run the user ever started."""
    active, finished = col(GenerationRun.status).in_(ACTIVE), col(GenerationRun.status).in_(FINISHED)
    count = sa.select(func.count()).select_from(GenerationRun)
    counts = select(count.where(*where).scalar_subquery(), count.where(*where, active).scalar_subquery())
    total, n_active = (await session.exec(counts)).one()
    newest_first = select(GenerationRun).order_by(col(GenerationRun.id).desc())
    rows: list[GenerationRun] = []
    if offset < n_active:
        rows += (await session.exec(newest_first.where(*where, active).offset(offset).limit(limit))).all()
    if len(rows) < limit:
        skip = max(0, offset - n_active)
        # PostgreSQL reads each statement afresh: a run listed as active may have finished since.
        unlisted = [col(GenerationRun.id).not_in([run.id for run in rows])] if rows else []
        rows += (
            await session.exec(
                newest_first.where(*where, finished, *unlisted).offset(skip).limit(limit - len(rows))
            )
        ).all()
    return rows, int(total)


_POST_FIELDS = ("run_id", "job_id", "tmdb_id", "media_type", "title", "slug", "incomplete", "tokens_in",
                "tokens_out", "cost_usd")  # fmt: skip


async def _post_rows(session: AsyncSession, where: Any, limit: int) -> list[tuple[int | None, PostOutcome]]:
    """(run id, outcome) of the posts matching `where`, newest first; never their bodies."""
    columns = [col(getattr(BlogPost, name)) for name in _POST_FIELDS]
    query = sa.select(*columns).where(where).order_by(col(BlogPost.id).desc()).limit(limit)
    found = []
    connection = await session.connection()  # Core rows, not models: no ORM work per row
    for row in (await connection.execute(query)).mappings():
        written = PostOutcome(
            job_id=row["job_id"],
            tmdb_id=row["tmdb_id"],
            media_type=str(row["media_type"]),
            state="cancelled" if row["incomplete"] else "saved",
            title=row["title"],
            slug=row["slug"],
            incomplete=row["incomplete"],
            tokens_in=row["tokens_in"],
            tokens_out=row["tokens_out"],
            cost_usd=row["cost_usd"],
        )
        found.append((row["run_id"], written))
    return found


async def _written_posts(session: AsyncSession, run_ids: list[int]) -> dict[int, list[PostOutcome]]:
    """The posts these runs wrote (complete or cut short), newest first, up to POSTS_PER_RUN each."""
    found: dict[int, list[PostOutcome]] = defaultdict(list)
    if run_ids:
        rows = await _post_rows(session, col(BlogPost.run_id).in_(run_ids), POSTS_PER_RUN * len(run_ids))
        for run_id, outcome in rows:
            if run_id is not None and len(found[run_id]) < POSTS_PER_RUN:
                found[run_id].append(outcome)
    return found


async def _failed_posts(session: AsyncSession, run_ids: list[int]) -> dict[int, list[PostOutcome]]:
    """The titles these runs failed for good, with the reason, newest first, up to POSTS_PER_RUN each."""
    found: dict[int, list[PostOutcome]] = defaultdict(list)
    if not run_ids:
        return found
    query = (
        select(PostFailure)
        .where(col(PostFailure.run_id).in_(run_ids))
        .order_by(col(PostFailure.id).desc())
        .limit(POSTS_PER_RUN * len(run_ids))
    )
    for failure in (await session.exec(query)).all():
        if len(found[failure.run_id]) < POSTS_PER_RUN:
            found[failure.run_id].append(failed_outcome(failure))
    return found


def failed_outcome(failure: PostFailure) -> PostOutcome:
    return PostOutcome(
        job_id=failure.job_id,
        tmdb_id=failure.tmdb_id,
        media_type=str(failure.media_type),
        state="failed",
        title=failure.title,
        reason=failure.reason,
    )


async def _posts_of_jobs(session: AsyncSession, job_ids: list[str]) -> dict[str, PostOutcome]:
    if not job_ids:
        return {}
    rows = await _post_rows(session, col(BlogPost.job_id).in_(job_ids), len(job_ids))
    return {outcome.job_id: outcome for _, outcome in rows}


def _view(run: GenerationRun, posts: list[PostOutcome], snapshot: RunSnapshot) -> RunView:
    assert run.id is not None
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
        released=run.released,
        budget_usd=run.budget_usd,
        interval_minutes=run.interval_minutes,
        cron=run.cron,
        next_tick_at=snapshot.next_tick_at,
        message=run.message,
        created_at=run.created_at,
        finished_at=run.finished_at,
        posts=posts,
        last_logs=snapshot.last_logs,
    )


async def post_outcomes(
    session: AsyncSession, job_queue: JobQueue, run_id: int, *, page: int = 1, page_size: int = 50
) -> PostOutcomePage:
    """One page of a run's post jobs with their state and reason; written ones carry their post."""
    run = await get_run(session, run_id)
    await session.commit()  # hand the connection back before waiting on Redis
    assert run.id is not None
    ids = [job_id for job_id in await job_queue.run_job_ids(run.id) if is_post_job_id(job_id)]
    start = (page - 1) * page_size
    jobs = [job for job in await job_queue.load_jobs(ids[start : start + page_size]) if job is not None]
    written = await _posts_of_jobs(session, [job.id for job in jobs])
    await session.commit()
    return PostOutcomePage([_outcome(job, written.get(job.id)) for job in jobs], page, page_size, len(ids))


def every_title(view: RunView, jobs: PostOutcomePage) -> list[PostOutcome]:
    """A run page's titles: those written or failed for good (from the database, so they outlive
    their jobs), then the ones still queued or running."""
    known = {post.job_id for post in view.posts}
    return view.posts + [job for job in jobs.items if job.job_id not in known and job.state != "failed"]


def _outcome(job: JobSummary, post: PostOutcome | None) -> PostOutcome:
    if post is not None:
        return post
    return PostOutcome(
        job_id=job.id,
        tmdb_id=int(job.data.get("tmdbId", 0)),
        media_type=str(job.data.get("mediaType", "")),
        state=job.state,
        reason=job.failed_reason,
    )
