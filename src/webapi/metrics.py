"""The API's Prometheus endpoint, `GET /metrics`: HTTP requests by route, method and status with
their durations, and the queue's job counts per state and last hour's throughput (read from Redis
at each scrape, so every API process reports the same shared queue). Workers serve their own job,
provider, token and cost metrics (blogworker/metrics.py)."""

from __future__ import annotations

import time

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from blogqueue import job_admin
from blogqueue.errors import BlogQueueError
from blogqueue.jobqueue import JobQueue
from webapi.errors import status_of
from webapi.pages.session import EXCLUDE

HTTP_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ApiMetrics:
    """One app's metrics, in a registry of its own (several apps may share a test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "blogqueue_http_requests_total", "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.durations = Histogram(
            "blogqueue_http_request_duration_seconds", "Time to answer an HTTP request (to its first byte)",
            ["route", "method"], buckets=HTTP_SECONDS, registry=self.registry,
        )  # fmt: skip
        self.jobs = Gauge(
            "blogqueue_queue_jobs", "Jobs in the queue per state", ["state"], registry=self.registry
        )
        self.finished = Gauge(
            "blogqueue_queue_finished_last_hour", "Jobs completed or failed for good in the last hour",
            ["outcome"], registry=self.registry,
        )  # fmt: skip

    async def scrape(self, job_queue: JobQueue) -> bytes:
        report = await job_admin.queue_report(job_queue)
        for state in report.__struct_fields__:
            value = getattr(report, state)
            if isinstance(value, int):
                self.jobs.labels(state).set(value)
        self.finished.labels("completed").set(report.throughput.completed_last_hour)
        self.finished.labels("failed").set(report.throughput.failed_last_hour)
        return generate_latest(self.registry)


class HttpMetricsMiddleware(ASGIMiddleware):
    """Counts and times every routed request by its route template, so ids do not explode the labels."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, metrics: ApiMetrics) -> None:
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        route, method = scope.get("path_template", "unmatched"), scope.get("method", "")
        status = 500  # what the client sees if the app raises past every handler

        async def send_timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self.metrics.durations.labels(route, method).observe(time.perf_counter() - started)
            await send(message)

        try:
            await next_app(scope, receive, send_timed)
        except BlogQueueError as err:  # raised by a later middleware (a shed request): answered outside
            status = status_of(err)
            raise
        finally:
            self.metrics.requests.labels(route, method, str(status)).inc()


class MetricsController(Controller):
    """For Prometheus: no session, not in the OpenAPI document. Expose it on the internal network only."""

    include_in_schema = False
    opt = EXCLUDE

    @get("/metrics", media_type=CONTENT_TYPE_LATEST)
    async def metrics(
        self, api_metrics: NamedDependency[ApiMetrics], job_queue: NamedDependency[JobQueue]
    ) -> Response[bytes]:
        return Response(await api_metrics.scrape(job_queue), media_type=CONTENT_TYPE_LATEST)
