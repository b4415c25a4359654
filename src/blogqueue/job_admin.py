"""Job management: list, inspect, retry, promote, remove and clean jobs, and the queue's throughput.

Users reach only jobs whose payload names them (`data.userId`); anyone else's job reads as missing,
so ids cannot be probed. Admins reach every job.

Throughput comes from the metrics BullMQ workers record when started with `opts["metrics"]` (ours
are): per outcome, a hash `<prefix>:blog-generation:metrics:<completed|failed>` holding `count` (all
jobs ever finished that way), `prevTS` and `prevCount` (the time and count at the last minute
boundary), and a list `...:data` of per-minute counts, newest first. BullMQ pushes a minute onto
the list only when the first job of a later minute finishes, so the jobs of the minute of `prevTS`
are `count - prevCount`, and `data[i]` is the minute `i + 1` before it. A failure counts when a job
fails for good (attempts used up or unrecoverable), never a retried attempt. Workers that do not
record metrics (Node workers without the option) are not counted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, Protocol

import msgspec
from bullmq import Job

from blogqueue.errors import Conflict, Forbidden, InvalidInput, NotFound
from blogqueue.jobqueue import JobQueue, JobSummary, QueueMetrics, summarize

MAX_PAGE_SIZE = 100
MAX_CLEAN_LIMIT = 10_000
WINDOW_MINUTES = 60
_MINUTE_MS = 60_000
# Checked in the order BullMQ's getStateV2 checks them; a job in none of them but still stored is
# in the wait list (reading that list per job would cost O(waiting jobs) each).
_SORTED_SET_STATES = ("completed", "failed", "delayed", "prioritized", "waiting-children")


class JobState(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    DELAYED = "delayed"
    PRIORITIZED = "prioritized"
    COMPLETED = "completed"
    FAILED = "failed"


class FinishedState(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


class Viewer(Protocol):
    """Who is asking; webapi's CurrentUser is one."""

    @property
    def id(self) -> int: ...

    @property
    def is_admin(self) -> bool: ...


JobItem = JobSummary  # one job as the API lists it


class JobDetail(JobItem, frozen=True, kw_only=True):
    opts: dict[str, Any]
    attempts_started: int
    delay: int
    priority: int
    logs: list[str]
    log_count: int
    stacktrace: list[str]
    returnvalue: Any


class JobPage(msgspec.Struct, frozen=True, rename="camel"):
    items: list[JobItem]
    page: int
    page_size: int
    total: int  # jobs in this state that the listing covers, on every page


class CleanRequest(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    state: FinishedState
    grace_ms: Annotated[int, msgspec.Meta(ge=0)]  # only jobs finished longer ago than this
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_CLEAN_LIMIT)] = 1000


class CleanResult(msgspec.Struct, frozen=True):
    removed: list[str]


class Throughput(msgspec.Struct, frozen=True, rename="camel"):
    """Over the last hour: the current minute and the 59 before it, by the API server's clock."""

    completed_last_hour: Annotated[
        int, msgspec.Meta(description="Jobs completed in the current minute and the 59 before it")
    ]
    failed_last_hour: Annotated[
        int, msgspec.Meta(description="Jobs failed for good in that hour; a retried attempt is no failure")
    ]
    per_minute: Annotated[
        float, msgspec.Meta(description="completedLastHour / 60: average completions a minute over that hour")
    ]


class QueueReport(QueueMetrics, frozen=True, rename="camel"):
    """Job counts per state (now), plus last hour's throughput."""

    throughput: Throughput
    failure_rate: Annotated[
        float | None,
        msgspec.Meta(
            description="failed / (completed + failed) over the last hour, 0-1; null when none finished"
        ),
    ]


def _to_item(job: Job, state: str) -> JobItem:
    return summarize(job, state)


def parse_state(value: str) -> JobState:
    try:
        return JobState(value)
    except ValueError:
        allowed = ", ".join(state.value for state in JobState)
        raise InvalidInput(f"state must be one of {allowed}", field="state") from None


def listing_owner(viewer: Viewer, user_id: int | None) -> str | None:
    """Whose jobs a listing covers: None for all (admins only)."""
    if viewer.is_admin:
        return None if user_id is None else str(user_id)
    if user_id is not None and user_id != viewer.id:
        raise Forbidden("only admins can list other users' jobs")
    return str(viewer.id)


