"""The seed's "AI Auto-Generate" workflow: start a run, watch it (status and live events), stop it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import retries, run_events, run_views, runs, schedules
from blogqueue.jobqueue import JobQueue
from blogqueue.models import GenerationRun
from blogqueue.queues import is_stream_id
from blogqueue.registry import ModelRegistry
from blogqueue.runs import RunSpec
from blogqueue.schemas import (
    MAX_PAGE,
    MAX_ROW_ID,
    AutoGenerateRequest,
    PostOutcomePage,
    RetryReport,
    ScheduleRequest,
    ScheduleView,
    StartedRun,
    StatusResponse,
    StopRequest,
    StopResponse,
)
from blogqueue.settings import Settings
from webapi.auth import CurrentUser, require_admin
from webapi.event_hub import EventHub
from webapi.fresh_answers import FreshAnswers
from webapi.openapi import errors

BASE = "/api/admin/blog/auto-generate"
OptionalId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ROW_ID)]


async def _start(
    engine: AsyncEngine, job_queue: JobQueue, registry: ModelRegistry, settings: Settings, user_id: int,
    request: AutoGenerateRequest,
) -> tuple[GenerationRun, RunSpec]:  # fmt: skip
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user, active = await runs.requester(session, user_id)
        return await runs.start_run(session, job_queue, registry, settings, user, request, active)


class AutoGenerateController(Controller):
    path = BASE
    tags = ["generation"]
    guards = [require_admin]

    def __init__(self, owner: Any) -> None:
        super().__init__(owner)
        self.statuses = FreshAnswers[StatusResponse]()

    @post(
        "/",
        status_code=202,
        summary="Start a batch or continuous generation run",
        responses=errors(403, 409, 422),
    )
    async def start(
        self,
        data: JSONBody[AutoGenerateRequest],
        current_user: NamedDependency[CurrentUser],
        engine: NamedDependency[AsyncEngine],
        job_queue: NamedDependency[JobQueue],
        registry: NamedDependency[ModelRegistry],
        settings: NamedDependency[Settings],
    ) -> StartedRun:
        # Shielded: a client that gives up mid-way leaves a whole run (row and job) or nothing.
        run, spec = await asyncio.shield(_start(engine, job_queue, registry, settings, current_user.id, data))
        assert run.id is not None
        return StartedRun(
            run_id=run.id,
            job_ids=[run.plan_job_id or ""],
            status=run.status,
            mode=run.mode,
            status_url=f"{BASE}/status?runId={run.id}",
            events_url=f"{BASE}/events?runId={run.id}",
            estimate=run_views.estimate(spec, registry),
        )

    @get(
        "/status",
        summary="A page of runs, active first: progress, posts, cost, logs; queue metrics",
        responses=errors(403, 422),
    )
    async def status(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        settings: NamedDependency[Settings],
        runId: OptionalId = None,  # noqa: N803 - the seed's query names
        userId: OptionalId = None,  # noqa: N803
        page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1,
        pageSize: Annotated[int, QueryParameter(ge=1, le=run_views.MAX_RUNS_PER_PAGE)] = 10,  # noqa: N803
    ) -> StatusResponse:
        user_id = userId or request.user.id

        def build() -> Awaitable[StatusResponse]:
            return run_views.status_page(
                db_session, job_queue, settings, user_id, run_id=runId, page=page, page_size=pageSize
            )

        version = await job_queue.runs_version(user_id)
        return await self.statuses.get((user_id, runId, page, pageSize), version, build)

    @get(
        "/runs/{run_id:int}/posts",
        summary="A page of a run's post jobs: state, reason, the post written",
        responses=errors(403, 404, 422),
    )
    async def outcomes(
        self,
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        run_id: Annotated[int, PathParameter(ge=1, le=MAX_ROW_ID)],
        page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1,
        pageSize: Annotated[int, QueryParameter(ge=1, le=100)] = 50,  # noqa: N803
    ) -> PostOutcomePage:
        return await run_views.post_outcomes(db_session, job_queue, run_id, page=page, page_size=pageSize)

    @post(
        "/runs/{run_id:int}/schedule",
        status_code=200,
        summary="Change a continuous run's schedule: intervalMinutes or cron (the next batch is planned now)",
        responses=errors(403, 404, 409, 422),
    )
    async def reschedule(
        self,
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        run_id: Annotated[int, PathParameter(ge=1, le=MAX_ROW_ID)],
        data: JSONBody[ScheduleRequest],
    ) -> ScheduleView:
        run = await runs.get_run(db_session, run_id)
        return schedules.view(await schedules.reschedule(db_session, job_queue, run, data))

    @post(
        "/runs/{run_id:int}/{action:str}",
        status_code=200,
        summary="pause: a running continuous run ticks no more until resume, which plans a batch now",
        responses=errors(403, 404, 409, 422),
    )
    async def pause_or_resume(
        self,
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        run_id: Annotated[int, PathParameter(ge=1, le=MAX_ROW_ID)],
        action: FromPath[schedules.Switch],
    ) -> ScheduleView:
        run = await runs.get_run(db_session, run_id)
        return schedules.view(await schedules.switch(db_session, job_queue, run, action))

    @post(
        "/runs/{run_id:int}/retry-failed",
        status_code=202,
        summary="Queue a finished batch run's failed titles again (409 if it has none or is not finished)",
        responses=errors(403, 404, 409, 422),
    )
    async def retry_failed(
        self,
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        run_id: Annotated[int, PathParameter(ge=1, le=MAX_ROW_ID)],
    ) -> RetryReport:
        run = await runs.get_run(db_session, run_id)
        return await retries.retry_failed(db_session, job_queue, run)

    @post(
        "/stop",
        status_code=200,
        summary="Stop a run (or all active runs): idempotent",
        responses=errors(403, 404, 422),
    )
    async def stop(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        data: JSONBody[StopRequest | None] = None,
    ) -> StopResponse:
        body = data or StopRequest()
        if body.run_id is not None:
            targets = [await runs.get_run(db_session, body.run_id)]
        else:
            targets = await runs.active_runs(db_session, body.user_id or request.user.id)
        reason = f"stopped by {request.user.email}"
        return StopResponse([await runs.stop_run(db_session, job_queue, run, reason) for run in targets])

    @get(
        "/events",
        summary="Server-Sent Events: progress, log lines, post saved/failed, run finished",
        media_type="text/event-stream",
        responses=errors(403, 422),
    )
    async def events(
        self,
        request: Request[CurrentUser, Any, Any],
        event_hub: NamedDependency[EventHub],
        runId: OptionalId = None,  # noqa: N803
        userId: OptionalId = None,  # noqa: N803
    ) -> ServerSentEvent:
        last_id = request.headers.get("last-event-id") or None
        if last_id is not None and not is_stream_id(last_id):
            raise ClientException(
                "Last-Event-ID must be the id of an event this stream sent, such as 1700000000000-0"
            )
        subscriber = event_hub.subscribe(str(userId or request.user.id), runId)
        follow = event_hub.follow(subscriber, last_id)
        return ServerSentEvent(_messages(follow))


async def _messages(follow: AsyncIterator[tuple[str, Any] | None]) -> AsyncIterator[ServerSentEventMessage]:
    async for item in follow:
        if item is None:
            yield ServerSentEventMessage(comment="keep-alive")
        else:
            entry_id, event = item
            yield ServerSentEventMessage(data=run_events.encode(event), event=event.kind, id=entry_id)
