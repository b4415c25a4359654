"""The producer side of the queue: enqueue, metrics, per-user job listing and cancellation.

BullMQ has no per-user index, so enqueue also records the job id in a per-user sorted set; a
listing reads that set and prunes ids whose jobs BullMQ has since removed (removeOnComplete).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec
import structlog
from bullmq import Job, Queue

from blogqueue.connection import connection_options, redis_client
from blogqueue.errors import NotFound
from blogqueue.payloads import JobPayload, encode_payload
from blogqueue.queues import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF_MS,
    QUEUE_NAME,
    JobName,
    Keys,
    ensure_json_safe,
    job_options,
    make_job_id,
)
from blogqueue.settings import Settings

log = structlog.get_logger("blogqueue.jobqueue")

_PENDING_STATES = {"waiting", "delayed", "prioritized", "waiting-children"}


class QueueMetrics(msgspec.Struct, frozen=True):
    """Job counts per state, as the seed's getQueueMetrics() returns them."""

    waiting: int
    active: int
    completed: int
    failed: int
    delayed: int
    prioritized: int
    paused: int


class JobSummary(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    name: str
    state: str
    progress: Any
    attempts_made: int
    timestamp: int  # epoch ms: added
    processed_on: int | None  # epoch ms: last attempt started
    finished_on: int | None  # epoch ms: completed or failed for good
    failed_reason: str | None
    data: dict[str, Any]
    user_id: str | None = None


class CancelMark(msgspec.Struct, frozen=True):
    reason: str
    at: int  # epoch ms, so stale marks can be pruned


class CancelMessage(msgspec.Struct, frozen=True, rename="camel"):
    """Published on the cancel channel; every worker hears it."""

    job_id: str
    reason: str


class CancelOutcome(StrEnum):
    REMOVED = "removed"  # was waiting or delayed; it is gone
    CANCELLING = "cancelling"  # active; the worker running it aborts it
    FINISHED = "finished"  # already completed or failed; nothing to do


@dataclass(frozen=True)
class EnqueueOptions:
    priority: int | None = None
    delay_ms: int = 0
    attempts: int = DEFAULT_ATTEMPTS
    backoff_ms: int = DEFAULT_BACKOFF_MS
    job_id: str | None = None


def summarize(job: Job, state: str) -> JobSummary:
    data = job.data if isinstance(job.data, dict) else {"value": job.data}
    user_id = data.get("userId")
    return JobSummary(
        id=str(job.id),
        name=job.name,
        state=state,
        progress=job.progress,
        attempts_made=int(job.attemptsMade or 0),
        timestamp=int(job.timestamp or 0),
        processed_on=int(job.processedOn) if job.processedOn else None,
        finished_on=int(job.finishedOn) if job.finishedOn else None,
        failed_reason=job.failedReason or None,
        data=data,
        user_id=user_id if isinstance(user_id, str) else None,
    )


class JobQueue:
    """One per process: the bullmq Queue plus our own keys, on one Redis configuration."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = Keys(settings.queue_prefix)
        self.queue = Queue(
            QUEUE_NAME, {"connection": connection_options(settings), "prefix": settings.queue_prefix}
        )
        self.redis = redis_client(settings)

    async def close(self) -> None:
        await self.queue.close()
        await self.redis.aclose()

    async def enqueue(self, name: JobName, payload: JobPayload, options: EnqueueOptions | None = None) -> str:
        """Validate, index under the payload's user, and add; returns the job id."""
        options = options or EnqueueOptions()
        data = encode_payload(payload)
        ensure_json_safe(data)
        job_id = options.job_id or await self.reserve_job_id(payload.user_id)
        opts = job_options(
            job_id=job_id,
            priority=options.priority,
            delay_ms=options.delay_ms,
            attempts=options.attempts,
            backoff_ms=options.backoff_ms,
        )
        if options.job_id:
            await self.redis.zadd(self.keys.user_jobs(payload.user_id), {job_id: time.time() * 1000})
        job = await self.queue.add(name.value, data, opts)
        return str(job.id)

    async def enqueue_many(self, jobs: Sequence[tuple[JobName, JobPayload, str, int | None]]) -> list[str]:
        """Add jobs (name, payload, id, priority) in one round trip; re-adding an existing id is a no-op."""
        bulk: list[dict[str, Any]] = []
        for name, payload, job_id, priority in jobs:
            data = encode_payload(payload)
            ensure_json_safe(data)
            bulk.append(
                {"name": name.value, "data": data, "opts": job_options(job_id=job_id, priority=priority)}
            )
        for _, payload, job_id, _ in jobs:
            await self.redis.zadd(self.keys.user_jobs(payload.user_id), {job_id: time.time() * 1000})
        added = await self.queue.addBulk(bulk)
        return [str(job.id) for job in added]

    async def schedule(
        self,
        scheduler_id: str,
        name: JobName,
        payload: JobPayload,
        *,
        every_ms: int = 0,
        cron: str | None = None,
    ) -> str:
        """A BullMQ job scheduler that adds `name` jobs every `every_ms` or on `cron`, until removed."""
        data = encode_payload(payload)
        ensure_json_safe(data)
        repeat: dict[str, Any] = {"pattern": cron} if cron else {"every": every_ms}
        opts = job_options(job_id="scheduled")
        del opts["jobId"]  # the scheduler names its jobs itself
        await self.queue.upsertJobScheduler(scheduler_id, repeat, name.value, data, opts)
        return scheduler_id

    async def next_tick(self, scheduler_id: str) -> int | None:
        """When a scheduler adds its next job (epoch ms); None if there is no such scheduler."""
        # bullmq 3.4.4's getJobScheduler raises on a missing scheduler instead of returning None.
        if not await self.queue.isJobScheduler(scheduler_id):
            return None
        record = await self.queue.getJobScheduler(scheduler_id)
        return int(record["next"]) if record and record.get("next") else None

    async def reserve_job_id(self, user_id: str) -> str:
        """`blog-gen-<user>-<ms>`, unique: a second add with the same id would be silently dropped."""
        epoch_ms = int(time.time() * 1000)
        while True:
            job_id = make_job_id(user_id, epoch_ms)
            if await self.redis.zadd(self.keys.user_jobs(user_id), {job_id: epoch_ms}, nx=True):
                return job_id
            epoch_ms += 1

    async def get_queue_metrics(self) -> QueueMetrics:
        counts = await self.queue.getJobCounts(
            "waiting", "active", "completed", "failed", "delayed", "prioritized", "paused"
        )
        return msgspec.convert({k: int(v or 0) for k, v in counts.items()}, QueueMetrics)

    async def get_job(self, job_id: str) -> JobSummary:
        job = await self.queue.getJob(job_id)
        if job is None:
            raise NotFound(f"job {job_id!r} does not exist (it may have been removed after completing)")
        return summarize(job, await job.getState())

    async def get_user_jobs(self, user_id: str, limit: int = 50) -> list[JobSummary]:
        """The user's newest jobs, from our index; ids BullMQ has removed are pruned."""
        key = self.keys.user_jobs(user_id)
        found: list[JobSummary] = []
        gone: list[str] = []
        for job_id in map(str, await self.redis.zrevrange(key, 0, limit - 1)):
            job = await self.queue.getJob(job_id)
            if job is None:
                gone.append(job_id)
            else:
                found.append(summarize(job, await job.getState()))
        if gone:
            await self.redis.zrem(key, *gone)
        return found

    async def cancel_job(self, job_id: str, reason: str = "cancelled by request") -> CancelOutcome:
        """Remove a pending job, or ask whichever worker runs it to abort it (no retry)."""
        job = await self.queue.getJob(job_id)
        if job is None:
            raise NotFound(f"job {job_id!r} does not exist")
        state = await job.getState()
        if state in {"completed", "failed"}:
            return CancelOutcome.FINISHED
        # The durable mark covers a job that starts between our look and our message.
        mark = msgspec.json.encode(CancelMark(reason=reason, at=int(time.time() * 1000)))
        await self.redis.hset(self.keys.cancel_marks, job_id, mark)
        if state in _PENDING_STATES:
            try:
                await job.remove()
            except Exception as err:  # noqa: BLE001 - bullmq raises a bare Exception when the job is locked
                log.info("cancel_job_became_active", job_id=job_id, error=str(err))
            else:
                await self.redis.hdel(self.keys.cancel_marks, job_id)
                return CancelOutcome.REMOVED
        await self.redis.publish(self.keys.cancel_channel, msgspec.json.encode(CancelMessage(job_id, reason)))
        return CancelOutcome.CANCELLING

    async def live_workers(self) -> int:
        """Worker processes connected to this queue: named ones (ours) once each, unnamed
        (Node without a name) once per connection."""
        names = [str(w.get("rawname", "")) for w in await self.queue.get_workers()]
        named = {name for name in names if ":w:" in name}
        return len(named) + sum(1 for name in names if name and ":w:" not in name)