async def list_jobs(
    job_queue: JobQueue, state: JobState, *, owner: str | None, page: int = 1, page_size: int = 20
) -> JobPage:
    """One page of jobs in `state`, newest first: every job, or the jobs indexed under `owner`."""
    if page < 1:
        raise InvalidInput("page must be 1 or more", field="page")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"pageSize must be from 1 to {MAX_PAGE_SIZE}", field="pageSize")
    start = (page - 1) * page_size
    if owner is None:
        jobs = await job_queue.queue.getJobs([state.value], start, start + page_size - 1, False)
        total = int(await job_queue.queue.getJobCountByTypes(state.value))
        return JobPage([_to_item(job, state.value) for job in jobs], page, page_size, total)
    ids = await _indexed_in_state(job_queue, owner, state)
    jobs = await _load(job_queue, ids[start : start + page_size])
    items = [_to_item(job, state.value) for job in jobs if _owns(job, owner)]
    return JobPage(items, page, page_size, len(ids))


async def _indexed_in_state(job_queue: JobQueue, owner: str, state: JobState) -> list[str]:
    """The owner's indexed job ids now in `state`, newest first; ids of removed jobs are pruned."""
    key = job_queue.keys.user_jobs(owner)
    ids = [str(job_id) for job_id in await job_queue.redis.zrevrange(key, 0, -1)]
    states = await _states(job_queue, ids)
    gone = [job_id for job_id in ids if states[job_id] is None]
    if gone:
        await job_queue.redis.zrem(key, *gone)
    return [job_id for job_id in ids if states[job_id] == state.value]


async def _states(job_queue: JobQueue, ids: Sequence[str]) -> dict[str, str | None]:
    """Each job's state (None: no such job) from one atomic snapshot, whatever the number of ids."""
    if not ids:
        return {}
    to_key = job_queue.queue.toKey
    async with job_queue.redis.pipeline(transaction=True) as pipe:
        for name in _SORTED_SET_STATES:
            pipe.zmscore(to_key(name), list(ids))
        pipe.lrange(to_key("active"), 0, -1)
        for job_id in ids:
            pipe.exists(to_key(job_id))
        results = await pipe.execute()
    sets = len(_SORTED_SET_STATES)
    scores, active_ids, exists = results[:sets], set(results[sets]), results[sets + 1 :]
    found: dict[str, str | None] = {}
    for index, job_id in enumerate(ids):
        in_sets = [
            name for name, row in zip(_SORTED_SET_STATES, scores, strict=True) if row[index] is not None
        ]
        if in_sets:
            found[job_id] = in_sets[0]
        elif job_id in active_ids:
            found[job_id] = "active"
        else:
            found[job_id] = "waiting" if exists[index] else None
    return found


async def _load(job_queue: JobQueue, ids: Sequence[str]) -> list[Job]:
    async with job_queue.redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hgetall(job_queue.queue.toKey(job_id))
        rows = await pipe.execute()
    return [Job.fromJSON(job_queue.queue, raw, job_id) for job_id, raw in zip(ids, rows, strict=True) if raw]


def _owns(job: Job, owner: str | None) -> bool:
    return owner is None or (isinstance(job.data, dict) and job.data.get("userId") == owner)


async def _reachable(job_queue: JobQueue, viewer: Viewer, job_id: str) -> tuple[Job, str]:
    """The job and its state, if the viewer may act on it; NotFound alike if missing or not theirs."""
    job = await job_queue.queue.getJob(job_id)
    if job is None or not _owns(job, None if viewer.is_admin else str(viewer.id)):
        raise NotFound(f"job {job_id!r} does not exist (it may have been removed after finishing)")
    return job, str(await job.getState())


async def get_job(job_queue: JobQueue, viewer: Viewer, job_id: str) -> JobDetail:
    job, state = await _reachable(job_queue, viewer, job_id)
    logs = await job_queue.queue.getJobLogs(job_id)
    return JobDetail(
        **msgspec.structs.asdict(_to_item(job, state)),
        opts=dict(job.opts or {}),
        attempts_started=int(job.attemptsStarted or 0),
        delay=int(job.delay or 0),
        priority=int(job.priority or 0),
        logs=[str(line) for line in logs["logs"]],
        log_count=int(logs["count"]),
        stacktrace=[str(line) for line in job.stacktrace or []],
        returnvalue=job.returnvalue,
    )


