"""The "auto-generate" workflow behind the API: start a run from a request (every field checked,
nothing stored unless all are valid), estimate its cost, and describe runs for a status page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import ai_settings, run_events, runs
from blogqueue.control import scheduler_id
from blogqueue.errors import Conflict, InvalidInput
from blogqueue.jobqueue import JobQueue
from blogqueue.models import BlogPost, GenerationRun, RunMode, User
from blogqueue.providers import PROVIDERS
from blogqueue.registry import ModelRegistry
from blogqueue.runs import RunSpec
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source, TitleFilters, TrendingWindow

# What one post typically costs in tokens (prompt with facts; a 600-900 word post): for estimates.
TYPICAL_INPUT_TOKENS = 1_200
TYPICAL_OUTPUT_TOKENS = 1_400
RECENT_RUNS = 10
LOG_LINES = 20
POST_OUTCOMES = 100


class FiltersIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    min_rating: float | None = None
    year_from: int | None = None
    year_to: int | None = None
    include_adult: bool = False


class AutoGenerateRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Strings rather than enums so that every bad field gets its own message."""

    source: str
    media_type: str
    count: int
    model: str | None = None
    mode: str = RunMode.BATCH.value
    filters: FiltersIn = msgspec.field(default_factory=FiltersIn)
    trending_window: str = TrendingWindow.WEEK.value
    priority: int | None = None
    interval_minutes: int | None = None
    cron: str | None = None
    budget_usd: float | None = None


class CostEstimate(msgspec.Struct, rename="camel"):
    model: str
    posts: int  # per batch; per tick for a continuous run
    per_post_usd: float
    total_usd: float
    assumption: str


class StartedRun(msgspec.Struct, rename="camel"):
    run_id: int
    job_ids: list[str]
    status: str
    mode: str
    status_url: str
    events_url: str
    estimate: CostEstimate


def _choice(problems: list[tuple[str, str]], field: str, value: str, allowed: type[Any]) -> Any:
    try:
        return allowed(value)
    except ValueError:
        problems.append((field, f"{field} must be one of: {', '.join(item.value for item in allowed)}"))
        return None


def to_spec(request: AutoGenerateRequest, preferred_model: str, registry: ModelRegistry) -> RunSpec:
    problems: list[tuple[str, str]] = []
    source = _choice(problems, "source", request.source, Source)
    media = _choice(problems, "mediaType", request.media_type, MediaType)
    mode = _choice(problems, "mode", request.mode, RunMode)
    window = _choice(problems, "trendingWindow", request.trending_window, TrendingWindow)
    filters = TitleFilters(**msgspec.structs.asdict(request.filters))
    spec = RunSpec(
        model=request.model or preferred_model,
        source=source or Source.POPULAR,
        media_type=media or MediaType.MOVIE,
        count=request.count,
        filters=filters,
        trending_window=window or TrendingWindow.WEEK,
        priority=request.priority,
        mode=mode or RunMode.BATCH,
        interval_minutes=request.interval_minutes,
        cron=request.cron,
        budget_usd=request.budget_usd,
    )
    problems += [
        (field, message)
        for field, message in runs.spec_problems(spec, registry)
        if not (field == "source" and (source is None or media is None))
    ]
    if problems:
        raise InvalidInput(
            "; ".join(message for _, message in problems), field=problems[0][0], errors=problems
        )
    return spec


async def _check_key(
    session: AsyncSession, settings: Settings, user_id: int, model_id: str, registry: ModelRegistry
) -> None:
    provider = registry.get(model_id).provider
    if not PROVIDERS[provider].needs_key:
        return
    if not await ai_settings.has_key(session, settings, user_id, provider):
        raise InvalidInput(
            f"no API key for {provider}: save one under AI settings, or pick the offline model", field="model"
        )


def estimate(spec: RunSpec, registry: ModelRegistry) -> CostEstimate:
    per_post = registry.estimate_cost_usd(spec.model, TYPICAL_INPUT_TOKENS, TYPICAL_OUTPUT_TOKENS)
    return CostEstimate(
        model=spec.model,
        posts=spec.count,
        per_post_usd=round(per_post, 6),
        total_usd=round(per_post * spec.count, 6),
        assumption=f"about {TYPICAL_INPUT_TOKENS} input and {TYPICAL_OUTPUT_TOKENS} output tokens per post, "
        "at the registry's current prices" + ("; per tick" if spec.mode is RunMode.CONTINUOUS else ""),
    )


async def start(
    session: AsyncSession,
    job_queue: JobQueue,
    registry: ModelRegistry,
    settings: Settings,
    user: User,
    request: AutoGenerateRequest,
    base_url: str,
) -> StartedRun:
    assert user.id is not None
    spec = to_spec(request, user.preferred_ai_model, registry)
    await _check_key(session, settings, user.id, spec.model, registry)
    if spec.mode is RunMode.CONTINUOUS:
        existing = await continuous_run(session, user.id)
        if existing is not None:
            raise Conflict(f"continuous run {existing.id} is already running; stop it first", field="runId")
    run = await runs.create_run(session, job_queue, registry, user.id, spec)
    assert run.id is not None
    return StartedRun(
        run_id=run.id,
        job_ids=[run.plan_job_id or ""],
        status=run.status,
        mode=run.mode,
        status_url=f"{base_url}/status?runId={run.id}",
        events_url=f"{base_url}/events?runId={run.id}",
        estimate=estimate(spec, registry),
    )


