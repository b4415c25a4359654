"""Liveness and readiness probes."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncEngine

from blogqueue import db
from blogqueue.jobqueue import JobQueue
from blogqueue.schemas import Readiness
from webapi.openapi import PUBLIC, errors


class HealthController(Controller):
    tags = ["health"]

    @get("/healthz", summary="The process is up", security=PUBLIC, responses=errors(public=True))
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/readyz",
        summary="Redis and the database are reachable; live workers are counted",
        security=PUBLIC,
        responses={
            **errors(public=True),
            503: ResponseSpec(
                Readiness, description="Not ready: `reasons` says why", generate_examples=False
            ),
        },
    )
    async def readyz(
        self, job_queue: NamedDependency[JobQueue], engine: NamedDependency[AsyncEngine]
    ) -> Response[Readiness]:
        reasons: list[str] = []
        redis_state = database_state = "ok"
        workers = 0
        try:
            await job_queue.ping()
            workers = await job_queue.live_workers()
        except Exception as err:  # noqa: BLE001 - any failure means "not ready", with its reason
            redis_state = "unreachable"
            reasons.append(f"redis unreachable at {job_queue.settings.redis_display_url}: {err}")
        try:
            await db.ping(engine)
        except Exception as err:  # noqa: BLE001 - likewise
            database_state = "unreachable"
            reasons.append(f"database unreachable: {type(err).__name__}")
        if redis_state == "ok" and workers == 0:
            reasons.append("no live worker: jobs will wait until one starts")
        ready = redis_state == "ok" and database_state == "ok"
        body = Readiness(
            ready=ready, redis=redis_state, database=database_state, workers=workers, reasons=reasons
        )
        return Response(body, status_code=200 if ready else 503)
