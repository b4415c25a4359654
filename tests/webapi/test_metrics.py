"""Prometheus metrics: the API's /metrics and a worker's own endpoint, scraped after a real run
(real worker, OpenAI's SDK against the fake provider)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from blogfakes.ai_server import FakeAI, start_fake_ai
from blogqueue import db
from blogqueue.registry import load_registry
from tests.conftest import free_port, make_settings, wait_for
from tests.webapi.conftest import ACCOUNTS, create_accounts, sign_in
from webapi.app import create_app

BASE = "/api/admin/blog/auto-generate"
MODEL = "gpt-6.2-sol"
FAKE_USAGE = (1200, 800)  # what the fake provider reports per call


@pytest.fixture(scope="module")
def fake_ai() -> Iterator[FakeAI]:
    with start_fake_ai() as fake:
        yield fake


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, /, **labels: str) -> float:
    return found.get((metric, frozenset(labels.items())), 0.0)


async def test_the_api_and_a_worker_report_a_runs_jobs_tokens_and_cost(
    redis_url: str, tmp_path: Path, fake_ai: FakeAI, start_worker: Any
) -> None:
    worker_port = free_port()
    settings = make_settings(redis_url, tmp_path / "data", openai_base_url=f"{fake_ai.url}/v1",
                             worker_metrics_port=worker_port)  # fmt: skip
    await asyncio.to_thread(db.migrate, settings)
    await create_accounts(settings)
    start_worker(settings)
    worker_url = f"http://127.0.0.1:{worker_port}/metrics"
    async with httpx.AsyncClient() as http, AsyncTestClient(create_app(settings)) as client:

        async def worker_serving() -> bool:
            try:
                return (await http.get(worker_url)).status_code == 200
            except httpx.ConnectError:
                return False

        await wait_for(worker_serving)
        before = samples((await http.get(worker_url)).text)  # counters are per process: compare
        admin = await sign_in(client, ACCOUNTS["admin"][0])
        saved = await client.post("/api/user/ai-settings", json={"openaiApiKey": "sk-proj-GOODKEY-1234567890"},
                                  headers=admin)  # fmt: skip
        assert saved.status_code == 200, saved.text
        started = await client.post(BASE, json={"source": "popular", "mediaType": "movie", "count": 2,
                                                "model": MODEL}, headers=admin)  # fmt: skip
        assert started.status_code == 202, started.text
        run_id = started.json()["runId"]
        deadline = time.monotonic() + 30
        while True:
            (run,) = (await client.get(f"{BASE}/status", params={"runId": run_id}, headers=admin)).json()[
                "runs"
            ]
            if run["state"] not in ("planning", "running"):
                break
            assert time.monotonic() < deadline, run
            await asyncio.sleep(0.1)
        assert run["state"] == "completed"
        api = await client.get("/metrics")  # no session: Prometheus scrapes it
        after = samples((await http.get(worker_url)).text)

    assert api.status_code == 200
    assert api.headers["content-type"].startswith("text/plain")
    found = samples(api.text)
    assert value(found, "blogqueue_queue_jobs", state="completed") == 3  # the planning job and two posts
    assert value(found, "blogqueue_queue_jobs", state="failed") == 0
    assert value(found, "blogqueue_queue_finished_last_hour", outcome="completed") == 3
    assert value(found, "blogqueue_http_requests_total", route=BASE, method="POST", status="202") == 1
    assert value(found, "blogqueue_http_request_duration_seconds_count", route=BASE, method="POST") == 1
    assert (
        value(found, "blogqueue_http_requests_total", route=f"{BASE}/status", method="GET", status="200") >= 1
    )

    def grew(metric: str, /, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    provider = {"provider": "openai", "model": MODEL}
    assert grew("blogqueue_worker_jobs_total", name="generate-post", outcome="completed", reason="") == 2
    assert grew("blogqueue_worker_jobs_total", name="generate", outcome="completed", reason="") == 1
    assert grew("blogqueue_worker_job_duration_seconds_count", name="generate-post", outcome="completed") == 2
    assert grew("blogqueue_provider_call_duration_seconds_count", outcome="ok", **provider) == 2
    assert grew("blogqueue_provider_tokens_total", direction="in", **provider) == 2 * FAKE_USAGE[0]
    assert grew("blogqueue_provider_tokens_total", direction="out", **provider) == 2 * FAKE_USAGE[1]
    expected = load_registry().estimate_cost_usd(MODEL, *FAKE_USAGE)
    assert grew("blogqueue_provider_cost_usd_total", **provider) == pytest.approx(2 * expected)
    assert run["costUsd"] == pytest.approx(2 * expected, abs=1e-6)
