"""The `publish-post` job: publish a post at its scheduled time, or do nothing if that time is gone."""

from __future__ import annotations

import structlog

from blogqueue import publishing
from blogqueue.payloads import PublishPost
from blogworker.context import WorkerContext

log = structlog.get_logger("blogworker.publishing")


async def publish_scheduled(ctx: WorkerContext, payload: PublishPost) -> bool:
    """True if this job published the post; False if it was cancelled, rescheduled, published or deleted."""
    async with ctx.services.sessions() as session:
        published = await publishing.publish_due(session, payload.post_id, payload.at_ms)
    if published:
        await ctx.services.job_queue.blog_changed()
    log.info("scheduled_publication", post_id=payload.post_id, published=published)
    return published
