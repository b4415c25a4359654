"""The queue as BlogQueue uses it: enqueue and schedule jobs, read them back a page at a time,
act on them (cancel, retry, promote, remove, clean), and keep our own indexes next to BullMQ's.

BullMQ has no per-user or per-run index, so enqueue also records job ids in a per-user sorted set
and planning in a per-run set; readers prune ids whose jobs BullMQ has since removed. The wrapped
bullmq Queue and Redis client are private: callers name what they want, and every read of many
jobs is one pipelined round trip.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec
import structlog
from bullmq import Job, Queue

from blogqueue import run_events
from blogqueue.connection import connection_options, redis_client
from blogqueue.errors import NotFound
from blogqueue.finished import finished_in_window
from blogqueue.payloads import JobPayload, encode_payload
from blogqueue.providers import Provider
from blogqueue.queues import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF_MS,
    PYTHON_WORKER_PREFIX,
    QUEUE_NAME,
    JobName,
    JobState,
    Keys,
    WorkerKind,
    ensure_json_safe,
    is_job_hash,
    is_job_id,
    job_options,
    job_owner,
    make_job_id,
    worker_connection_name,
)
from blogqueue.run_events import LogLine, PostSaved, RunEvent
from blogqueue.settings import Settings

log = structlog.get_logger("blogqueue.jobqueue")

# Checked in the order BullMQ's getStateV2 checks them; a job in none of them but still stored is
# in the wait list (reading that list per job would cost O(waiting jobs) each).
MAX_EVENTS = 10_000  # BullMQ's default stream length
RUN_LOG_LINES = 50  # log lines kept per run for status pages
RUN_LOG_TTL_S = 7 * 24 * 3600
PACE_MINUTES = 10  # the window for the queue's pace: long enough to smooth it, short enough to be current
_PACE_STATES = (JobState.COMPLETED, JobState.FAILED)
_THROTTLE_READS = 2 + len(Provider) + 2 * len(_PACE_STATES)  # commands `_read_throttles` queues
_SORTED_SET_STATES = (
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.DELAYED,
    JobState.PRIORITIZED,
    JobState.WAITING_CHILDREN,
)


@dataclass(frozen=True)
class JobReport:
    """What a running job tells its watchers at one step: log lines, progress (a number or a
    JSON object, as BullMQ's), and run events; on its first step, also the user to file it under
    (`owner`, the job added at `added_ms`) and, for a post job's first start, that it no longer
    waits in its user's queue (`left_queue`, a user id)."""

    lines: Sequence[str] = ()
    progress: Any = None
    events: Sequence[RunEvent] = ()
    owner: object = None  # the job's `userId`, as its data has it
    added_ms: float = 0
    left_queue: str | None = None


class QueueMetrics(msgspec.Struct, frozen=True):
    """Job counts per state, as the seed's getQueueMetrics() returns them."""

    waiting: int
    active: int
    completed: int
    failed: int
    delayed: int
    prioritized: int
    paused: int


class LogEntry(msgspec.Struct, frozen=True, rename="camel"):
    """One of a run's log lines as kept for status pages, so a reloaded page can refill its log."""

    message: str
    at: int | None = None  # epoch ms, by the publishing worker's clock
    job_id: str = ""


class RunSnapshot(msgspec.Struct, frozen=True):
    """What Redis knows of one run for a status page."""

    last_logs: list[LogEntry]  # oldest first
    next_tick_at: int | None  # epoch ms of a continuous run's next planning job


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


class JobRecord(msgspec.Struct, frozen=True):
    """Everything stored about one job: its summary and what a detail page shows."""

    summary: JobSummary
    opts: dict[str, Any]
    attempts_started: int
    delay: int
    priority: int
    stacktrace: list[str]
    returnvalue: Any


class Throttles(msgspec.Struct, frozen=True):
    """What holds queued jobs back now, and how fast the queue has been moving."""

    limiter_ms: int  # until the rate limiter lets the next job start; 0: it is not limiting
    cooldowns: dict[Provider, int]  # each provider's cooldown left, ms (0: none)
    finished_recently: int = 0  # jobs completed or failed for good in the last PACE_MINUTES minutes


class Heartbeat(msgspec.Struct, frozen=True, rename="camel"):
    """What a worker process of ours says about itself, every few seconds."""

    host: str
    pid: int
    concurrency: int
    jobs: list[str]  # ids of the jobs it runs now
    at: int  # epoch ms


class LiveWorker(msgspec.Struct, frozen=True, rename="camel"):
    """A worker connected to the queue, as Redis sees its connection, with the heartbeat of ours."""

    name: str  # "" for a Node worker started without a name
    kind: WorkerKind
    addr: str  # host:port of its connection
    age_s: int  # how long the connection has been open
    idle_s: int  # since its last command (a blocking wait counts as one)
    heartbeat: Heartbeat | None = None  # None: not a BlogQueue worker, or it has not reported yet


def worker_of(client: dict[str, Any], prefix: str) -> LiveWorker | None:
    """The worker behind one CLIENT LIST entry, or None if the connection is no worker of this queue."""
    name = str(client.get("name") or "")
    for base in (worker_connection_name(prefix), f"{prefix}:{QUEUE_NAME}"):
        if name == base or name.startswith(f"{base}:w:"):
            worker_name = name.removeprefix(base).removeprefix(":w:")
            python = base.endswith(QUEUE_NAME) or worker_name.startswith(PYTHON_WORKER_PREFIX)
            return LiveWorker(
                name=worker_name,
                kind=WorkerKind.PYTHON if python else WorkerKind.NODE,
                addr=str(client.get("addr", "")),
                age_s=int(client.get("age") or 0),
                idle_s=int(client.get("idle") or 0),
            )
    return None


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
    reserved: bool = False  # job_id came from reserve_job_id, which already indexed it


def _user_id_in(data: str | None) -> object:
    """The `userId` in a job's raw data, if it is a JSON object that has one."""
    try:
        decoded = msgspec.json.decode(data or "null")
    except msgspec.DecodeError:
        return None
    return decoded.get("userId") if isinstance(decoded, dict) else None


def stream_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id as a comparable pair; ValueError if it is not one."""
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


def _log_entry(stored: Any) -> LogEntry:
    try:
        return msgspec.json.decode(stored, type=LogEntry)
    except msgspec.DecodeError:  # a plain line, as kept before lines had a time
        return LogEntry(str(stored))


def _summarize(job: Job, state: str) -> JobSummary:
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
        self._keys = Keys(settings.queue_prefix)
        self._queue = Queue(
            QUEUE_NAME, {"connection": connection_options(settings), "prefix": settings.queue_prefix}
        )
        self._redis = redis_client(settings)
        self._workers_seen = (-math.inf, 0)  # (monotonic time, count) of the last CLIENT LIST

    async def close(self) -> None:
        await self._queue.close()
        await self._redis.aclose()

    async def ping(self) -> None:
        await self._redis.ping()

    # -- adding jobs --------------------------------------------------------------------------

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
        if options.job_id and not options.reserved:
            await self._redis.zadd(self._keys.user_jobs(payload.user_id), {job_id: time.time() * 1000})
        job = await self._queue.add(name.value, data, opts)
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
        async with self._redis.pipeline(transaction=False) as pipe:
            for _, payload, job_id, _ in jobs:
                pipe.zadd(self._keys.user_jobs(payload.user_id), {job_id: time.time() * 1000})
            await pipe.execute()
        added = await self._queue.addBulk(bulk)
        return [str(job.id) for job in added]

    async def reserve_job_id(self, user_id: str) -> str:
        """`blog-gen-<user>-<ms>`, unique: a second add with the same id would be silently dropped."""
        epoch_ms = int(time.time() * 1000)
        while True:
            job_id = make_job_id(user_id, epoch_ms)
            if await self._redis.zadd(self._keys.user_jobs(user_id), {job_id: epoch_ms}, nx=True):
                return job_id
            epoch_ms += 1

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
        await self._queue.upsertJobScheduler(scheduler_id, repeat, name.value, data, opts)
        return scheduler_id

    async def next_tick(self, scheduler_id: str) -> int | None:
        """When a scheduler adds its next job (epoch ms); None if there is no such scheduler."""
        # bullmq 3.4.4's getJobScheduler raises on a missing scheduler instead of returning None.
        if not await self._queue.isJobScheduler(scheduler_id):
            return None
        record = await self._queue.getJobScheduler(scheduler_id)
        return int(record["next"]) if record and record.get("next") else None

    async def remove_scheduler(self, scheduler_id: str) -> None:
        await self._queue.removeJobScheduler(scheduler_id)

    # -- runs and fair shares -----------------------------------------------------------------

    async def track_run_jobs(self, user_id: int | str, run_id: int, *job_ids: str) -> None:
        """Remember jobs of a run, so a stop or a status page can find them (kept status pages of
        its user are stale)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            if job_ids:
                pipe.sadd(self._keys.run_jobs(run_id), *job_ids)
            pipe.incr(self._keys.runs_version(str(user_id)))
            await pipe.execute()

    async def run_job_ids(self, run_id: int) -> list[str]:
        return sorted(str(job_id) for job_id in await self._redis.smembers(self._keys.run_jobs(run_id)))

    async def queue_posts(self, user_id: str, count: int) -> int:
        """Count `count` more post jobs of a user as waiting; returns how many waited before them."""
        return int(await self._redis.incrby(self._keys.queued_posts(user_id), count)) - count

    async def posts_left_queue(self, user_id: str, count: int = 1) -> None:
        """Post jobs of a user started or were removed: they no longer wait (never below zero)."""
        await self._floor_queued(user_id, await self._redis.decrby(self._keys.queued_posts(user_id), count))

    async def _floor_queued(self, user_id: str, left: int) -> None:
        """A user's queued-post count that went below zero (posts another producer added uncounted)
        is put back at zero."""
        if int(left) < 0:
            await self._redis.set(self._keys.queued_posts(user_id), 0)

    # -- reading jobs -------------------------------------------------------------------------

    async def get_queue_metrics(self) -> QueueMetrics:
        async with self._redis.pipeline(transaction=False) as pipe:
            self._count_states(pipe)
            return self._counted(await pipe.execute())

    def _count_states(self, pipe: Any) -> None:
        """Queue the commands that count jobs per state, as BullMQ's getJobCounts does."""
        to_key = self._queue.toKey
        for name in ("wait", "active", "paused"):
            pipe.llen(to_key(name))
        for name in ("completed", "failed", "delayed", "prioritized"):
            pipe.zcard(to_key(name))

    @staticmethod
    def _counted(results: Sequence[Any]) -> QueueMetrics:
        waiting, active, paused, completed, failed, delayed, prioritized = (int(n) for n in results[-7:])
        return QueueMetrics(waiting, active, completed, failed, delayed, prioritized, paused)

    async def run_snapshots(
        self, run_ids: Sequence[int], schedulers: dict[int, str], log_lines: int, limiter_max: int
    ) -> tuple[dict[int, RunSnapshot], QueueMetrics, Throttles]:
        """Each run's last log lines and next scheduled tick, the queue's counts and what holds
        queued jobs back: one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.lrange(self._keys.run_logs(run_id), 0, log_lines - 1)
                pipe.zscore(self._queue.toKey("repeat"), schedulers.get(run_id, ""))
            self._count_states(pipe)
            self._read_throttles(pipe)
            results = await pipe.execute()
        snapshots = {
            run_id: RunSnapshot(
                last_logs=[_log_entry(line) for line in reversed(results[2 * index])],
                next_tick_at=int(tick) if (tick := results[2 * index + 1]) is not None else None,
            )
            for index, run_id in enumerate(run_ids)
        }
        counted = self._counted(results[: len(results) - _THROTTLE_READS])
        return snapshots, counted, self._throttles(results, limiter_max)

    async def get_job(self, job_id: str) -> JobSummary:
        (found,) = await self.load_jobs([job_id])
        if found is None:
            raise NotFound(f"job {job_id!r} does not exist (it may have been removed after completing)")
        return found

    async def load_jobs(self, ids: Sequence[str]) -> list[JobSummary | None]:
        """Each job's data and state (None: no such job), in one atomic round trip whatever their number."""
        states, rows = await self._snapshot(ids, "hgetall")
        return [
            _summarize(Job.fromJSON(self._queue, raw, job_id), state.value)
            if state and is_job_hash(raw)
            else None
            for job_id, state, raw in zip(ids, states, rows, strict=True)
        ]

    async def job_states(self, ids: Sequence[str]) -> list[JobState | None]:
        """Each job's state (None: no such job), in one atomic round trip, without its data."""
        states, _ = await self._snapshot(ids, "exists")
        return states

    async def _snapshot(self, ids: Sequence[str], per_job: str) -> tuple[list[JobState | None], list[Any]]:
        """The jobs' states from BullMQ's state sets, and `per_job` (exists or hgetall) of each job hash."""
        if not ids:
            return [], []
        to_key = self._queue.toKey
        async with self._redis.pipeline(transaction=True) as pipe:
            for state in _SORTED_SET_STATES:
                pipe.zmscore(to_key(state.value), list(ids))
            pipe.lrange(to_key(JobState.ACTIVE.value), 0, -1)
            for job_id in ids:
                getattr(pipe, per_job)(to_key(job_id))
            results = await pipe.execute()
        sets = len(_SORTED_SET_STATES)
        scores, active_ids, rows = results[:sets], set(results[sets]), results[sets + 1 :]
        states: list[JobState | None] = []
        for index, (job_id, row) in enumerate(zip(ids, rows, strict=True)):
            in_sets = [state for state, found in zip(_SORTED_SET_STATES, scores, strict=True) if found[index]]
            if in_sets:
                states.append(in_sets[0])
            elif job_id in active_ids:
                states.append(JobState.ACTIVE)
            else:
                states.append(JobState.WAITING if row else None)
        return states, rows

    async def jobs_in_state(self, state: JobState, start: int, end: int) -> tuple[list[JobSummary], int]:
        """Jobs `start`..`end` (inclusive) in `state`, newest first, and how many are in it."""
        jobs = await self._queue.getJobs([state.value], start, end, False)
        total = int(await self._queue.getJobCountByTypes(state.value))
        return [_summarize(job, state.value) for job in jobs], total

    async def user_job_ids(self, owners: Sequence[str]) -> list[str]:
        """Every job id indexed under a user (by id, or by email), newest first, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for owner in owners:
                pipe.zrevrange(self._keys.user_jobs(owner), 0, -1, withscores=True)
            indexes = await pipe.execute()
        scored = {str(job_id): float(score) for index in indexes for job_id, score in index}
        return sorted(scored, key=lambda job_id: scored[job_id], reverse=True)

    async def unindex(self, owners: Sequence[str], *job_ids: str) -> None:
        """Drop ids from a user's indexes (their jobs are gone)."""
        if job_ids:
            async with self._redis.pipeline(transaction=False) as pipe:
                for owner in owners:
                    pipe.zrem(self._keys.user_jobs(owner), *job_ids)
                await pipe.execute()

    async def _index_added(self, entries: Sequence[tuple[str, dict[str, str]]]) -> None:
        """Index under their users the jobs these stream entries announce as added. BullMQ writes
        an `added` entry for every job, whoever added it, so jobs from Node producers are listed
        too; re-indexing one of ours changes nothing (NX)."""
        added = [
            fields["jobId"] for _, fields in entries if fields.get("event") == "added" and fields.get("jobId")
        ]
        rows: list[Any] = []
        if added:
            async with self._redis.pipeline(transaction=False) as pipe:
                for job_id in added:
                    pipe.hmget(self._queue.toKey(job_id), ["data", "timestamp"])
                rows = await pipe.execute()
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id, (data, timestamp) in zip(added, rows, strict=True):
                owner = job_owner(_user_id_in(data))
                if owner is not None:
                    pipe.zadd(self._keys.user_jobs(owner), {job_id: float(timestamp or 0)}, nx=True)
            if entries:
                pipe.set(self._keys.indexed_until, entries[-1][0])
            await pipe.execute()

    async def index_position(self) -> str:
        """Where indexing stopped last (any API process), or the stream's start the first time; an
        entry trimmed off the stream since is no matter: reading resumes at the oldest one left."""
        position: Any = await self._redis.get(self._keys.indexed_until)
        return str(position or "0-0")

    async def job_record(self, job_id: str) -> JobRecord | None:
        job = await self._queue.getJob(job_id)
        if job is None:
            return None
        return JobRecord(
            summary=_summarize(job, str(await job.getState())),
            opts=dict(job.opts or {}),
            attempts_started=int(job.attemptsStarted or 0),
            delay=int(job.delay or 0),
            priority=int(job.priority or 0),
            stacktrace=[str(line) for line in job.stacktrace or []],
            returnvalue=job.returnvalue,
        )

    async def job_logs(self, job_id: str) -> tuple[list[str], int]:
        """A job's log lines and how many it wrote."""
        logs = await self._queue.getJobLogs(job_id)
        return [str(line) for line in logs["logs"]], int(logs["count"])

    async def finished_counts(self, state: JobState, minutes: int) -> tuple[dict[str, str], list[str]]:
        """BullMQ's metrics of jobs finished in `state`: its meta hash and per-minute counts, newest first."""
        key = self._queue.toKey(f"metrics:{state.value}")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.lrange(f"{key}:data", 0, minutes - 1)
            meta, points = await pipe.execute()
        return meta, points

    async def workers(self) -> list[LiveWorker]:
        """Every worker connected to this queue, Node's and ours (see `_connected`), ours with
        their heartbeat (one more round trip)."""
        found = await self._connected()
        ours = [worker for worker in found.values() if worker.kind is WorkerKind.PYTHON]
        async with self._redis.pipeline(transaction=False) as pipe:
            for worker in ours:
                pipe.get(self._keys.worker(worker.name))
            beats = await pipe.execute()
        for worker, beat in zip(ours, beats, strict=True):
            if beat:
                found[worker.name] = msgspec.structs.replace(
                    worker, heartbeat=msgspec.json.decode(beat, type=Heartbeat)
                )
        return sorted(found.values(), key=lambda worker: (worker.kind, worker.name, worker.addr))

    async def live_workers(self, max_age_s: float = 0.0) -> int:
        """How many workers are connected; a count taken less than `max_age_s` ago is reused, so
        pages that ask often do not list Redis' clients each time."""
        taken_at, count = self._workers_seen
        if time.monotonic() - taken_at >= max_age_s:
            count = len(await self._connected())
            self._workers_seen = (time.monotonic(), count)
        return count

    async def _connected(self) -> dict[str, LiveWorker]:
        """Workers by name, from the names BullMQ workers give their Redis connections (CLIENT
        LIST): Node's `<prefix>:<base64 queue>[:w:<name>]` (which ours use too, so Node's
        getWorkers lists them) and the Python client's own `<prefix>:<queue>[:w:<name>]`. A named
        worker is listed once however many connections carry its name."""
        found: dict[str, LiveWorker] = {}
        for client in await self._redis.client_list():
            worker = worker_of(client, self.settings.queue_prefix)
            if worker is not None:
                found.setdefault(worker.name or f"@{worker.addr}", worker)
        return found

    async def throttles(self, limiter_max: int) -> Throttles:
        """What holds queued jobs back now (the rate limiter and providers' cooldowns) and the
        queue's recent pace, from BullMQ's metrics; one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            self._read_throttles(pipe)
            results = await pipe.execute()
        return self._throttles(results, limiter_max)

    def _read_throttles(self, pipe: Any) -> None:
        limiter = self._queue.toKey("limiter")
        pipe.get(limiter)
        pipe.pttl(limiter)
        for provider in Provider:
            pipe.pttl(self._keys.cooldown(provider))
        for state in _PACE_STATES:
            key = self._queue.toKey(f"metrics:{state.value}")
            pipe.hgetall(key)
            pipe.lrange(f"{key}:data", 0, PACE_MINUTES - 1)

    def _throttles(self, results: list[Any], limiter_max: int) -> Throttles:
        """From the last results of a pipeline that ended with `_read_throttles`."""
        used, limiter_ms, *rest = results[-_THROTTLE_READS:]
        cooldowns, metrics = rest[: len(Provider)], rest[len(Provider) :]
        limited = limiter_max > 0 and int(used or 0) >= limiter_max
        now_ms = int(time.time() * 1000)
        return Throttles(
            limiter_ms=max(0, int(limiter_ms)) if limited else 0,
            cooldowns={provider: max(0, int(ms)) for provider, ms in zip(Provider, cooldowns, strict=True)},
            finished_recently=sum(
                finished_in_window(meta, points, now_ms, PACE_MINUTES)
                for meta, points in zip(metrics[::2], metrics[1::2], strict=True)
            ),
        )

    async def blog_version(self) -> int:
        return int(await self._redis.get(self._keys.blog_version) or 0)

    async def blog_changed(self) -> None:
        """A post was published, unpublished, edited or deleted: kept pages and post lists are stale."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(self._keys.blog_version)
            pipe.incr(self._keys.posts_version)
            await pipe.execute()

    async def posts_changed(self) -> None:
        """A draft was written: kept post lists are stale (the public blog is not)."""
        await self._redis.incr(self._keys.posts_version)

    async def posts_version(self) -> int:
        return int(await self._redis.get(self._keys.posts_version) or 0)

    async def runs_changed(self, user_id: int | str) -> None:
        """One of the user's runs changed other than by a run event: kept status pages are stale."""
        await self._redis.incr(self._keys.runs_version(str(user_id)))

    async def runs_version(self, user_id: int | str) -> int:
        return int(await self._redis.get(self._keys.runs_version(str(user_id))) or 0)

    async def beat(self, name: str, heartbeat: Heartbeat, ttl_s: int) -> None:
        await self._redis.set(self._keys.worker(name), msgspec.json.encode(heartbeat), ex=ttl_s)

    async def forget_worker(self, name: str) -> None:
        await self._redis.delete(self._keys.worker(name))

    # -- run events ---------------------------------------------------------------------------

    async def publish(self, event: RunEvent) -> str:
        """Add the event to the stream; a log line also goes to its run's capped list, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            self._add_events(pipe, [event])
            results = await pipe.execute()
        return str(results[0])

    async def report(self, job: Job, report: JobReport) -> None:
        """A running job's log lines, progress and run events, in one round trip.

        Writes what bullmq's `Job.log` and `Job.updateProgress` scripts write (log list, `progress`
        field, a `progress` stream entry). Their scripts first check that the job exists; a running
        job is locked by its worker and cannot be removed, so here it does."""
        job_key = self._queue.toKey(str(job.id))
        async with self._redis.pipeline(transaction=False) as pipe:
            if report.left_queue is not None:
                pipe.decr(self._keys.queued_posts(report.left_queue))
            if (owner := job_owner(report.owner)) is not None:
                pipe.zadd(self._keys.user_jobs(owner), {str(job.id): report.added_ms}, nx=True)
            if report.lines:
                pipe.rpush(f"{job_key}:logs", *report.lines)
                if keep := (job.opts or {}).get("keepLogs"):
                    pipe.ltrim(f"{job_key}:logs", -int(keep), -1)
            if report.progress is not None:
                data = json.dumps(report.progress, separators=(",", ":"), allow_nan=False)
                pipe.hset(job_key, "progress", data)
                fields: Any = {"event": "progress", "jobId": str(job.id), "data": data}
                pipe.xadd(self._keys.events, fields, maxlen=MAX_EVENTS, approximate=True)
            self._add_events(pipe, report.events)
            results = await pipe.execute()
        if report.left_queue is not None:
            await self._floor_queued(report.left_queue, results[0])

    def _add_events(self, pipe: Any, events: Sequence[RunEvent]) -> None:
        """Each event to the stream, then each run's log lines to its capped list and each version
        they change moved on once."""
        if not events:
            return
        now_ms, logs = int(time.time() * 1000), dict[int, list[bytes]]()
        for event in events:
            pipe.xadd(self._keys.events, run_events.to_fields(event), maxlen=MAX_EVENTS, approximate=True)
            if isinstance(event, LogLine):
                entry = LogEntry(event.message, now_ms, event.job_id)
                logs.setdefault(event.run_id, []).append(msgspec.json.encode(entry))
        for run_id, entries in logs.items():
            key = self._keys.run_logs(run_id)
            pipe.lpush(key, *entries)
            pipe.ltrim(key, 0, RUN_LOG_LINES - 1)
            pipe.expire(key, RUN_LOG_TTL_S)
        for user_id in dict.fromkeys(event.user_id for event in events):
            pipe.incr(self._keys.runs_version(user_id))
        if any(isinstance(event, PostSaved) for event in events):
            pipe.incr(self._keys.posts_version)

    async def events_end(self) -> str:
        """The id of the newest stream entry, so a new reader gets what happens from now on."""
        newest = await self._redis.xrevrange(self._keys.events, count=1)
        return str(newest[0][0]) if newest else "0-0"

    async def events_after(self, after: str, count: int) -> list[tuple[str, RunEvent | None]]:
        """Up to `count` stream entries after `after`, without waiting."""
        entries: Any = await self._redis.xrange(self._keys.events, min=f"({after}", max="+", count=count)
        return [(str(entry_id), run_events.from_fields(fields)) for entry_id, fields in entries]

    async def read_events(
        self, after: str, *, block_ms: int, count: int = 200
    ) -> list[tuple[str, RunEvent | None]]:
        """Stream entries after `after` (blocking up to `block_ms`); BullMQ's own entries come back
        as None so the reader can still advance past them. Jobs they announce as added are
        indexed under their users on the way."""
        answer: Any = await self._redis.xread({self._keys.events: after}, count=count, block=block_ms)
        entries = answer[0][1] if answer else []
        await self._index_added(entries)
        return [(str(entry_id), run_events.from_fields(fields)) for entry_id, fields in entries]

    # -- acting on jobs -----------------------------------------------------------------------

    async def retry_failed(self, job_id: str) -> bool:
        """Move a failed job back to waiting; False if it is no longer failed."""
        job = await self._queue.getJob(job_id)
        if job is None:
            return False
        try:
            await job.retry(JobState.FAILED.value)
        except TypeError:  # bullmq's "not in the failed state"
            return False
        return True

    async def promote(self, job_id: str) -> bool:
        """Run a delayed job now; False if it is no longer delayed."""
        job = await self._queue.getJob(job_id)
        if job is None:
            return False
        try:
            await job.promote()
        except TypeError:  # bullmq's "not in the delayed state"
            return False
        return True

    async def remove(self, job_id: str, user_id: str | None) -> bool:
        """Delete a job that is not running, with its logs and our marks; False if it is locked."""
        if not await self._queue.remove(job_id):
            return False
        async with self._redis.pipeline(transaction=False) as pipe:
            if owner := job_owner(user_id):
                pipe.zrem(self._keys.user_jobs(owner), job_id)
            pipe.hdel(self._keys.cancel_marks, job_id)
            await pipe.execute()
        return True

    async def clean(self, grace_ms: int, limit: int, state: JobState) -> list[str]:
        return [str(job_id) for job_id in await self._queue.clean(grace_ms, limit, state.value)]

    async def cancel_job(self, job_id: str, reason: str = "cancelled by request") -> CancelOutcome:
        """Remove a pending job, or ask whichever worker runs it to abort it (no retry)."""
        job = await self._queue.getJob(job_id) if is_job_id(job_id) else None
        if job is None:
            raise NotFound(f"job {job_id!r} does not exist")
        state = await job.getState()
        if state not in set(JobState) or JobState(state).finished:  # "unknown": removed meanwhile
            return CancelOutcome.FINISHED
        # The durable mark covers a job that starts between our look and our message.
        mark = msgspec.json.encode(CancelMark(reason=reason, at=int(time.time() * 1000)))
        await self._redis.hset(self._keys.cancel_marks, job_id, mark)
        if JobState(state).pending:
            try:
                await job.remove()
            except Exception as err:  # noqa: BLE001 - bullmq raises a bare Exception when the job is locked
                log.info("cancel_job_became_active", job_id=job_id, error=str(err))
            else:
                await self._redis.hdel(self._keys.cancel_marks, job_id)
                return CancelOutcome.REMOVED
        await self._redis.publish(
            self._keys.cancel_channel, msgspec.json.encode(CancelMessage(job_id, reason))
        )
        return CancelOutcome.CANCELLING
