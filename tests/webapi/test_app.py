from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from tests.conftest import free_port, make_settings, wait_for
from tests.webapi.conftest import Site
from webapi.app import create_app


async def test_healthz_answers_without_dependencies(tmp_path: Path) -> None:
    settings = make_settings(f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_counts_live_workers(settings: Settings, start_worker: Any) -> None:
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["workers"] == 0
        assert "no live worker" in response.json()["reasons"][0]
        start_worker(settings)

        async def one_worker() -> Any:
            body = (await client.get("/readyz")).json()
            return body if body["workers"] == 1 else None

        body = await wait_for(one_worker)
    assert body == {"ready": True, "redis": "ok", "database": "ok", "workers": 1, "reasons": []}


async def test_readyz_is_503_with_a_reason_when_redis_is_down(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(f"redis://127.0.0.1:{port}/0", tmp_path)
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["redis"] == "unreachable"
    assert f"127.0.0.1:{port}" in body["reasons"][0]


async def test_readyz_is_503_when_the_database_is_unreachable(redis_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        redis_url, tmp_path, database_url_env="sqlite+aiosqlite:////nonexistent/dir/x.db"
    )
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_queue_metrics_reflect_the_queue(site: Site) -> None:
    job_queue = JobQueue(site.settings)
    await job_queue.enqueue(JobName.SELFTEST, SelfTest())
    await job_queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(delay_ms=60_000))
    await job_queue.close()
    response = await site.client.get("/api/admin/queue/metrics", headers=site.headers["admin"])
    assert response.status_code == 200
    body = response.json()
    assert (body["waiting"], body["delayed"], body["active"], body["completed"]) == (1, 1, 0, 0)
    assert {"waiting", "active", "completed", "failed", "delayed", "prioritized", "paused"} <= set(body)


async def test_errors_are_json_a_person_can_read(settings: Settings) -> None:
    async with AsyncTestClient(create_app(settings)) as client:
        missing = await client.get("/api/no/such/path")
        wrong_method = await client.post("/healthz")
        page = await client.get("/no/such/path")  # not the API's: a page for a person (test_roles)
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found", "status": 404}
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]


async def test_openapi_schema_lists_the_routes(settings: Settings) -> None:
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/healthz", "/readyz", "/api/admin/queue/metrics"} <= set(paths)


async def test_an_unreachable_redis_is_503_in_the_error_shape(site: Site) -> None:
    """Every signed-in request asks Redis whether its token was revoked; without Redis that is a 503."""
    dead = make_settings(f"redis://127.0.0.1:{free_port()}/0", site.settings.data_dir,
                         database_url_env=site.settings.database_url_env)  # fmt: skip
    async with AsyncTestClient(create_app(dead)) as client:
        response = await client.get("/api/auth/me", headers=site.headers["alice"])
    assert response.status_code == 503, response.text
    assert response.json() == {"error": "Redis is busy or unreachable; try again shortly", "status": 503}
    assert response.headers["retry-after"] == "1"
