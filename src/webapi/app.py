"""`create_app(settings)`: the Litestar application. `litestar --app webapi.app:create_app run`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import db
from blogqueue.connection import redis_client
from blogqueue.crypto import KeyCipher
from blogqueue.jobqueue import JobQueue
from blogqueue.login_throttle import LoginThrottle
from blogqueue.logs import configure_logging
from blogqueue.queues import Keys
from blogqueue.registry import load_registry
from blogqueue.settings import Settings
from webapi.admission import AdmissionMiddleware
from webapi.auth import Identities, Revocations, Sessions, build_auth
from webapi.controllers.ai_settings import AiSettingsController
from webapi.controllers.auth import AuthController
from webapi.controllers.generate import AutoGenerateController
from webapi.controllers.health import HealthController
from webapi.controllers.jobs import JobsController
from webapi.controllers.models import ModelsController
from webapi.controllers.posts import PostsController
from webapi.controllers.queue import QueueController
from webapi.csrf import CsrfMiddleware
from webapi.deps import provide_current_user, provide_user_row
from webapi.errors import EXCEPTION_HANDLERS, BodyCheckedRequest
from webapi.event_hub import EventHub
from webapi.headers import add_security_headers
from webapi.metrics import ApiMetrics, HttpMetricsMiddleware, MetricsController
from webapi.openapi import openapi_config
from webapi.pages import PAGE_HANDLERS, static_files, template_config
from webapi.pages.errors import note_viewer, unknown_address

POOL_TIMEOUT_S = 2.0  # a request that cannot get a database connection this fast gets a 503


def cors_config(settings: Settings) -> CORSConfig | None:
    """Browsers on the configured origins may call the API (with the session cookie); no others."""
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        allow_credentials=True,
    )


def _sessions_checked_after_admission(admission: AdmissionMiddleware) -> Callable[[AppConfig], AppConfig]:
    """Litestar puts its auth middleware outermost; moved behind admission control, a request that
    is shed costs no token check and no Redis round trip, so a busy process sheds fast."""

    def reorder(app_config: AppConfig) -> AppConfig:
        middleware = app_config.middleware
        auth_middleware = middleware.pop(0)
        middleware.insert(middleware.index(admission) + 1, auth_middleware)
        return app_config

    return reorder


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    configure_logging(settings)
    auth = build_auth(settings)
    redis = redis_client(settings)  # sessions and sign-in: apart from the queue's connections
    revocations = Revocations(redis, Keys(settings.queue_prefix))
    sessions = Sessions(auth, revocations)
    throttle = LoginThrottle(redis, settings)
    cipher = KeyCipher.from_settings(settings)  # fails at start, not at first use, if misconfigured
    registry = load_registry()
    api_metrics = ApiMetrics()
    admission = AdmissionMiddleware(settings.api_max_in_flight)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.engine = db.create_engine(settings, pool_timeout_s=POOL_TIMEOUT_S)
            stack.push_async_callback(app.state.engine.dispose)
            app.state.identities = Identities(app.state.engine)
            app.state.job_queue = JobQueue(settings)
            stack.push_async_callback(app.state.job_queue.close)
            stack.push_async_callback(redis.aclose)
            app.state.event_hub = EventHub(app.state.job_queue)
            await app.state.event_hub.start()
            stack.push_async_callback(app.state.event_hub.aclose)
            yield

    def provide_job_queue() -> JobQueue:
        return app.state.job_queue  # type: ignore[no-any-return]

    def provide_event_hub() -> EventHub:
        return app.state.event_hub  # type: ignore[no-any-return]

    def provide_engine() -> AsyncEngine:
        return app.state.engine  # type: ignore[no-any-return]

    async def provide_db_session() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(app.state.engine, expire_on_commit=False) as session:
            yield session

    app = Litestar(
        route_handlers=[
            HealthController,
            JobsController,
            AuthController,
            AiSettingsController,
            ModelsController,
            PostsController,
            QueueController,
            AutoGenerateController,
            MetricsController,
            *PAGE_HANDLERS,
            static_files(),
        ],
        template_config=template_config(),
        lifespan=[lifespan],
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "job_queue": Provide(provide_job_queue, sync_to_thread=False),
            "engine": Provide(provide_engine, sync_to_thread=False),
            "event_hub": Provide(provide_event_hub, sync_to_thread=False),
            "throttle": Provide(lambda: throttle, sync_to_thread=False),
            "db_session": Provide(provide_db_session),
            "sessions": Provide(lambda: sessions, sync_to_thread=False),
            "cipher": Provide(lambda: cipher, sync_to_thread=False),
            "registry": Provide(lambda: registry, sync_to_thread=False),
            "api_metrics": Provide(lambda: api_metrics, sync_to_thread=False),
            "current_user": Provide(provide_current_user, sync_to_thread=False),
            "user_row": Provide(provide_user_row),
        },
        on_app_init=[auth.on_app_init, _sessions_checked_after_admission(admission)],
        exception_handlers={**EXCEPTION_HANDLERS, NotFoundException: unknown_address},  # type: ignore[dict-item]
        after_exception=[note_viewer(sessions)],
        request_class=BodyCheckedRequest,
        middleware=[
            HttpMetricsMiddleware(api_metrics),  # outermost: shed and refused requests are counted too
            admission,
            CsrfMiddleware(settings.cors_origins),
        ],
        before_send=[add_security_headers],
        openapi_config=openapi_config(),
        cors_config=cors_config(settings),
    )
    app.state.revocations = revocations
    return app
