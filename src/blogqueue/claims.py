"""Title claims: a title reserved by a run, so parallel runs and workers never write it twice.
A claim lasts until the title's post is written, or goes back to the pool when the post fails."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.models import BlogPost, TitleClaim
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
    session.add(TitleClaim(media_type=media_type, tmdb_id=tmdb_id, run_id=run_id, job_id=job_id))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def claims_of(session: AsyncSession, run_id: int) -> list[TitleClaim]:
    return list((await session.exec(select(TitleClaim).where(TitleClaim.run_id == run_id))).all())


async def release(session: AsyncSession, media_type: MediaType, tmdb_id: int) -> None:
    """A title whose post failed for good goes back to the pool (in the caller's transaction)."""
    claim_row = await session.get(TitleClaim, (media_type, tmdb_id))
    if claim_row is not None:
        await session.delete(claim_row)
