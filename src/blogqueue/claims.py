"""Title claims: a title reserved by a run, so parallel runs and workers never write it twice.
A claim lasts while its post is written or waits to be; it goes back to the pool when the post
fails for good or the run is stopped before writing it, so a later run can pick the title."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from types import ModuleType

from sqlalchemy import delete
from sqlalchemy.dialects import sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.models import BlogPost, TitleClaim, utcnow
from blogqueue.titles import MediaType


async def taken_ids(session: AsyncSession, media_type: MediaType, tmdb_ids: list[int]) -> set[int]:
    """Which of these titles already have a post or a claim."""
    posted = await session.exec(
        select(BlogPost.tmdb_id).where(BlogPost.media_type == media_type, col(BlogPost.tmdb_id).in_(tmdb_ids))
    )
    claimed = await session.exec(
        select(TitleClaim.tmdb_id).where(
            TitleClaim.media_type == media_type, col(TitleClaim.tmdb_id).in_(tmdb_ids)
        )
    )
    return set(posted.all()) | set(claimed.all())


async def claim(session: AsyncSession, media_type: MediaType, tmdb_id: int, run_id: int, job_id: str) -> bool:
    """Reserve a title for a run; False if another run got it first."""
    return bool(await claim_many(session, run_id, [(media_type, tmdb_id, job_id)]))


async def claim_many(
    session: AsyncSession, run_id: int, titles: Sequence[tuple[MediaType, int, str]]
) -> set[tuple[MediaType, int]]:
    """Reserve titles (media type, TMDb id, post job id) for a run in one statement and commit;
    returns those it got, leaving out the ones another run holds already."""
    if not titles:
        return set()
    now = utcnow()
    rows = [{"media_type": media, "tmdb_id": tmdb_id, "run_id": run_id, "job_id": job_id, "created_at": now}
            for media, tmdb_id, job_id in titles]  # fmt: skip
    dialect: ModuleType = sqlite
    if session.get_bind().dialect.name == "postgresql":
        # Imported here: the PostgreSQL dialect is 2.4 MB that every SQLite process would carry.
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415

        dialect = postgresql
    statement = (
        dialect.insert(TitleClaim)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(col(TitleClaim.media_type), col(TitleClaim.tmdb_id))
    )
    got = {(MediaType(media), int(tmdb_id)) for media, tmdb_id in (await session.exec(statement)).all()}
    await session.commit()
    return got


async def claims_of(session: AsyncSession, run_id: int) -> list[TitleClaim]:
    return list((await session.exec(select(TitleClaim).where(TitleClaim.run_id == run_id))).all())


async def release(session: AsyncSession, media_type: MediaType, tmdb_id: int) -> int:
    """A title whose post failed for good or was deleted goes back to the pool (in the caller's
    transaction). Returns how many claims that freed: 0 or 1."""
    claim_row = await session.get(TitleClaim, (media_type, tmdb_id))
    if claim_row is None:
        return 0
    await session.delete(claim_row)
    return 1


async def release_unwritten(session: AsyncSession, run_id: int, keep_jobs: Collection[str] = ()) -> int:
    """A stopped run's titles that have no post go back to the pool, except those of `keep_jobs`
    (active jobs being aborted, which release their own once they end). In the caller's
    transaction; returns how many were freed."""
    written = (
        select(BlogPost.id)
        .where(BlogPost.media_type == TitleClaim.media_type, BlogPost.tmdb_id == TitleClaim.tmdb_id)
        .exists()
    )
    statement = delete(TitleClaim).where(
        col(TitleClaim.run_id) == run_id, col(TitleClaim.job_id).not_in(keep_jobs), ~written
    )
    result = await session.exec(statement)
    return int(result.rowcount or 0)
