"""A generation run's life: a request becomes a checked spec (once), the run is created with its
planning job or scheduler, charged for each provider call (and stopped at its budget), stopped on
request, and finished when its last post is done. Counters change with single UPDATE statements, so
parallel workers never lose an increment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import msgspec
from croniter import CroniterBadDateError, croniter
from sqlalchemy import func, insert, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import ai_settings, claims, db, users
from blogqueue.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from blogqueue.jobqueue import CancelOutcome, EnqueueOptions, JobQueue
from blogqueue.models import GenerationRun, PostFailure, RunMode, RunStatus, User, utcnow
from blogqueue.payloads import GenerateRun, RunParameters
from blogqueue.providers import PROVIDERS
from blogqueue.queues import MAX_PRIORITY, JobName, scheduler_id
from blogqueue.registry import ModelRegistry
from blogqueue.run_events import RunFinished, RunFinishedData
from blogqueue.schemas import AutoGenerateRequest, StopReport
from blogqueue.settings import Settings
from blogqueue.titles import MOVIE_ONLY, TV_ONLY, MediaType, Source, TitleFilters, TrendingWindow

MAX_POSTS_PER_RUN = 50
LOCKED_RETRIES = 5
ACTIVE_RUNS_RETRY_S = 30
MIN_INTERVAL_MINUTES = 5  # a continuous run plans at most this often
CRON_SAMPLES = 64  # fires of a cron pattern checked for the shortest gap (about 8 ms of croniter)
CRON_HORIZON = timedelta(days=5 * 365)  # a cron pattern must fire within this
FINISHED = frozenset({RunStatus.COMPLETED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.CANCELLED})
ACTIVE = frozenset(RunStatus) - FINISHED  # listed rather than negated, so an index finds them


class RunSpec(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    source: Source
    media_type: MediaType
    count: int
    filters: TitleFilters = TitleFilters()
    trending_window: TrendingWindow = TrendingWindow.WEEK
    priority: int | None = None
    mode: RunMode = RunMode.BATCH
    interval_minutes: int | None = None
    cron: str | None = None
    budget_usd: float | None = None


class RequestJob(msgspec.Struct, frozen=True):
    """The queued `generate` job a run is created from; `key` tells this job from a later one
    that reuses its id (auto ids restart with a new Redis)."""

    job_id: str
    added_at: int  # epoch ms, BullMQ's job timestamp

    @property
    def key(self) -> str:
        return f"{self.job_id}@{self.added_at}"


# -- checking a spec --------------------------------------------------------------------------


def spec_problems(spec: RunSpec, registry: ModelRegistry) -> list[tuple[str, str]]:
    """Every problem with a spec, as (field, message) pairs; empty when it is valid."""
    problems: list[tuple[str, str]] = []
    if not 1 <= spec.count <= MAX_POSTS_PER_RUN:
        problems.append(("count", f"count must be from 1 to {MAX_POSTS_PER_RUN}"))
    if spec.source in MOVIE_ONLY and spec.media_type is not MediaType.MOVIE:
        problems.append(("source", f"source {spec.source} is for movies only"))
    if spec.source in TV_ONLY and spec.media_type is not MediaType.TV:
        problems.append(("source", f"source {spec.source} is for TV shows only"))
    filters = spec.filters
    if filters.min_rating is not None and not 0 <= filters.min_rating <= 10:
        problems.append(("filters.minRating", "minRating must be from 0 to 10"))
    for name, year in (("yearFrom", filters.year_from), ("yearTo", filters.year_to)):
        if year is not None and not 1870 <= year <= 2100:
            problems.append((f"filters.{name}", f"{name} must be a year from 1870 to 2100"))
    if filters.year_from is not None and filters.year_to is not None and filters.year_from > filters.year_to:
        problems.append(("filters.yearFrom", "yearFrom must not be after yearTo"))
    if spec.priority is not None and not 0 <= spec.priority <= MAX_PRIORITY:
        problems.append(("priority", f"priority must be from 0 to {MAX_PRIORITY}"))
    if spec.budget_usd is not None and not spec.budget_usd > 0:
        problems.append(("budgetUsd", "budgetUsd must be more than 0"))
    problems += schedule_problems(spec)
    try:
        registry.require_usable(spec.model)
    except InvalidInput as err:
        problems.append(("model", err.message))
    return problems


def schedule_problems(spec: RunSpec) -> list[tuple[str, str]]:
    if spec.mode is RunMode.BATCH:
        if spec.interval_minutes is not None or spec.cron is not None:
            return [("mode", "intervalMinutes and cron are for continuous runs")]
        return []
    if (spec.interval_minutes is None) == (spec.cron is None):
        return [("intervalMinutes", "a continuous run needs either intervalMinutes or cron (not both)")]
    if spec.interval_minutes is not None and not MIN_INTERVAL_MINUTES <= spec.interval_minutes <= 7 * 24 * 60:
        return [("intervalMinutes", f"intervalMinutes must be from {MIN_INTERVAL_MINUTES} to 10080 (a week)")]
    problem = _cron_problem(spec.cron, datetime.now(UTC)) if spec.cron is not None else None
    return [("cron", problem)] if problem else []


def _cron_problem(pattern: str, now: datetime) -> str | None:
    """Why a cron pattern cannot drive a continuous run: invalid, never firing (within
    CRON_HORIZON), or firing more often than intervalMinutes may (judged on its next CRON_SAMPLES fires)."""
    if not croniter.is_valid(pattern):
        return f"{pattern!r} is not a valid cron pattern"
    try:
        fires = croniter(pattern, now)
        times = [fires.get_next(datetime) for _ in range(CRON_SAMPLES)]
    except CroniterBadDateError:
        times = []
    if not times or times[0] - now > CRON_HORIZON:
        return f"{pattern!r} never fires (not in the next {CRON_HORIZON.days // 365} years)"
    if min(later - earlier for earlier, later in pairwise(times)) < timedelta(minutes=MIN_INTERVAL_MINUTES):
        return (
            f"{pattern!r} fires more often than every {MIN_INTERVAL_MINUTES} minutes, the shortest interval"
        )
    return None


def validate_spec(spec: RunSpec, registry: ModelRegistry) -> None:
    problems = spec_problems(spec, registry)
    if problems:
        raise InvalidInput.of(problems)


def _choice(problems: list[tuple[str, str]], field: str, value: str, allowed: type[Any]) -> Any:
    try:
        return allowed(value)
    except ValueError:
        problems.append((field, f"{field} must be one of: {', '.join(item.value for item in allowed)}"))
        return None


def parse_request(request: RunParameters, preferred_model: str, registry: ModelRegistry) -> RunSpec:
    """The request as a spec, every field checked once; InvalidInput names each bad field."""
    problems: list[tuple[str, str]] = []
    source = _choice(problems, "source", request.source, Source)
    media = _choice(problems, "mediaType", request.media_type, MediaType)
    mode = _choice(problems, "mode", request.mode, RunMode)
    window = _choice(problems, "trendingWindow", request.trending_window, TrendingWindow)
    spec = RunSpec(
        model=request.model or preferred_model,
        source=source or Source.POPULAR,
        media_type=media or MediaType.MOVIE,
        count=request.count,
        filters=TitleFilters(**msgspec.structs.asdict(request.filters)),
        trending_window=window or TrendingWindow.WEEK,
        priority=request.priority,
        mode=mode or RunMode.BATCH,
        interval_minutes=request.interval_minutes,
        cron=request.cron,
        budget_usd=request.budget_usd,
    )
    problems += [
        (field, message)
        for field, message in spec_problems(spec, registry)
        if not (field == "source" and (source is None or media is None))
    ]
    if problems:
        raise InvalidInput.of(problems)
    return spec


# -- starting ---------------------------------------------------------------------------------


async def requester(session: AsyncSession, user_id: int) -> tuple[User, int]:
    """The signed-in user's row and how many unfinished runs they have, in one statement;
    Unauthorized if the account was deleted since."""
    row = (await session.exec(select(User, _active_count(user_id)).where(User.id == user_id))).first()
    if row is None:
        raise Unauthorized(users.ACCOUNT_GONE)
    return row[0], int(row[1])


async def start_run(
    session: AsyncSession, job_queue: JobQueue, registry: ModelRegistry, settings: Settings, user: User,
    request: AutoGenerateRequest, active: int | None = None,
) -> tuple[GenerationRun, RunSpec]:  # fmt: skip
    """A user's request, checked (fields, key, one continuous run at a time), stored and queued."""
    assert user.id is not None
    spec = await admit(session, registry, settings, user, request, active)
    return await create_run(session, job_queue, user.id, spec), spec


