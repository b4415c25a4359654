"""A worker process's Prometheus metrics: jobs by name and outcome, job and provider call
durations, tokens and cost per provider and model. Served over HTTP on
BLOGQUEUE_WORKER_METRICS_PORT, one port per worker process, so Prometheus scrapes every worker on
every host and sums them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from blogqueue.post_jobs import NewUsage
from blogqueue.providers import Provider
from blogworker.providers.base import (
    GenerationRequest,
    GenerationResult,
    OnText,
    ProviderError,
    TextGenerator,
)

log = structlog.get_logger("blogworker.metrics")

REGISTRY = (
    CollectorRegistry()
)  # this process's; the default one would add Python's own metrics twice in tests
JOB_SECONDS = (0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300)
CALL_SECONDS = (0.25, 1, 2.5, 5, 10, 20, 40, 80, 160)

jobs = Counter(
    "blogqueue_worker_jobs_total",
    "Job attempts ended, by job name, outcome (completed, failed, retry, postpone, hand back), error class",
    ["name", "outcome", "reason"],
    registry=REGISTRY,
)
job_duration = Histogram(
    "blogqueue_worker_job_duration_seconds", "Time one job attempt took", ["name", "outcome"],
    buckets=JOB_SECONDS, registry=REGISTRY,
)  # fmt: skip
provider_calls = Histogram(
    "blogqueue_provider_call_duration_seconds", "Time one provider call took, streaming included",
    ["provider", "model", "outcome"], buckets=CALL_SECONDS, registry=REGISTRY,
)  # fmt: skip
tokens = Counter(
    "blogqueue_provider_tokens_total", "Tokens the providers reported, failed calls included",
    ["provider", "model", "direction"], registry=REGISTRY,
)  # fmt: skip
cost = Counter(
    "blogqueue_provider_cost_usd_total", "Cost of provider calls at the registry's prices",
    ["provider", "model"], registry=REGISTRY,
)  # fmt: skip


@asynccontextmanager
async def timed_job(name: str) -> AsyncIterator[dict[str, str]]:
    """Time a job attempt; the caller fills in `outcome` and `reason` when it did not complete."""
    ended = {"outcome": "completed", "reason": ""}
    started = time.perf_counter()
    try:
        yield ended
    finally:
        job_duration.labels(name, ended["outcome"]).observe(time.perf_counter() - started)
        jobs.labels(name, ended["outcome"], ended["reason"]).inc()


def charged(usage: NewUsage) -> None:
    """A provider call's tokens and cost, once they are charged to the run."""
    tokens.labels(usage.provider, usage.model, "in").inc(usage.tokens_in)
    tokens.labels(usage.provider, usage.model, "out").inc(usage.tokens_out)
    cost.labels(usage.provider, usage.model).inc(usage.cost_usd)


class MeteredGenerator:
    """A TextGenerator that times each call."""

    def __init__(self, inner: TextGenerator) -> None:
        self._inner = inner
        self.provider: Provider = inner.provider

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def generate(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        started, outcome = time.perf_counter(), "ok"
        try:
            return await self._inner.generate(request, on_text)
        except ProviderError as err:
            outcome = str(err.kind)
            raise
        except BaseException:
            outcome = "aborted"
            raise
        finally:
            provider_calls.labels(request.model.provider, request.model.id, outcome).observe(
                time.perf_counter() - started
            )


def serve(port: int | None) -> Any:
    """Start the metrics HTTP server in a thread when a port is set; returns the server, or None."""
    if port is None:
        return None
    server, _ = start_http_server(port, registry=REGISTRY)
    log.info("metrics_listening", port=server.server_port)
    return server
