"""Title claims: a title reserved by a run, so parallel runs and workers never write it twice.
A claim lasts until the title's post is written, or goes back to the pool when the post fails."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects import postgresql, sqlite
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
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
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


async def release(session: AsyncSession, media_type: MediaType, tmdb_id: int) -> None:
    """A title whose post failed for good goes back to the pool (in the caller's transaction)."""
    claim_row = await session.get(TitleClaim, (media_type, tmdb_id))
    if claim_row is not None:
        await session.delete(claim_row)
