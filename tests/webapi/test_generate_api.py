"""POST /api/admin/blog/auto-generate, its status and stop, with a real worker."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from blogqueue.jobqueue import JobQueue
from tests.conftest import make_settings
from tests.webapi.conftest import Site

BASE = "/api/admin/blog/auto-generate"
BATCH = {"source": "popular", "mediaType": "movie", "count": 3, "model": "offline"}


async def _status(site: Site, run_id: int) -> dict[str, Any]:
    response = await site.client.get(
        f"{BASE}/status", params={"runId": run_id}, headers=site.headers["admin"]
    )
    assert response.status_code == 200, response.text
    (run,) = response.json()["runs"]
    return dict(run)


async def _until(site: Site, run_id: int, states: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = await _status(site, run_id)
        if run["state"] in states:
            return run
        assert time.monotonic() < deadline, run
        await asyncio.sleep(0.1)


async def test_a_batch_run_starts_and_reports_its_progress(site: Site, start_worker: Any) -> None:
    start_worker(site.settings)
    response = await site.client.post(BASE, json=BATCH, headers=site.headers["admin"])
    assert response.status_code == 202, response.text
    body = response.json()
    admin_id = (await site.client.get("/api/auth/me", headers=site.headers["admin"])).json()["id"]
    assert re.fullmatch(rf"blog-gen-{admin_id}-\d{{13}}", body["jobIds"][0])
    assert body["statusUrl"] == f"{BASE}/status?runId={body['runId']}"
    assert body["eventsUrl"] == f"{BASE}/events?runId={body['runId']}"
    assert body["estimate"]["totalUsd"] == 0 and body["estimate"]["posts"] == 3
    run = await _until(site, body["runId"], {"completed"})
    assert (run["done"], run["failed"], run["planned"], run["progress"]) == (3, 0, 3, 100.0)
    assert [post["state"] for post in run["posts"]] == ["saved"] * 3
    assert all(post["slug"] for post in run["posts"])
    assert any(line["message"].startswith("saved as") for line in run["lastLogs"])
    assert all(line["at"] > 0 and line["jobId"] for line in run["lastLogs"])
    assert {"waiting", "active", "completed", "failed", "delayed"} <= set(
        (await site.client.get(f"{BASE}/status", headers=site.headers["admin"])).json()["queue"]
    )


async def test_invalid_requests_are_422_per_field_and_enqueue_nothing(site: Site) -> None:
    queue = JobQueue(site.settings)
    before = await queue.get_queue_metrics()
    cases = [
        ({**BATCH, "count": 0}, {"count"}),
        ({**BATCH, "count": 51}, {"count"}),
        ({**BATCH, "source": "best_ever"}, {"source"}),
        ({**BATCH, "source": "on_the_air"}, {"source"}),
        ({**BATCH, "filters": {"yearFrom": 2001, "yearTo": 1999}}, {"filters.yearFrom"}),
        ({**BATCH, "model": "gpt-9000"}, {"model"}),
        ({**BATCH, "model": "gpt-4"}, {"model"}),
        ({**BATCH, "model": "gpt-6.2-sol"}, {"model"}),  # no key for openai
        ({**BATCH, "mode": "continuous"}, {"intervalMinutes"}),
        ({**BATCH, "mode": "continuous", "intervalMinutes": 1}, {"intervalMinutes"}),
        ({**BATCH, "mode": "continuous", "cron": "every day"}, {"cron"}),
        ({**BATCH, "count": 0, "mediaType": "radio", "budgetUsd": -1}, {"count", "mediaType", "budgetUsd"}),
    ]
    for body, fields in cases:
        response = await site.client.post(BASE, json=body, headers=site.headers["admin"])
        assert response.status_code == 422, (body, response.text)
        assert {detail["field"] for detail in response.json()["details"]} == fields, (body, response.text)
        assert all(detail["message"] for detail in response.json()["details"])
    unknown = await site.client.post(BASE, json={**BATCH, "colour": "red"}, headers=site.headers["admin"])
    assert unknown.status_code == 422
    assert await queue.get_queue_metrics() == before
    status = await site.client.get(f"{BASE}/status", headers=site.headers["admin"])
    assert status.json()["runs"] == []
    await queue.close()


async def test_only_admins_may_generate(site: Site) -> None:
    assert (await site.client.post(BASE, json=BATCH, headers=site.headers["alice"])).status_code == 403
    assert (await site.client.post(BASE, json=BATCH)).status_code == 401


async def test_a_continuous_run_is_a_scheduler_that_stop_removes(site: Site) -> None:
    body = {**BATCH, "mode": "continuous", "intervalMinutes": 30}
    started = await site.client.post(BASE, json=body, headers=site.headers["admin"])
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    again = await site.client.post(BASE, json=body, headers=site.headers["admin"])
    assert again.status_code == 409
    assert f"continuous run {run_id} is already running" in again.json()["error"]
    queue = JobQueue(site.settings)
    assert await queue.next_tick(f"run-{run_id}") is not None
    run = await _status(site, run_id)
    assert (run["mode"], run["state"], run["intervalMinutes"]) == ("continuous", "running", 30)
    assert run["nextTickAt"] is not None
    stopped = await site.client.post(f"{BASE}/stop", json={"runId": run_id}, headers=site.headers["admin"])
    assert stopped.status_code == 200
    assert stopped.json()["stopped"][0]["status"] == "cancelled"
    assert await queue.next_tick(f"run-{run_id}") is None
    again = await site.client.post(f"{BASE}/stop", json={"runId": run_id}, headers=site.headers["admin"])
    assert again.json()["stopped"][0]["alreadyStopped"] is True
    assert (await _status(site, run_id))["state"] == "cancelled"
    restarted = await site.client.post(BASE, json=body, headers=site.headers["admin"])
    assert restarted.status_code == 202  # the stopped run no longer blocks a new one
    await site.client.post(f"{BASE}/stop", headers=site.headers["admin"])
    await queue.close()


async def test_stop_removes_waiting_posts_and_nothing_more_is_written(site: Site, start_worker: Any) -> None:
    # Four jobs a second: an offline post takes milliseconds, so without a limit all 20 are written
    # before the run can be seen running.
    slow = make_settings(site.settings.redis_url, site.settings.data_dir, queue_prefix=site.settings.queue_prefix,
                         database_url_env=site.settings.database_url_env, worker_concurrency=1,
                         limiter_max=1, limiter_duration_ms=250)  # fmt: skip
    started = await site.client.post(BASE, json={**BATCH, "count": 20}, headers=site.headers["admin"])
    run_id = started.json()["runId"]
    start_worker(slow)
    await _until(site, run_id, {"running"})
    stopped = await site.client.post(
        f"{BASE}/stop", headers=site.headers["admin"]
    )  # no body: all active runs
    report = stopped.json()["stopped"][0]
    assert report["runId"] == run_id and report["status"] == "cancelled"
    assert report["removed"] > 0
    await asyncio.sleep(1.0)
    first = await _status(site, run_id)
    await asyncio.sleep(1.0)
    second = await _status(site, run_id)
    assert first["state"] == second["state"] == "cancelled"
    assert first["done"] == second["done"] < 20
    queue = JobQueue(site.settings)
    metrics = await queue.get_queue_metrics()
    assert metrics.waiting == metrics.prioritized == 0
    await queue.close()


async def test_retry_failed_is_refused_for_a_run_without_failures_or_missing(
    site: Site, start_worker: Any
) -> None:
    start_worker(site.settings)
    admin = site.headers["admin"]
    response = await site.client.post(BASE, json={**BATCH, "count": 1}, headers=admin)
    run_id = response.json()["runId"]
    await _until(site, run_id, {"completed"})
    refused = await site.client.post(f"{BASE}/runs/{run_id}/retry-failed", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"] == (
        f"run {run_id} is completed: only a finished batch run with failed posts can retry them"
    )
    paused = await site.client.post(f"{BASE}/runs/{run_id}/pause", headers=admin)
    assert paused.status_code == 409
    assert "this needs a continuous run running" in paused.json()["error"]
    unknown = await site.client.post(f"{BASE}/runs/{run_id}/explode", headers=admin)
    assert unknown.status_code == 422
    assert "action" in unknown.text
    missing = await site.client.post(f"{BASE}/runs/999999/retry-failed", headers=admin)
    assert missing.status_code == 404
    forbidden = await site.client.post(f"{BASE}/runs/{run_id}/retry-failed", headers=site.headers["alice"])
    assert forbidden.status_code == 403
