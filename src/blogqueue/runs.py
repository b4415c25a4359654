"""Generation runs: create one (validated, then its planning job queued), claim its titles, and
count its posts as they finish. Counters change with single UPDATE statements, so parallel
workers never lose an increment."""

from __future__ import annotations

from typing import Any

import msgspec
from croniter import croniter
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.errors import InvalidInput, NotFound
from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.models import BlogPost, GenerationRun, RunMode, RunStatus, TitleClaim, utcnow
from blogqueue.payloads import GenerateRun
from blogqueue.queues import MAX_PRIORITY, JobName
from blogqueue.registry import ModelRegistry
from blogqueue.titles import MOVIE_ONLY, TV_ONLY, MediaType, Source, TitleFilters, TrendingWindow

MAX_POSTS_PER_RUN = 50
MIN_INTERVAL_MINUTES = 5  # a continuous run plans at most this often
FINISHED = {RunStatus.COMPLETED.value, RunStatus.FAILED.value, RunStatus.CANCELLED.value}


class RunSpec(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    source: Source
    media_type: MediaType
    count: int
    filters: TitleFilters = TitleFilters()
    trending_window: TrendingWindow = TrendingWindow.WEEK
    priority: int | None = None
    mode: RunMode = RunMode.BATCH
    interval_minutes: int | None = None
    cron: str | None = None
    budget_usd: float | None = None


def spec_problems(spec: RunSpec, registry: ModelRegistry) -> list[tuple[str, str]]:
    """Every problem with a spec, as (field, message) pairs; empty when it is valid."""
    problems: list[tuple[str, str]] = []
    if not 1 <= spec.count <= MAX_POSTS_PER_RUN:
        problems.append(("count", f"count must be from 1 to {MAX_POSTS_PER_RUN}"))
    if spec.source in MOVIE_ONLY and spec.media_type is not MediaType.MOVIE:
        problems.append(("source", f"source {spec.source} is for movies only"))
    if spec.source in TV_ONLY and spec.media_type is not MediaType.TV:
        problems.append(("source", f"source {spec.source} is for TV shows only"))
    filters = spec.filters
    if filters.min_rating is not None and not 0 <= filters.min_rating <= 10:
        problems.append(("filters.minRating", "minRating must be from 0 to 10"))
    for name, year in (("yearFrom", filters.year_from), ("yearTo", filters.year_to)):
        if year is not None and not 1870 <= year <= 2100:
            problems.append((f"filters.{name}", f"{name} must be a year from 1870 to 2100"))
    if filters.year_from is not None and filters.year_to is not None and filters.year_from > filters.year_to:
        problems.append(("filters.yearFrom", "yearFrom must not be after yearTo"))
    if spec.priority is not None and not 0 <= spec.priority <= MAX_PRIORITY:
        problems.append(("priority", f"priority must be from 0 to {MAX_PRIORITY}"))
    if spec.budget_usd is not None and not spec.budget_usd > 0:
        problems.append(("budgetUsd", "budgetUsd must be more than 0"))
    problems += _schedule_problems(spec)
    try:
        registry.require_usable(spec.model)
    except InvalidInput as err:
        problems.append(("model", err.message))
    return problems


def _schedule_problems(spec: RunSpec) -> list[tuple[str, str]]:
    if spec.mode is RunMode.BATCH:
        if spec.interval_minutes is not None or spec.cron is not None:
            return [("mode", "intervalMinutes and cron are for continuous runs")]
        return []
    if (spec.interval_minutes is None) == (spec.cron is None):
        return [("intervalMinutes", "a continuous run needs either intervalMinutes or cron (not both)")]
    if spec.interval_minutes is not None and not MIN_INTERVAL_MINUTES <= spec.interval_minutes <= 7 * 24 * 60:
        return [("intervalMinutes", f"intervalMinutes must be from {MIN_INTERVAL_MINUTES} to 10080 (a week)")]
    if spec.cron is not None and not croniter.is_valid(spec.cron):
        return [("cron", f"{spec.cron!r} is not a valid cron pattern")]
    return []


def validate_spec(spec: RunSpec, registry: ModelRegistry) -> None:
    problems = spec_problems(spec, registry)
    if problems:
        raise InvalidInput(
            "; ".join(message for _, message in problems), field=problems[0][0], errors=problems
        )


async def create_run(
    session: AsyncSession, job_queue: JobQueue, registry: ModelRegistry, user_id: int, spec: RunSpec
) -> GenerationRun:
    """Store the run and queue its planning job (or its scheduler); on failure nothing is left behind."""
    validate_spec(spec, registry)
    run = GenerationRun(
        user_id=user_id,
        model=spec.model,
        source=spec.source.value,
        media_type=spec.media_type.value,
        requested=spec.count,
        filters=msgspec.to_builtins(spec.filters),
        trending_window=spec.trending_window.value,
        mode=spec.mode.value,
        interval_minutes=spec.interval_minutes,
        cron=spec.cron,
        budget_usd=spec.budget_usd,
        priority=spec.priority,
    )
    if spec.mode is RunMode.BATCH:
        run.plan_job_id = await job_queue.reserve_job_id(str(user_id))
    session.add(run)
    await session.commit()
    assert run.id is not None
    payload = GenerateRun(user_id=str(user_id), run_id=run.id)
    try:
        if spec.mode is RunMode.BATCH:
            options = EnqueueOptions(priority=spec.priority, job_id=run.plan_job_id)
            await job_queue.enqueue(JobName.GENERATE, payload, options)
            await job_queue.redis.sadd(job_queue.keys.run_jobs(run.id), str(run.plan_job_id))
        else:
            run.plan_job_id = await job_queue.schedule(
                f"run-{run.id}", JobName.GENERATE, payload, every_ms=(spec.interval_minutes or 0) * 60_000,
                cron=spec.cron,
            )  # fmt: skip
            run.status = RunStatus.RUNNING.value
            session.add(run)
            await session.commit()
    except Exception:
        await session.delete(run)
        await session.commit()
        raise
    return run


async def get_run(session: AsyncSession, run_id: int) -> GenerationRun:
    run = await session.get(GenerationRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id} does not exist")
    return run


async def taken_ids(session: AsyncSession, media_type: MediaType, tmdb_ids: list[int]) -> set[int]:
    """Which of these titles already have a post or a claim."""
    posted = await session.exec(
        select(BlogPost.tmdb_id).where(
            BlogPost.media_type == media_type.value, col(BlogPost.tmdb_id).in_(tmdb_ids)
        )
    )
    claimed = await session.exec(
        select(TitleClaim.tmdb_id).where(
            TitleClaim.media_type == media_type.value, col(TitleClaim.tmdb_id).in_(tmdb_ids)
        )
    )
    return set(posted.all()) | set(claimed.all())


async def claim(session: AsyncSession, media_type: MediaType, tmdb_id: int, run_id: int, job_id: str) -> bool:
    """Reserve a title for a run; False if another run got it first."""
    session.add(TitleClaim(media_type=media_type.value, tmdb_id=tmdb_id, run_id=run_id, job_id=job_id))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def claims_of(session: AsyncSession, run_id: int) -> list[TitleClaim]:
    return list((await session.exec(select(TitleClaim).where(TitleClaim.run_id == run_id))).all())


async def release(session: AsyncSession, media_type: str, tmdb_id: int) -> None:
    """A title whose post failed for good goes back to the pool."""
    claim_row = await session.get(TitleClaim, (media_type, tmdb_id))
    if claim_row is not None:
        await session.delete(claim_row)


async def bump(session: AsyncSession, run_id: int, **increments: int | float) -> None:
    """Add to a run's counters in one statement (call inside the caller's transaction)."""
    values: dict[str, Any] = {
        name: getattr(GenerationRun, name) + amount for name, amount in increments.items()
    }
    await session.exec(update(GenerationRun).where(col(GenerationRun.id) == run_id).values(**values))


async def finish_if_done(session: AsyncSession, run_id: int) -> GenerationRun:
    """Mark the run completed once every planned post has succeeded or failed."""
    run = await get_run(session, run_id)
    await session.refresh(run)
    done = run.posts_done + run.posts_failed >= run.planned
    if run.mode == RunMode.BATCH and run.status == RunStatus.RUNNING and done:
        run.status = RunStatus.COMPLETED.value
        run.finished_at = utcnow()
        run.message = f"{run.posts_done} of {run.planned} posts written" + (
            f", {run.posts_failed} failed" if run.posts_failed else ""
        )
        session.add(run)
        await session.commit()
    return run


async def set_status(session: AsyncSession, run: GenerationRun, status: RunStatus, message: str = "") -> None:
    run.status = status.value
    run.message = message
    if status.value in FINISHED:
        run.finished_at = utcnow()
    session.add(run)
    await session.commit()
