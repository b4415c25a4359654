"""Blog posts and the usage that paid for them. One post per title (media type + TMDb id), ever:
the database enforces it, whatever retries, crashes or parallel workers do."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import runs
from blogqueue.errors import Conflict
from blogqueue.models import BlogPost, UsageRecord

MAX_SLUG_LENGTH = 80
_SLUG_ATTEMPTS = 20


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG_LENGTH].rstrip("-") or "post"


async def find_post(session: AsyncSession, media_type: str, tmdb_id: int) -> BlogPost | None:
    query = select(BlogPost).where(BlogPost.media_type == media_type, BlogPost.tmdb_id == tmdb_id)
    return (await session.exec(query)).first()


async def record_usage(session: AsyncSession, record: UsageRecord) -> None:
    """Store one provider call's tokens and cost, and add them to its run."""
    session.add(record)
    if record.run_id is not None:
        await runs.bump(
            session,
            record.run_id,
            tokens_in=record.tokens_in,
            tokens_out=record.tokens_out,
            cost_usd=record.cost_usd,
        )
    await session.commit()


async def job_usage(session: AsyncSession, job_id: str) -> tuple[int, int, float]:
    """Tokens in, tokens out and cost of every call a job made, retries included."""
    query = select(
        func.coalesce(func.sum(UsageRecord.tokens_in), 0),
        func.coalesce(func.sum(UsageRecord.tokens_out), 0),
        func.coalesce(func.sum(UsageRecord.cost_usd), 0.0),
    ).where(UsageRecord.job_id == job_id)
    tokens_in, tokens_out, cost = (await session.exec(query)).one()
    return int(tokens_in), int(tokens_out), float(cost)


async def save_post(session: AsyncSession, post: BlogPost) -> BlogPost:
    """Insert the post with a unique slug and count it for its run, in one transaction.

    Raises Conflict if the title already has a post. A slug clash rolls the session back, which
    expires other objects it holds: give it a session of its own.
    """
    base = post.slug
    for attempt in range(_SLUG_ATTEMPTS):
        post.slug = base if attempt == 0 else f"{base}-{attempt + 1}"
        session.add(post)
        if post.run_id is not None and not post.incomplete:
            await runs.bump(session, post.run_id, posts_done=1)
        try:
            await session.commit()
        except IntegrityError as err:
            await session.rollback()
            if await find_post(session, post.media_type, post.tmdb_id) is not None:
                raise Conflict(f"{post.media_type} {post.tmdb_id} already has a post") from err
            continue  # the slug was taken: try the next one
        await session.refresh(post)
        return post
    raise Conflict(f"no free slug for {base!r}")
