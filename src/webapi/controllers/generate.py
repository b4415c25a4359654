"""The seed's "AI Auto-Generate" workflow: start a run, watch it (status and live events), stop it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import structlog
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from redis.exceptions import RedisError
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import run_events, run_views, runs
from blogqueue.jobqueue import JobQueue
from blogqueue.models import User
from blogqueue.registry import ModelRegistry
from blogqueue.schemas import AutoGenerateRequest, StartedRun, StatusResponse, StopRequest, StopResponse
from blogqueue.settings import Settings
from webapi.auth import CurrentUser, require_admin
from webapi.openapi import errors

log = structlog.get_logger("webapi.events")

BASE = "/api/admin/blog/auto-generate"
BLOCK_MS = 15_000  # one XREAD wait; an SSE comment keeps the connection open in between
RETRY_S = 1.0


class AutoGenerateController(Controller):
    path = BASE
    tags = ["generation"]
    guards = [require_admin]

    @post(
        "/",
        status_code=202,
        summary="Start a batch or continuous generation run",
        responses=errors(403, 409, 422),
    )
    async def start(
        self,
        data: JSONBody[AutoGenerateRequest],
        user_row: NamedDependency[User],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        registry: NamedDependency[ModelRegistry],
        settings: NamedDependency[Settings],
    ) -> StartedRun:
        run, spec = await runs.start_run(db_session, job_queue, registry, settings, user_row, data)
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
        summary="Active and recent runs with progress, posts, cost and logs; queue metrics",
        responses=errors(403, 422),
    )
    async def status(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        runId: FromQuery[int | None] = None,  # noqa: N803 - the seed's query names
        userId: FromQuery[int | None] = None,  # noqa: N803
    ) -> StatusResponse:
        found = await run_views.recent_runs(db_session, userId or request.user.id, runId)
        views = [await run_views.describe(db_session, job_queue, run) for run in found]
        return StatusResponse(views, await job_queue.get_queue_metrics())

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
        job_queue: NamedDependency[JobQueue],
        runId: FromQuery[int | None] = None,  # noqa: N803
        userId: FromQuery[int | None] = None,  # noqa: N803
    ) -> ServerSentEvent:
        user_id = str(userId or request.user.id)
        start = request.headers.get("last-event-id") or await job_queue.events_end()
        return ServerSentEvent(_follow(job_queue, start, user_id, runId))


async def _follow(job_queue: JobQueue, position: str, user_id: str, run_id: int | None) -> AsyncIterator[Any]:
    """Read the event stream from `position` on, for as long as the client listens; a Redis error
    is waited out and reading resumes where it stopped, so nothing still in the stream is missed."""
    while True:
        try:
            entries = await job_queue.read_events(position, block_ms=BLOCK_MS)
        except RedisError as err:
            log.warning("event_stream_retry", error=repr(err))
            await asyncio.sleep(RETRY_S)
            continue
        if not entries:
            yield ServerSentEventMessage(comment="keep-alive")
        for entry_id, event in entries:
            position = entry_id
            if event is not None and event.user_id == user_id and run_id in (None, event.run_id):
                yield ServerSentEventMessage(data=run_events.encode(event), event=event.kind, id=entry_id)
