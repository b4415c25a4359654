"""`create_app(settings)`: the Litestar application. `litestar --app webapi.app:create_app run`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from sqlalchemy.ext.asyncio import AsyncEngine

from blogqueue import db
from blogqueue.jobqueue import JobQueue
from blogqueue.logs import configure_logging
from blogqueue.settings import Settings
from webapi.controllers.health import HealthController
from webapi.controllers.queue import QueueController
from webapi.errors import EXCEPTION_HANDLERS


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            engine = db.create_engine(settings)
            stack.push_async_callback(engine.dispose)
            job_queue = JobQueue(settings)
            stack.push_async_callback(job_queue.close)
            app.state.engine = engine
            app.state.job_queue = job_queue
            yield

    def provide_job_queue() -> JobQueue:
        return app.state.job_queue  # type: ignore[no-any-return]

    def provide_engine() -> AsyncEngine:
        return app.state.engine  # type: ignore[no-any-return]

    app = Litestar(
        route_handlers=[HealthController, QueueController],
        lifespan=[lifespan],
        dependencies={
            "job_queue": Provide(provide_job_queue, sync_to_thread=False),
            "engine": Provide(provide_engine, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(title="BlogQueue", version="0.1.0", path="/schema"),
    )
    return app
