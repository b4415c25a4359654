"""Status and the posts list are kept in memory per process while their version holds: a change
made anywhere (another API process, a worker's run event) is seen at once; one made behind
BlogQueue's back is seen within FRESH_S."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from blogqueue import db
from blogqueue.jobqueue import JobQueue
from blogqueue.models import GenerationRun
from blogqueue.run_events import LogLine
from tests.conftest import ApiClient
from tests.webapi.conftest import Site
from tests.webapi.test_posts_api import POSTS as SEEDED
from tests.webapi.test_posts_api import seed
from webapi.app import create_app
from webapi.fresh_answers import FRESH_S, FreshAnswers

STATUS = "/api/admin/blog/auto-generate/status"
POSTS = "/api/blog/posts"
BATCH = {"source": "popular", "mediaType": "movie", "count": 1, "model": "offline"}


async def test_an_answer_is_kept_while_its_version_holds_and_for_fresh_s_at_most() -> None:
    answers = FreshAnswers[int](fresh_s=0.2)
    builds = 0

    async def build() -> int:
        nonlocal builds
        builds += 1
        return builds

    assert [await answers.get("q", 1, build) for _ in range(3)] == [1, 1, 1]
    assert await answers.get("other question", 1, build) == 2
    assert await answers.get("q", 2, build) == 3  # the version moved on
    await asyncio.sleep(0.25)
    assert await answers.get("q", 2, build) == 4  # too old

    async def failing() -> int:
        raise RuntimeError("no answer")

    await asyncio.sleep(0.25)
    with pytest.raises(RuntimeError):
        await answers.get("q", 2, failing)
    assert await answers.get("q", 2, build) == 5  # a failure is not kept


async def test_status_sees_a_run_started_in_another_process_and_a_workers_event_at_once(site: Site) -> None:
    admin = site.headers["admin"]
    assert (await site.client.get(STATUS, headers=admin)).json()["total"] == 0
    async with ApiClient(create_app(site.settings)) as other_process:
        started = await other_process.post("/api/admin/blog/auto-generate", json=BATCH, headers=admin)
        assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    body = (await site.client.get(STATUS, headers=admin)).json()
    assert body["total"] == 1 and body["runs"][0]["id"] == run_id

    job_queue = JobQueue(site.settings)
    try:
        await job_queue.publish(
            LogLine(run_id=run_id, user_id=str(body["runs"][0]["userId"]), message="planning")
        )
    finally:
        await job_queue.close()
    logs = (await site.client.get(STATUS, headers=admin)).json()["runs"][0]["lastLogs"]
    assert [line["message"] for line in logs] == ["planning"]


async def test_a_change_behind_blogqueues_back_shows_within_fresh_s(site: Site) -> None:
    admin = site.headers["admin"]
    started = await site.client.post("/api/admin/blog/auto-generate", json=BATCH, headers=admin)
    run_id = started.json()["runId"]
    assert (await site.client.get(STATUS, headers=admin)).json()["runs"][0]["message"] == ""
    assert (await site.client.get(POSTS, headers=admin)).json()["total"] == 0
    await seed(site.settings)
    engine = db.create_engine(site.settings)
    try:
        async with engine.begin() as connection:
            runs = GenerationRun.__table__  # type: ignore[attr-defined]
            await connection.execute(sa.update(runs).where(runs.c.id == run_id).values(message="changed"))
    finally:
        await engine.dispose()
    await asyncio.sleep(FRESH_S + 0.1)
    assert (await site.client.get(STATUS, headers=admin)).json()["runs"][0]["message"] == "changed"
    assert (await site.client.get(POSTS, headers=admin)).json()["total"] == len(SEEDED)


async def test_the_posts_list_sees_a_publish_in_another_process_at_once(site: Site) -> None:
    await seed(site.settings)
    alice = site.headers["alice"]
    drafts = {"status": "draft"}
    assert "alice-draft" in [
        p["slug"] for p in (await site.client.get(POSTS, params=drafts, headers=alice)).json()["items"]
    ]
    async with ApiClient(create_app(site.settings)) as other_process:
        published = await other_process.post(f"{POSTS}/alice-draft/publish", headers=alice)
        assert published.status_code == 200, published.text
    items = (await site.client.get(POSTS, params=drafts, headers=alice)).json()["items"]
    assert "alice-draft" not in [p["slug"] for p in items]
