"""Scheduled publishing: a post's `publish_at` plus a delayed job on our queue that publishes it then.

The row is the truth, the job only a wake-up call: it publishes the post only while the post is
still a draft scheduled for the job's time, so a cancelled, rescheduled, published or deleted post
makes it a no-op that completes. Redis is never awaited while a database transaction is open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.errors import Conflict, InvalidInput
from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.models import BlogPost, PostStatus, utcnow
from blogqueue.payloads import PublishPost
from blogqueue.posts import Viewer, publishable_post, save_changes
from blogqueue.queues import JobName, publish_job_id

MAX_AHEAD = timedelta(days=366)


def epoch_ms(moment: datetime) -> int:
    """SQLite hands timestamps back naive (stored in UTC)."""
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def _check_time(at: datetime, now: datetime) -> None:
    if at.tzinfo is None:
        raise InvalidInput(
            "Publish at must include a time zone (e.g. 2030-01-01T09:00:00Z)", field="publishAt"
        )
    if not now < at <= now + MAX_AHEAD:
        raise InvalidInput("Publish at must be in the future, within a year", field="publishAt")


async def schedule(
    session: AsyncSession,
    job_queue: JobQueue,
    viewer: Viewer,
    slug: str,
    at: datetime,
    *,
    authors_can_publish: bool,
) -> BlogPost:
    """Schedule a draft for publication at `at`, replacing any earlier schedule."""
    _check_time(at, utcnow())
    post = await publishable_post(session, viewer, slug, authors_can_publish=authors_can_publish)
    if post.incomplete:
        raise Conflict("this draft is incomplete (its generation was cut short) and cannot be published")
    if post.status == PostStatus.PUBLISHED:
        raise Conflict("this post is already published; unpublish it first to schedule it")
    assert post.id is not None
    previous = post.publish_at
    await session.commit()  # ends the read transaction before Redis is awaited
    at_ms = epoch_ms(at)
    delay_ms = max(0, at_ms - epoch_ms(utcnow()))
    payload = PublishPost(user_id=str(post.user_id), post_id=post.id, at_ms=at_ms)
    await job_queue.enqueue(
        JobName.PUBLISH_POST,
        payload,
        EnqueueOptions(job_id=publish_job_id(post.id, at_ms), delay_ms=delay_ms),
    )
    post = await _set_publish_at(session, post, at)
    if previous is not None and epoch_ms(previous) != at_ms:
        await job_queue.remove(publish_job_id(post.id or 0, epoch_ms(previous)), str(post.user_id))
    return post


async def cancel(
    session: AsyncSession, job_queue: JobQueue, viewer: Viewer, slug: str, *, authors_can_publish: bool
) -> BlogPost:
    """Drop the post's scheduled publication, if any; its job is removed (or finds nothing to do)."""
    post = await publishable_post(session, viewer, slug, authors_can_publish=authors_can_publish)
    previous = post.publish_at
    if previous is None:
        return post
    post = await _set_publish_at(session, post, None)
    await job_queue.remove(publish_job_id(post.id or 0, epoch_ms(previous)), str(post.user_id))
    return post


async def _set_publish_at(session: AsyncSession, post: BlogPost, at: datetime | None) -> BlogPost:
    post.publish_at = at
    return await save_changes(session, post)


async def publish_due(session: AsyncSession, post_id: int, at_ms: int) -> bool:
    """The job's side: publish the post if it is still a draft scheduled for `at_ms`. False: no-op."""
    post = await session.get(BlogPost, post_id)
    if post is None or post.publish_at is None or epoch_ms(post.publish_at) != at_ms:
        return False
    now = utcnow()
    published = (
        update(BlogPost)
        .where(
            col(BlogPost.id) == post_id,
            col(BlogPost.status) == PostStatus.DRAFT,
            col(BlogPost.incomplete).is_(False),
            col(BlogPost.publish_at).is_not(None),
        )
        .values(status=PostStatus.PUBLISHED, published_at=now, publish_at=None, updated_at=now)
    )
    connection = await session.connection()
    changed = (await connection.execute(published)).rowcount == 1
    await session.commit()
    return changed
