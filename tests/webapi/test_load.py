"""Read paths whose cost does not grow with history, backpressure instead of 500, and the shared
event reader: with thousands of rows, a full queue and an unreachable Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from blogqueue import db
from blogqueue.errors import Unavailable
from blogqueue.jobqueue import JobQueue
from blogqueue.models import GenerationRun, RunStatus, User, utcnow
from blogqueue.run_events import LogLine
from blogqueue.settings import Settings
from tests.conftest import free_port, make_settings, serve_app
from tests.webapi.conftest import PASSWORD, Site, create_accounts, sign_in
from webapi.admission import AdmissionMiddleware
from webapi.app import create_app

BASE = "/api/admin/blog/auto-generate"
BATCH = {"source": "popular", "mediaType": "movie", "count": 1, "model": "offline"}


async def _admin_id(settings: Settings) -> int:
    engine = db.create_engine(settings)
    try:
        async with engine.connect() as connection:
            query = sa.select(User.id).where(User.email == "admin@example.com")  # type: ignore[arg-type]
            return int((await connection.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def _seed_runs(settings: Settings, user_id: int, *, active: int, finished: int) -> None:
    """Runs inserted in one statement, as a burst of earlier requests would have left them."""
    rows: list[dict[str, Any]] = [
        {"user_id": user_id, "model": "offline", "source": "popular", "media_type": "movie", "requested": 1,
         "filters": {}, "trending_window": "week", "mode": "batch", "planned": 1, "message": "",
         "status": RunStatus.PLANNING if n < active else RunStatus.COMPLETED,
         "created_at": utcnow()}
        for n in range(active + finished)
    ]  # fmt: skip
    engine = db.create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(GenerationRun.__table__), rows)  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_status_answers_fast_with_a_thousand_active_runs(site: Site) -> None:
    await _seed_runs(site.settings, await _admin_id(site.settings), active=1_000, finished=500)
    started = time.perf_counter()
    response = await site.client.get(f"{BASE}/status", headers=site.headers["admin"])
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["page"], body["pageSize"], len(body["runs"])) == (1_500, 1, 10, 10)
    assert all(run["state"] == "planning" for run in body["runs"])  # active runs first
    assert elapsed < 2.0, f"status took {elapsed:.2f} s"
    last = await site.client.get(f"{BASE}/status", params={"page": 150}, headers=site.headers["admin"])
    assert [run["state"] for run in last.json()["runs"]] == ["completed"] * 10
    too_big = await site.client.get(f"{BASE}/status", params={"pageSize": 51}, headers=site.headers["admin"])
    assert too_big.status_code == 422


async def test_a_user_past_the_active_run_cap_gets_429_and_nothing_is_stored(db_settings: Settings) -> None:
    settings = make_settings(db_settings.redis_url, db_settings.data_dir, queue_prefix=db_settings.queue_prefix,
                             database_url_env=db_settings.database_url_env, max_active_runs=2)  # fmt: skip
    await create_accounts(settings)
    async with AsyncTestClient(create_app(settings)) as client:
        headers = await sign_in(client, "admin@example.com")
        for _ in range(2):
            assert (await client.post(BASE, json=BATCH, headers=headers)).status_code == 202
        refused = await client.post(BASE, json=BATCH, headers=headers)
        assert refused.status_code == 429
        assert "unfinished runs" in refused.json()["error"] and refused.headers["retry-after"] == "30"
        status = (await client.get(f"{BASE}/status", headers=headers)).json()
        assert status["total"] == 2 and status["queue"]["waiting"] + status["queue"]["prioritized"] == 2


async def test_a_runs_post_jobs_come_a_page_at_a_time(site: Site) -> None:
    started = await site.client.post(BASE, json={**BATCH, "count": 1}, headers=site.headers["admin"])
    run_id = started.json()["runId"]
    page = await site.client.get(f"{BASE}/runs/{run_id}/posts", headers=site.headers["admin"])
    assert page.status_code == 200, page.text
    assert page.json() == {"items": [], "page": 1, "pageSize": 50, "total": 0}  # not planned yet
    missing = await site.client.get(f"{BASE}/runs/999999/posts", headers=site.headers["admin"])
    assert missing.status_code == 404


async def test_an_unreachable_redis_is_a_fast_503_with_retry_after(db_settings: Settings) -> None:
    dead = make_settings(f"redis://127.0.0.1:{free_port()}/0", db_settings.data_dir,
                         database_url_env=db_settings.database_url_env)  # fmt: skip
    await create_accounts(dead)
    app = create_app(dead)
    app.on_startup.clear()
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        started = time.perf_counter()
        response = await client.post("/api/auth/login", json={"email": "admin@example.com", "password": "x"})
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1" and "Redis" in response.json()["error"]
        assert time.perf_counter() - started < 10


async def test_every_event_client_is_served_by_one_shared_reader(sqlite_settings: Settings) -> None:
    await create_accounts(sqlite_settings)
    queue = JobQueue(sqlite_settings)
    user_id = str(await _admin_id(sqlite_settings))
    received: list[list[str]] = [[], [], []]
    try:
        with serve_app(sqlite_settings) as base:
            async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=30)) as client:
                login = {"email": "admin@example.com", "password": PASSWORD}
                headers = {
                    "Authorization": f"Bearer {(await client.post('/api/auth/login', json=login)).json()['token']}"
                }
                client.cookies.clear()

                async def listen(index: int, connected: asyncio.Event) -> None:
                    async with client.stream("GET", f"{BASE}/events", headers=headers) as response:
                        assert response.status_code == 200
                        connected.set()
                        async for line in response.aiter_lines():
                            if line.startswith("data: "):
                                received[index].append(line)
                                if len(received[index]) == 3:
                                    return

                connected = [asyncio.Event() for _ in received]
                clients = [asyncio.create_task(listen(n, connected[n])) for n in range(len(received))]
                await asyncio.wait_for(asyncio.gather(*(event.wait() for event in connected)), 10)
                readers = [c for c in await queue._redis.client_list() if c.get("cmd") == "xread"]
                for n in range(3):
                    await queue.publish(LogLine(run_id=1, user_id=user_id, message=f"line {n}"))
                await asyncio.wait_for(asyncio.gather(*clients), 10)
        assert all(len(lines) == 3 for lines in received), received
        assert len(readers) == 1, readers  # one blocking XREAD for all three clients
    finally:
        await queue.close()


async def test_a_busy_process_sheds_requests_at_once_but_never_probes_or_streams() -> None:
    gate = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await gate.wait()

    admission = AdmissionMiddleware(limit=1)
    busy = asyncio.create_task(admission.handle({"path": "/api/jobs"}, None, None, slow_app))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert admission.in_flight == 1
    with pytest.raises(Unavailable) as shed:
        await admission.handle({"path": "/api/blog/posts"}, None, None, slow_app)  # type: ignore[arg-type]
    assert shed.value.retry_after_s == 1.0
    gate.set()
    for path in ("/healthz", "/readyz", f"{BASE}/events"):
        await admission.handle({"path": path}, None, None, slow_app)  # type: ignore[arg-type]
    await busy
    assert admission.in_flight == 0


async def test_a_busy_process_sheds_before_it_checks_the_session(site: Site) -> None:
    """Shedding costs no token check: a busy process answers 503 even to a request it would refuse as 401."""
    admission = next(m for m in site.client.app.middleware if isinstance(m, AdmissionMiddleware))
    admission.in_flight = admission.limit
    try:
        response = await site.client.get("/api/jobs", headers={"Authorization": "Bearer not-a-token"})
    finally:
        admission.in_flight = 0
    assert response.status_code == 503 and response.headers["retry-after"] == "1", response.text
    assert (
        await site.client.get("/api/jobs", headers={"Authorization": "Bearer not-a-token"})
    ).status_code == 401
