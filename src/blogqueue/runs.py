"""Generation runs: create one (validated, then its planning job queued), claim its titles, and
count its posts as they finish. Counters change with single UPDATE statements, so parallel
workers never lose an increment."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.errors import InvalidInput, NotFound
from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.models import BlogPost, GenerationRun, RunStatus, TitleClaim, utcnow
from blogqueue.payloads import GenerateRun
from blogqueue.queues import JobName
from blogqueue.registry import ModelRegistry
from blogqueue.titles import MOVIE_ONLY, TV_ONLY, MediaType, Source, TitleFilters, TrendingWindow

MAX_POSTS_PER_RUN = 50
FINISHED = {RunStatus.COMPLETED.value, RunStatus.FAILED.value, RunStatus.CANCELLED.value}


class RunSpec(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    source: Source
    media_type: MediaType
    count: int
    filters: TitleFilters = TitleFilters()
    trending_window: TrendingWindow = TrendingWindow.WEEK
    priority: int | None = None


def validate_spec(spec: RunSpec, registry: ModelRegistry) -> None:
    if not 1 <= spec.count <= MAX_POSTS_PER_RUN:
        raise InvalidInput(f"count must be from 1 to {MAX_POSTS_PER_RUN}", field="count")
    if spec.source in MOVIE_ONLY and spec.media_type is not MediaType.MOVIE:
        raise InvalidInput(f"source {spec.source} is for movies only", field="source")
    if spec.source in TV_ONLY and spec.media_type is not MediaType.TV:
        raise InvalidInput(f"source {spec.source} is for TV shows only", field="source")
    filters = spec.filters
    if filters.min_rating is not None and not 0 <= filters.min_rating <= 10:
        raise InvalidInput("minRating must be from 0 to 10", field="filters.minRating")
    for name, year in (("yearFrom", filters.year_from), ("yearTo", filters.year_to)):
        if year is not None and not 1870 <= year <= 2100:
            raise InvalidInput(f"{name} must be a year from 1870 to 2100", field=f"filters.{name}")
    if filters.year_from is not None and filters.year_to is not None and filters.year_from > filters.year_to:
        raise InvalidInput("yearFrom must not be after yearTo", field="filters.yearFrom")
    registry.require_usable(spec.model)


async def create_run(
    session: AsyncSession, job_queue: JobQueue, registry: ModelRegistry, user_id: int, spec: RunSpec
) -> GenerationRun:
    """Store the run and queue its planning job; on any failure nothing is left behind."""
    validate_spec(spec, registry)
    run = GenerationRun(
        user_id=user_id,
        model=spec.model,
        source=spec.source.value,
        media_type=spec.media_type.value,
        requested=spec.count,
        filters=msgspec.to_builtins(spec.filters),
        trending_window=spec.trending_window.value,
    )
    run.plan_job_id = await job_queue.reserve_job_id(str(user_id))
    session.add(run)
    await session.commit()
    assert run.id is not None
    options = EnqueueOptions(priority=spec.priority, job_id=run.plan_job_id)
    try:
        await job_queue.enqueue(JobName.GENERATE, GenerateRun(user_id=str(user_id), run_id=run.id), options)
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
    if run.status == RunStatus.RUNNING and run.posts_done + run.posts_failed >= run.planned:
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
