"""Retry failed: a finished batch run's titles that failed for good are claimed again and queued as
fresh post jobs (same ids, all attempts anew), and the run goes back to running until they end.
Retrying every failed job of the queue at once goes through the same door for post jobs, so their
runs count them again."""

from __future__ import annotations

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import claims, runs
from blogqueue.errors import Conflict, InvalidJob
from blogqueue.jobqueue import JobQueue
from blogqueue.models import GenerationRun, PostFailure, RunMode, RunStatus
from blogqueue.payloads import GeneratePost, decode_payload
from blogqueue.queues import MAX_PRIORITY, JobName, JobState
from blogqueue.schemas import BulkRetryReport, RetryReport
from blogqueue.titles import MediaType

RETRYABLE = frozenset({RunStatus.PARTIAL, RunStatus.FAILED})
MAX_BULK_RETRY = 1_000  # failed jobs one bulk retry looks at, newest first


async def retry_failed(session: AsyncSession, job_queue: JobQueue, run: GenerationRun) -> RetryReport:
    """Queue the run's failed titles again; a title another run has claimed since is skipped."""
    assert run.id is not None
    if run.mode != RunMode.BATCH or run.status not in RETRYABLE:
        raise Conflict(
            f"run {run.id} is {run.status}: only a finished batch run with failed posts can retry them"
        )
    query = select(PostFailure.id, PostFailure.media_type, PostFailure.tmdb_id, PostFailure.job_id).where(
        PostFailure.run_id == run.id
    )
    failures = list((await session.exec(query)).all())  # plain rows: a refused claim rolls back
    again = [
        row for row in failures if await claims.claim(session, MediaType(row[1]), row[2], run.id, row[3])
    ]
    if not again:
        raise Conflict(f"run {run.id} has no failed titles left to retry (other runs may have taken them)")
    await session.exec(delete(PostFailure).where(col(PostFailure.id).in_([row[0] for row in again])))
    await runs.bump(session, run.id, posts_failed=-len(again), released=-len(again))
    await session.commit()
    await session.refresh(run)
    await runs.set_status(session, run, RunStatus.RUNNING, f"retrying {len(again)} failed titles")
    user_id = str(run.user_id)
    for *_, job_id in again:  # the failed jobs are replaced, so each new one gets all its attempts
        await job_queue.remove(job_id, user_id)
    after = await job_queue.queue_posts(user_id, len(again))
    await job_queue.enqueue_many([
        (JobName.GENERATE_POST,
         GeneratePost(user_id=user_id, run_id=run.id, tmdb_id=tmdb_id, media_type=MediaType(media)),
         job_id, min(MAX_PRIORITY, (run.priority or 0) + after + index + 1))
        for index, (_, media, tmdb_id, job_id) in enumerate(again)
    ])  # fmt: skip
    await job_queue.runs_changed(user_id)
    return RetryReport(run.id, [row[3] for row in again], len(failures) - len(again))


async def retry_all_failed(session: AsyncSession, job_queue: JobQueue) -> BulkRetryReport:
    """The newest MAX_BULK_RETRY failed jobs queued again: a post job through its run's Retry failed
    (once the run has finished; until then it stays failed), any other job as BullMQ retries it."""
    jobs, _ = await job_queue.jobs_in_state(JobState.FAILED, 0, MAX_BULK_RETRY - 1)
    retried: list[str] = []
    run_ids: set[int] = set()
    for job in jobs:
        if job.name != JobName.GENERATE_POST:
            if await job_queue.retry_failed(job.id):
                retried.append(job.id)
            continue
        try:
            run_ids.add(decode_payload(job.data, GeneratePost).run_id)
        except InvalidJob:
            continue  # not one of ours: it stays failed
    retried_runs = []
    for run_id in sorted(run_ids):
        run = await session.get(GenerationRun, run_id)
        if run is None or run.mode != RunMode.BATCH or run.status not in RETRYABLE:
            continue
        try:
            report = await retry_failed(session, job_queue, run)
        except Conflict:  # its titles were taken by other runs meanwhile
            continue
        retried += report.job_ids
        retried_runs.append(run_id)
    return BulkRetryReport(retried, retried_runs, (await job_queue.get_queue_metrics()).failed)
