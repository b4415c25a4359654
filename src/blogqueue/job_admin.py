"""Job management: list, inspect, retry, promote, remove and clean jobs, and the queue's throughput.

Users reach only jobs whose payload names them (`data.userId`); anyone else's job reads as missing,
so ids cannot be probed. Admins reach every job.

Throughput comes from the metrics BullMQ workers record (see `blogqueue.finished`).
"""

from __future__ import annotations

import time
from typing import Protocol

from blogqueue.errors import Conflict, Forbidden, InvalidInput, NotFound
from blogqueue.finished import DAY_HOURS, WINDOW_MINUTES, finished_in_window, per_hour
from blogqueue.jobqueue import JobQueue, JobSummary
from blogqueue.queues import LISTED_STATES, JobState, is_job_id, job_owner
from blogqueue.schemas import (
    MAX_CLEAN_LIMIT,
    MAX_PAGE,
    CleanRequest,
    CleanResult,
    DayThroughput,
    FinishedState,
    JobDetail,
    JobItem,
    JobPage,
    QueueReport,
    Throughput,
)

MAX_PAGE_SIZE = 100

# re-exported for callers of this module
__all__ = ["CleanRequest", "FinishedState", "JobState", "finished_in_window", "per_hour"]


class Viewer(Protocol):
    """Who is asking; webapi's CurrentUser is one."""

    @property
    def id(self) -> int: ...

    @property
    def email(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...


def parse_state(value: str) -> JobState:
    try:
        state = JobState(value)
    except ValueError:
        state = None
    if state not in LISTED_STATES:
        allowed = ", ".join(state.value for state in LISTED_STATES)
        raise InvalidInput(f"state must be one of {allowed}", field="state")
    return state


def owner_names(viewer: Viewer) -> tuple[str, ...]:
    """The names a job's userId may give the viewer: their id, or (a queued request) their email."""
    return tuple(name for name in (job_owner(str(viewer.id)), job_owner(viewer.email)) if name)


def listing_owner(viewer: Viewer, user_id: int | None) -> tuple[str, ...] | None:
    """Whose jobs a listing covers, by the names their jobs may give them: None for all (admins only)."""
    if user_id is None or user_id == viewer.id:
        return None if viewer.is_admin and user_id is None else owner_names(viewer)
    if not viewer.is_admin:
        raise Forbidden("only admins can list other users' jobs")
    return (str(user_id),)


async def list_jobs(
    job_queue: JobQueue, state: JobState, *, owner: tuple[str, ...] | None, page: int = 1, page_size: int = 20
) -> JobPage:
    """One page of jobs in `state`, newest first: every job, or the jobs indexed under `owner`'s names."""
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be from 1 to {MAX_PAGE}", field="page")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"pageSize must be from 1 to {MAX_PAGE_SIZE}", field="pageSize")
    start = (page - 1) * page_size
    if owner is None:
        items, total = await job_queue.jobs_in_state(state, start, start + page_size - 1)
        return JobPage(items, page, page_size, total)
    ids = await _indexed_in_state(job_queue, owner, state)
    jobs = await job_queue.load_jobs(ids[start : start + page_size])
    return JobPage([job for job in jobs if job and _owns(job, owner)], page, page_size, len(ids))


async def _indexed_in_state(job_queue: JobQueue, owner: tuple[str, ...], state: JobState) -> list[str]:
    """The owner's indexed job ids now in `state`, newest first; ids of removed jobs are pruned."""
    ids = await job_queue.user_job_ids(owner)
    states = await job_queue.job_states(ids)
    await job_queue.unindex(
        owner, *(job_id for job_id, found in zip(ids, states, strict=True) if found is None)
    )
    return [job_id for job_id, found in zip(ids, states, strict=True) if found is state]


def _owns(job: JobSummary, owner: tuple[str, ...] | None) -> bool:
    return owner is None or job_owner(job.user_id) in owner


async def _reachable(job_queue: JobQueue, viewer: Viewer, job_id: str) -> JobSummary:
    """The job, if the viewer may act on it; NotFound alike if missing, not theirs, or not a job id
    at all (it never reaches Redis then)."""
    (job,) = await job_queue.load_jobs([job_id]) if is_job_id(job_id) else (None,)
    if job is None or not _owns(job, None if viewer.is_admin else owner_names(viewer)):
        raise NotFound(f"job {job_id!r} does not exist (it may have been removed after finishing)")
    return job


async def get_job(job_queue: JobQueue, viewer: Viewer, job_id: str) -> JobDetail:
    await _reachable(job_queue, viewer, job_id)
    record = await job_queue.job_record(job_id)
    if record is None:
        raise NotFound(f"job {job_id!r} does not exist (it may have been removed after finishing)")
    logs, log_count = await job_queue.job_logs(job_id)
    return JobDetail(
        **{name: getattr(record.summary, name) for name in record.summary.__struct_fields__},
        opts=record.opts,
        attempts_started=record.attempts_started,
        delay=record.delay,
        priority=record.priority,
        logs=logs,
        log_count=log_count,
        stacktrace=record.stacktrace,
        returnvalue=record.returnvalue,
    )


async def retry_job(job_queue: JobQueue, viewer: Viewer, job_id: str) -> JobItem:
    """Move a failed job back to waiting. Its attempts made are kept, as BullMQ's retry does."""
    job = await _reachable(job_queue, viewer, job_id)
    if job.state != JobState.FAILED:
        raise Conflict(f"job {job_id!r} is {job.state}: only a failed job can be retried")
    if not await job_queue.retry_failed(job_id):
        raise Conflict(f"job {job_id!r} is no longer failed")
    return await _reachable(job_queue, viewer, job_id)


async def promote_job(job_queue: JobQueue, viewer: Viewer, job_id: str) -> JobItem:
    """Run a delayed job (a delay or a retry backoff) now: it moves to waiting."""
    job = await _reachable(job_queue, viewer, job_id)
    if job.state != JobState.DELAYED:
        raise Conflict(f"job {job_id!r} is {job.state}: only a delayed job can be promoted")
    if not await job_queue.promote(job_id):
        raise Conflict(f"job {job_id!r} is no longer delayed")
    return await _reachable(job_queue, viewer, job_id)


async def remove_job(job_queue: JobQueue, viewer: Viewer, job_id: str) -> JobSummary:
    """Delete a job that is not running, with its logs, and drop it from its owner's index;
    returns it as it was."""
    job = await _reachable(job_queue, viewer, job_id)
    if job.state == JobState.ACTIVE or not await job_queue.remove(job_id, job.user_id):
        raise Conflict(
            f"job {job_id!r} is running and cannot be removed: cancel it first "
            "(it then fails as cancelled) and remove it once it has failed"
        )
    return job


async def clean_jobs(job_queue: JobQueue, request: CleanRequest) -> CleanResult:
    """Remove up to `limit` completed or failed jobs that finished more than `grace_ms` ago."""
    if request.grace_ms < 0:
        raise InvalidInput("graceMs must not be negative", field="graceMs")
    if not 1 <= request.limit <= MAX_CLEAN_LIMIT:
        raise InvalidInput(f"limit must be from 1 to {MAX_CLEAN_LIMIT}", field="limit")
    return CleanResult(await job_queue.clean(request.grace_ms, request.limit, JobState(request.state.value)))


async def daily_throughput(job_queue: JobQueue, now_ms: int | None = None) -> DayThroughput:
    """Completed and failed jobs per hour over the last day, from BullMQ's own metrics."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    completed = per_hour(*await job_queue.finished_counts(JobState.COMPLETED, DAY_HOURS * 60), now_ms)
    failed = per_hour(*await job_queue.finished_counts(JobState.FAILED, DAY_HOURS * 60), now_ms)
    return DayThroughput(completed, failed, max([1, *completed, *failed]))


async def _finished_last_hour(job_queue: JobQueue, state: JobState, now_ms: int) -> int:
    meta, points = await job_queue.finished_counts(state, WINDOW_MINUTES)
    return finished_in_window(meta, points, now_ms)


async def queue_report(job_queue: JobQueue, now_ms: int | None = None) -> QueueReport:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    counts = await job_queue.get_queue_metrics()
    completed = await _finished_last_hour(job_queue, JobState.COMPLETED, now_ms)
    failed = await _finished_last_hour(job_queue, JobState.FAILED, now_ms)
    return QueueReport(
        **{name: getattr(counts, name) for name in counts.__struct_fields__},
        throughput=Throughput(completed, failed, completed / WINDOW_MINUTES),
        failure_rate=failed / (completed + failed) if completed + failed else None,
    )
