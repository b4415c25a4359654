"""Removing a job by hand: a post job removed before it ended counts as failed for its run and
gives its title back to the pool, so the run still finishes and no claim is left behind."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import job_admin, runs
from blogqueue.errors import InvalidJob
from blogqueue.jobqueue import JobQueue
from blogqueue.models import PostFailure
from blogqueue.payloads import GeneratePost, decode_payload
from blogqueue.queues import JobName, JobState

REASON = "removed from the queue before it ran"


async def remove_job(
    session: AsyncSession, job_queue: JobQueue, viewer: job_admin.Viewer, job_id: str
) -> None:
    job = await job_admin.remove_job(job_queue, viewer, job_id)
    if job.name != JobName.GENERATE_POST or not JobState(job.state).pending:
        return
    try:
        payload = decode_payload(job.data, GeneratePost)
    except InvalidJob:
        return  # not one of ours to account for
    failure = PostFailure(run_id=payload.run_id, job_id=job.id, media_type=payload.media_type,
                          tmdb_id=payload.tmdb_id, reason=REASON)  # fmt: skip
    await job_queue.posts_left_queue(payload.user_id)
    await runs.post_failed(session, failure)
    if (finished := await runs.finish_if_done(session, payload.run_id)) is not None:
        await job_queue.publish(runs.finished_event(finished))