async def admit(
    session: AsyncSession, registry: ModelRegistry, settings: Settings, user: User, request: RunParameters,
    active: int | None = None,
) -> RunSpec:  # fmt: skip
    """A user's request as a spec, checked as the API checks it (fields, key, how many active runs,
    one continuous run), whether it came over HTTP or as a queued `generate` job. `active`: the
    user's unfinished runs, if already counted."""
    assert user.id is not None
    spec = parse_request(request, user.preferred_ai_model, registry)
    provider = registry.get(spec.model).provider
    if PROVIDERS[provider].needs_key and not await ai_settings.has_key(session, settings, user.id, provider):
        raise InvalidInput(
            f"no API key for {provider}: save one under AI settings, or pick the offline model", field="model"
        )
    if active is None:
        active = await count_active(session, user.id)
    if active >= settings.max_active_runs:
        raise TooManyRequests(
            f"you have {active} unfinished runs, the most allowed (BLOGQUEUE_MAX_ACTIVE_RUNS); "
            "wait for one to finish or stop one",
            retry_after=ACTIVE_RUNS_RETRY_S,
        )
    if spec.mode is RunMode.CONTINUOUS:
        existing = await continuous_run(session, user.id)
        if existing is not None:
            raise Conflict(f"continuous run {existing.id} is already running; stop it first", field="runId")
    return spec