async def continuous_run(session: AsyncSession, user_id: int) -> GenerationRun | None:
    query = select(GenerationRun).where(
        GenerationRun.user_id == user_id,
        GenerationRun.mode == RunMode.CONTINUOUS.value,
        col(GenerationRun.status).not_in(runs.FINISHED),
    )
    return (await session.exec(query)).first()


class PostOutcome(msgspec.Struct, rename="camel"):
    job_id: str
    tmdb_id: int
    media_type: str
    state: str  # saved | failed | active | waiting | delayed | cancelled
    title: str = ""
    slug: str | None = None
    reason: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    incomplete: bool = False


class RunView(msgspec.Struct, rename="camel"):
    id: int
    user_id: int
    state: str
    mode: str
    model: str
    source: str
    media_type: str
    requested: int
    planned: int
    done: int
    failed: int
    progress: float  # percent of planned posts finished (saved or failed)
    tokens_in: int
    tokens_out: int
    cost_usd: float
    budget_usd: float | None
    interval_minutes: int | None
    cron: str | None
    next_tick_at: int | None  # epoch ms of a continuous run's next planning job
    message: str
    created_at: datetime
    finished_at: datetime | None
    posts: list[PostOutcome]
    last_logs: list[str]


async def _outcomes(session: AsyncSession, job_queue: JobQueue, run: GenerationRun) -> list[PostOutcome]:
    assert run.id is not None
    saved = {
        post.tmdb_id: post
        for post in (await session.exec(select(BlogPost).where(BlogPost.run_id == run.id))).all()
    }
    job_ids = sorted(await job_queue.redis.smembers(job_queue.keys.run_jobs(run.id)))[-POST_OUTCOMES:]
    found: list[PostOutcome] = []
    for job_id in job_ids:
        job = await job_queue.queue.getJob(str(job_id))
        if job is None or job.name != "generate-post":
            continue
        post: BlogPost | None = saved.get(int(job.data.get("tmdbId", 0)))
        state = await job.getState()
        outcome = PostOutcome(
            job_id=str(job.id),
            tmdb_id=int(job.data.get("tmdbId", 0)),
            media_type=str(job.data.get("mediaType", "")),
            state=state,
            reason=job.failedReason or None,
        )
        if post is not None:
            outcome.state = "saved" if not post.incomplete else "cancelled"
            outcome.title, outcome.slug, outcome.incomplete = post.title, post.slug, post.incomplete
            outcome.tokens_in, outcome.tokens_out, outcome.cost_usd = (
                post.tokens_in,
                post.tokens_out,
                post.cost_usd,
            )
        found.append(outcome)
    return found


async def describe(session: AsyncSession, job_queue: JobQueue, run: GenerationRun) -> RunView:
    assert run.id is not None
    next_tick = None
    if run.mode == RunMode.CONTINUOUS and run.status not in runs.FINISHED:
        next_tick = await job_queue.next_tick(scheduler_id(run.id))
    logs = await run_events.recent(
        job_queue.redis, job_queue.settings.queue_prefix, run.id, {"log"}, LOG_LINES
    )
    finished = run.posts_done + run.posts_failed
    return RunView(
        id=run.id,
        user_id=run.user_id,
        state=run.status,
        mode=run.mode,
        model=run.model,
        source=run.source,
        media_type=run.media_type,
        requested=run.requested,
        planned=run.planned,
        done=run.posts_done,
        failed=run.posts_failed,
        progress=round(100 * finished / run.planned, 1) if run.planned else 0.0,
        tokens_in=run.tokens_in,
        tokens_out=run.tokens_out,
        cost_usd=round(run.cost_usd, 6),
        budget_usd=run.budget_usd,
        interval_minutes=run.interval_minutes,
        cron=run.cron,
        next_tick_at=next_tick,
        message=run.message,
        created_at=run.created_at,
        finished_at=run.finished_at,
        posts=await _outcomes(session, job_queue, run),
        last_logs=[event.message for event in logs],
    )


async def recent_runs(session: AsyncSession, user_id: int, run_id: int | None = None) -> list[GenerationRun]:
    """A user's active runs and their latest finished ones, newest first."""
    query = select(GenerationRun).where(GenerationRun.user_id == user_id)
    if run_id is not None:
        query = query.where(GenerationRun.id == run_id)
    rows = (await session.exec(query.order_by(col(GenerationRun.id).desc()))).all()
    active = [run for run in rows if run.status not in runs.FINISHED]
    return active + [run for run in rows if run.status in runs.FINISHED][: max(0, RECENT_RUNS - len(active))]


async def active_runs(session: AsyncSession, user_id: int) -> list[GenerationRun]:
    query = select(GenerationRun).where(
        GenerationRun.user_id == user_id, col(GenerationRun.status).not_in(runs.FINISHED)
    )
    return list((await session.exec(query)).all())