async def _summary(job_queue: JobQueue, viewer: Viewer, job_id: str) -> JobItem:
    job, state = await _reachable(job_queue, viewer, job_id)
    return _to_item(job, state)


async def retry_job(job_queue: JobQueue, viewer: Viewer, job_id: str) -> JobItem:
    """Move a failed job back to waiting. Its attempts made are kept, as BullMQ's retry does."""
    job, state = await _reachable(job_queue, viewer, job_id)
    if state != JobState.FAILED:
        raise Conflict(f"job {job_id!r} is {state}: only a failed job can be retried")
    try:
        await job.retry(JobState.FAILED.value)
    except TypeError as err:  # bullmq's "not in the failed state": it changed since we looked
        raise Conflict(f"job {job_id!r} is no longer failed") from err
    return await _summary(job_queue, viewer, job_id)


async def promote_job(job_queue: JobQueue, viewer: Viewer, job_id: str) -> JobItem:
    """Run a delayed job (a delay or a retry backoff) now: it moves to waiting."""
    job, state = await _reachable(job_queue, viewer, job_id)
    if state != JobState.DELAYED:
        raise Conflict(f"job {job_id!r} is {state}: only a delayed job can be promoted")
    try:
        await job.promote()
    except TypeError as err:  # bullmq's "not in the delayed state"
        raise Conflict(f"job {job_id!r} is no longer delayed") from err
    return await _summary(job_queue, viewer, job_id)


async def remove_job(job_queue: JobQueue, viewer: Viewer, job_id: str) -> None:
    """Delete a job that is not running, with its logs, and drop it from its owner's index."""
    job, state = await _reachable(job_queue, viewer, job_id)
    if state == JobState.ACTIVE or not await job_queue.queue.remove(job_id):
        raise Conflict(
            f"job {job_id!r} is running and cannot be removed: cancel it first "
            "(it then fails as cancelled) and remove it once it has failed"
        )
    if user_id := _to_item(job, state).user_id:
        await job_queue.redis.zrem(job_queue.keys.user_jobs(user_id), job_id)
    await job_queue.redis.hdel(job_queue.keys.cancel_marks, job_id)


async def clean_jobs(job_queue: JobQueue, request: CleanRequest) -> CleanResult:
    """Remove up to `limit` completed or failed jobs that finished more than `grace_ms` ago."""
    if request.grace_ms < 0:
        raise InvalidInput("graceMs must not be negative", field="graceMs")
    if not 1 <= request.limit <= MAX_CLEAN_LIMIT:
        raise InvalidInput(f"limit must be from 1 to {MAX_CLEAN_LIMIT}", field="limit")
    removed = await job_queue.queue.clean(request.grace_ms, request.limit, request.state.value)
    return CleanResult([str(job_id) for job_id in removed])


def finished_in_window(
    meta: dict[str, str], points: Sequence[str], now_ms: int, minutes: int = WINDOW_MINUTES
) -> int:
    """Jobs BullMQ's metrics saw finish in the last `minutes` minutes (this one included)."""
    if not meta.get("prevTS"):
        return 0
    boundary = int(meta["prevTS"]) // _MINUTE_MS  # the minute `count - prevCount` belongs to
    first = max(now_ms // _MINUTE_MS, boundary) - minutes + 1  # a worker's clock may run ahead
    total = int(meta.get("count") or 0) - int(meta.get("prevCount") or 0) if boundary >= first else 0
    for age, count in enumerate(points, start=1):
        if boundary - age < first:
            break
        total += int(count)
    return total


async def _finished_last_hour(job_queue: JobQueue, outcome: FinishedState, now_ms: int) -> int:
    key = job_queue.queue.toKey(f"metrics:{outcome.value}")
    async with job_queue.redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(key)
        pipe.lrange(f"{key}:data", 0, WINDOW_MINUTES - 1)
        meta, points = await pipe.execute()
    return finished_in_window(meta, points, now_ms)


async def queue_report(job_queue: JobQueue, now_ms: int | None = None) -> QueueReport:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    counts = await job_queue.get_queue_metrics()
    completed = await _finished_last_hour(job_queue, FinishedState.COMPLETED, now_ms)
    failed = await _finished_last_hour(job_queue, FinishedState.FAILED, now_ms)
    return QueueReport(
        **msgspec.structs.asdict(counts),
        throughput=Throughput(completed, failed, completed / WINDOW_MINUTES),
        failure_rate=failed / (completed + failed) if completed + failed else None,
    )