async def create_run(
    session: AsyncSession, job_queue: JobQueue, user_id: int, spec: RunSpec, request: RequestJob | None = None
) -> GenerationRun:
    """Store a checked spec's run and queue its planning job (or its scheduler); on failure nothing
    is left behind. A run a queued request creates is planned by that job itself."""
    run = GenerationRun(
        user_id=user_id,
        model=spec.model,
        source=spec.source,
        media_type=spec.media_type,
        requested=spec.count,
        filters=msgspec.to_builtins(spec.filters),
        trending_window=spec.trending_window,
        mode=spec.mode,
        interval_minutes=spec.interval_minutes,
        cron=spec.cron,
        budget_usd=spec.budget_usd,
        priority=spec.priority,
        request_key=request.key if request else None,
    )
    # The checks' reads end here: no connection is held while Redis answers, or while this waits
    # for the writes lock, whose holder may be waiting for a connection.
    await session.commit()
    if spec.mode is RunMode.BATCH:
        run.plan_job_id = request.job_id if request else await job_queue.reserve_job_id(str(user_id))
    # A Core insert, then the instance joins the session as the row it now is: a unit-of-work
    # flush would cost more than the rest of the start.
    runs_table: Any = GenerationRun.__table__  # type: ignore[attr-defined]
    async with db.writes(session.bind):  # type: ignore[arg-type]  # sessions are bound to an engine
        connection = await session.connection()
        inserted = await connection.execute(
            insert(runs_table).returning(runs_table.c.id), run.model_dump(exclude={"id"})
        )
        run.id = inserted.scalar_one()
        await session.commit()
    make_transient_to_detached(run)
    session.add(run)
    payload = GenerateRun(user_id=str(user_id), run_id=run.id)
    try:
        if spec.mode is RunMode.BATCH and request:
            await job_queue.track_run_jobs(user_id, run.id, request.job_id)
        elif spec.mode is RunMode.BATCH:
            options = EnqueueOptions(priority=spec.priority, job_id=run.plan_job_id, reserved=True)
            await job_queue.enqueue(JobName.GENERATE, payload, options)
            await job_queue.track_run_jobs(user_id, run.id, str(run.plan_job_id))
        else:
            await start_schedule(session, job_queue, run)
            await job_queue.runs_changed(user_id)
    except Exception:
        await session.delete(run)
        await session.commit()
        raise
    return run


async def start_schedule(session: AsyncSession, job_queue: JobQueue, run: GenerationRun) -> None:
    """Start a continuous run's scheduler and mark the run running; an upsert, so a queued request
    retried after a crash in between may call it again."""
    assert run.id is not None
    run.plan_job_id = await job_queue.schedule(
        scheduler_id(run.id), JobName.GENERATE, GenerateRun(user_id=str(run.user_id), run_id=run.id),
        every_ms=(run.interval_minutes or 0) * 60_000, cron=run.cron,
    )  # fmt: skip
    run.status = RunStatus.RUNNING
    session.add(run)
    await session.commit()


async def run_for_request(session: AsyncSession, request: RequestJob) -> GenerationRun | None:
    """The run this request job created already, if it did (on a retry or after a crash)."""
    query = select(GenerationRun).where(GenerationRun.request_key == request.key)
    return (await session.exec(query)).first()


# -- reading ----------------------------------------------------------------------------------


async def get_run(session: AsyncSession, run_id: int) -> GenerationRun:
    run = await session.get(GenerationRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id} does not exist")
    return run


async def continuous_run(session: AsyncSession, user_id: int) -> GenerationRun | None:
    query = select(GenerationRun).where(
        GenerationRun.user_id == user_id,
        GenerationRun.mode == RunMode.CONTINUOUS,
        col(GenerationRun.status).in_(ACTIVE),
    )
    return (await session.exec(query)).first()


def _active_count(user_id: int) -> Any:
    return (
        select(func.count())
        .select_from(GenerationRun)
        .where(GenerationRun.user_id == user_id, col(GenerationRun.status).in_(ACTIVE))
        .scalar_subquery()
    )


async def count_active(session: AsyncSession, user_id: int) -> int:
    return int((await session.exec(select(_active_count(user_id)))).one())


async def active_runs(session: AsyncSession, user_id: int) -> list[GenerationRun]:
    query = select(GenerationRun).where(
        GenerationRun.user_id == user_id, col(GenerationRun.status).in_(ACTIVE)
    )
    return list((await session.exec(query)).all())


# -- counting, charging, finishing, stopping --------------------------------------------------


async def bump(session: AsyncSession, run_id: int, **increments: int | float) -> None:
    """Add to a run's counters in one statement (call inside the caller's transaction)."""
    values: dict[str, Any] = {
        name: getattr(GenerationRun, name) + amount for name, amount in increments.items()
    }
    await session.exec(update(GenerationRun).where(col(GenerationRun.id) == run_id).values(**values))


async def stop_if_over_budget(session: AsyncSession, job_queue: JobQueue, run_id: int) -> str:
    """Stop a run whose cost has reached its budget; returns why it was stopped, or ""."""
    current = await get_run(session, run_id)
    await session.refresh(current)
    if current.budget_usd is None or current.cost_usd < current.budget_usd:
        return ""
    reason = f"budget reached: ${current.cost_usd:.4f} of ${current.budget_usd:.4f} spent"
    await stop_run(session, job_queue, current, reason)
    return reason


def outcome(written: int, planned: int) -> RunStatus:
    """What a finished batch run is called: every post written, some, or none."""
    if planned and written >= planned:
        return RunStatus.COMPLETED
    return RunStatus.PARTIAL if written else RunStatus.FAILED


async def post_failed(session: AsyncSession, failure: PostFailure) -> None:
    """Record a post that failed for good, count it on its run, and give its title back to the
    pool, in one transaction."""
    session.add(failure)
    freed = await claims.release(session, failure.media_type, failure.tmdb_id)
    await bump(session, failure.run_id, posts_failed=1, released=freed)
    await session.commit()


async def _main_reason(session: AsyncSession, run_id: int) -> str:
    query = (
        select(PostFailure.reason)
        .where(PostFailure.run_id == run_id)
        .group_by(col(PostFailure.reason))
        .order_by(func.count().desc())
        .limit(1)
    )
    return (await session.exec(query)).first() or ""


async def finish_if_done(session: AsyncSession, run_id: int) -> GenerationRun | None:
    """Once every planned post has been written or has failed, mark the run completed, partial
    or failed, with a message that names the commonest failure. Returns the run if this call
    finished it (for its caller to announce), else None: of callers racing, one finishes it."""
    run = await get_run(session, run_id)
    await session.refresh(run)
    done = run.posts_done + run.posts_failed >= run.planned
    if not (run.mode == RunMode.BATCH and run.status == RunStatus.RUNNING and done):
        return None
    message = f"{run.posts_done} of {run.planned} posts written"
    if run.posts_failed:
        message += f", {run.posts_failed} failed: {await _main_reason(session, run_id)}"
    finishing = (
        update(GenerationRun)
        .where(col(GenerationRun.id) == run_id, col(GenerationRun.status) == RunStatus.RUNNING)
        .values(status=outcome(run.posts_done, run.planned), message=message, finished_at=utcnow())
    )
    finished = (await session.exec(finishing)).rowcount == 1
    await session.commit()
    if not finished:
        return None
    await session.refresh(run)
    return run


def finished_event(run: GenerationRun, message: str | None = None) -> RunFinished:
    data = RunFinishedData(status=run.status, posts_done=run.posts_done, posts_failed=run.posts_failed,
                           cost_usd=run.cost_usd)  # fmt: skip
    return RunFinished(
        run_id=run.id or 0, user_id=str(run.user_id), message=message or run.message, data=data
    )


async def set_status(session: AsyncSession, run: GenerationRun, status: RunStatus, message: str = "") -> None:
    run.status = status
    run.message = message
    if status in FINISHED:
        run.finished_at = utcnow()
    session.add(run)
    await session.commit()


async def _cancel(session: AsyncSession, run: GenerationRun, reason: str) -> GenerationRun:
    """Mark the run cancelled. SQLite can refuse a write at once ("database is locked") when a
    worker's write overlaps ours; the write is then tried again, a few times."""
    run_id = run.id or 0
    for attempt in range(LOCKED_RETRIES):
        try:
            await set_status(session, run, RunStatus.CANCELLED, reason)
            return run
        except OperationalError as err:
            if "locked" not in str(err) or attempt == LOCKED_RETRIES - 1:
                raise
            await session.rollback()
            await asyncio.sleep(0.05 * (attempt + 1))
            run = await get_run(session, run_id)
    return run


async def stop_run(session: AsyncSession, job_queue: JobQueue, run: GenerationRun, reason: str) -> StopReport:
    """Remove the run's scheduler and its waiting jobs, abort its active ones in whichever worker
    runs them, and give its unwritten titles back to the pool. Idempotent: stopping a finished run
    changes nothing and says so."""
    assert run.id is not None
    if run.status in FINISHED:
        return StopReport(run.id, run.status, 0, 0, already_stopped=True)
    # Mark it first: jobs that start from now on see the run is over and end at once.
    run = await _cancel(session, run, reason)
    assert run.id is not None
    if run.mode == RunMode.CONTINUOUS:
        await job_queue.remove_scheduler(scheduler_id(run.id))
    removed, cancelling = 0, []
    for job_id in await job_queue.run_job_ids(run.id):
        try:
            cancelled = await job_queue.cancel_job(job_id, reason)
        except NotFound:
            continue
        removed += cancelled is CancelOutcome.REMOVED
        if cancelled is CancelOutcome.CANCELLING:
            cancelling.append(job_id)
    if removed:
        await job_queue.posts_left_queue(str(run.user_id), removed)
    released = await release_unwritten(session, run, cancelling)
    await job_queue.publish(finished_event(run, f"stopped: {reason}"))
    return StopReport(run.id, RunStatus.CANCELLED, removed, len(cancelling), released=released)


async def release_unwritten(session: AsyncSession, run: GenerationRun, keep_jobs: list[str]) -> int:
    """Give a finished run's unwritten titles back to the pool and say so in its message."""
    assert run.id is not None
    released = await claims.release_unwritten(session, run.id, keep_jobs)
    await bump(session, run.id, released=released)
    if released:
        run.message += f"; {released} unwritten title{'s' if released != 1 else ''} back to the pool"
        session.add(run)
    await session.commit()
    await session.refresh(run)
    return released
