"""Mixed Node/Python deployments with the real Node BullMQ: a Node producer requests posts through
the queue only, a Node listener follows them by the documented event names, Node and Python see
each other's workers, and what Node sends satisfies the contract files."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from blogops.doctor import diagnose, render
from blogqueue import db
from blogqueue.jobqueue import JobQueue
from blogqueue.models import BlogPost, GenerationRun, User
from blogqueue.settings import Settings
from tests.conftest import REPO, ApiClient, spawn_worker, stop_process, wait_for
from tests.interop.conftest import NODE_DIR, NodeScript, RunNode
from tests.webapi.conftest import ACCOUNTS, create_accounts, sign_in
from webapi.app import create_app

ADMIN_EMAIL = ACCOUNTS["admin"][0]
BAD_COUNT = 99
FAST_RECOVERY = {"BLOGQUEUE_LOCK_DURATION_MS": "2000", "BLOGQUEUE_STALLED_INTERVAL_MS": "1000"}


def readme_example(first_line: str) -> str:
    """The README's code block that starts with `first_line`: the tests run what the README shows."""
    readme = (REPO / "README.md").read_text()
    found = re.search(r"```js\n(" + re.escape(first_line) + r".*?)```", readme, re.DOTALL)
    assert found, f"README.md has no js example starting with {first_line!r}"
    return found.group(1)


def readme_script(name: str) -> Iterator[str]:
    """The README's example `name` as a script beside the Node packages it imports."""
    path = NODE_DIR / f"readme-{name.removesuffix('.mjs')}-{uuid.uuid4().hex[:8]}.mjs"
    path.write_text(readme_example(f"// {name}"))
    yield path.name
    path.unlink()


@pytest.fixture
def follow_run() -> Iterator[str]:
    """The README's producer + listener."""
    yield from readme_script("follow-run.mjs")


@pytest.fixture
def node_worker() -> Iterator[str]:
    """The README's Node worker next to ours."""
    yield from readme_script("node-worker.mjs")


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """The API on a migrated database with accounts; signed in as the admin (cookie and bearer)."""
    await asyncio.to_thread(db.migrate, settings)
    await create_accounts(settings)
    async with ApiClient(create_app(settings)) as client:
        client.headers.update(await sign_in(client, ADMIN_EMAIL))
        yield client


async def rows(settings: Settings, model: Any) -> list[Any]:
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            return list((await session.exec(select(model))).all())
    finally:
        await engine.dispose()


def node_job_data(job: Any) -> dict[str, Any]:
    """The job's data as Node stored it, after checking it against the contract for its name."""
    schema = json.loads((REPO / "contracts" / "jobs" / f"{job.name}.schema.json").read_text())
    jsonschema_rs.validator_for(schema).validate(job.data)
    return dict(job.data)


async def finished_line(script: NodeScript) -> dict[str, Any]:
    line = await script.wait_event("run-finished", timeout=60)
    await script.finish(timeout=10)
    return line


async def test_a_node_producer_requests_posts_by_queue_only_and_follows_them(
    settings: Settings, api: AsyncTestClient[Any], job_queue: JobQueue, start_worker: Any,
    run_node: RunNode, follow_run: str,
) -> None:  # fmt: skip
    """The README's example: exactly 2 posts, seen by the Node listener under the documented
    names, in the run's status, the events, the admin pages and the user's job listing."""
    start_worker(settings)
    script = await run_node(follow_run, {}, {"BLOGQUEUE_USER": ADMIN_EMAIL, "POSTS": "2"})
    finished = await finished_line(script)
    (run,) = await rows(settings, GenerationRun)
    assert finished["runId"] == str(run.id)  # stream values are strings, as documented
    assert (finished["status"], finished["postsDone"], finished["postsFailed"]) == ("completed", "2", "0")
    saved = script.events("post-saved")
    posts = await rows(settings, BlogPost)
    assert sorted(line["slug"] for line in saved) == sorted(post.slug for post in posts)
    assert len(posts) == 2 and {post.run_id for post in posts} == {run.id}
    assert script.events("run-log", runId=str(run.id))

    job = await job_queue._queue.getJob(finished["requestJob"])
    assert node_job_data(job)["userId"] == ADMIN_EMAIL
    assert (run.plan_job_id, run.request_key) == (job.id, f"{job.id}@{job.timestamp}")

    status = (await api.get("/api/admin/blog/auto-generate/status", params={"runId": run.id})).json()
    (view,) = status["runs"]
    assert (view["state"], view["done"], view["planned"]) == ("completed", 2, 2)
    relayed = [
        event for _, event in await job_queue.events_after("0", 1000) if event and event.run_id == run.id
    ]
    assert [event.kind for event in relayed].count("post-saved") == 2  # what GET .../events replays
    page = await api.get("/admin/blog/posts", params={"runId": run.id})
    assert all(post.title in page.text for post in posts)
    run_page = (await api.get(f"/admin/blog/runs/{run.id}")).text
    assert f'planning job <a href="/admin/queue/jobs/{job.id}">' in run_page
    assert all(f"/admin/blog/posts/{post.slug}" in run_page for post in posts)
    assert job.id in (await api.get(f"/admin/queue/jobs/{job.id}")).text

    admin_id = next(user.id for user in await rows(settings, User) if user.email == ADMIN_EMAIL)
    listing = (await api.get("/api/jobs", params={"state": "completed", "userId": admin_id})).json()
    assert job.id in [item["id"] for item in listing["items"]]


async def test_a_node_job_added_while_no_api_ran_is_listed_once_a_worker_took_it(
    settings: Settings, job_queue: JobQueue, start_worker: Any, run_node: RunNode
) -> None:
    """No API followed the stream when Node added the job, and its `added` entry was trimmed off
    since (the stream keeps about 10,000 entries): the worker that ran it filed it under its user."""
    await asyncio.to_thread(db.migrate, settings)
    await create_accounts(settings)
    admin_id = next(user.id for user in await rows(settings, User) if user.email == ADMIN_EMAIL)
    start_worker(settings)
    data = {"version": 1, "userId": str(admin_id)}
    producer = await run_node("producer.mjs", {"name": "selftest", "data": data, "watch": True})
    finished = await producer.wait_event("finished", timeout=30)
    await producer.finish(timeout=10)
    assert finished["type"] == "completed"
    await job_queue._redis.xtrim(job_queue._keys.events, maxlen=0)

    async with ApiClient(create_app(settings)) as api:
        api.headers.update(await sign_in(api, ADMIN_EMAIL))
        listing = (await api.get("/api/jobs", params={"state": "completed", "userId": admin_id})).json()
    assert [item["id"] for item in listing["items"]] == [finished["id"]]


async def test_the_request_job_retried_after_its_worker_is_killed_makes_one_run(
    settings: Settings, api: AsyncTestClient[Any], job_queue: JobQueue, run_node: RunNode,
    follow_run: str, tmp_path: Path,
) -> None:  # fmt: skip
    """Worker A creates the run, then hangs on a TMDb that never answers and is SIGKILLed; worker
    B (sample catalog) recovers the job as stalled, finds the run by the job and writes 2 posts."""
    reached = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.set()
        await reader.read()  # until the client is gone
        writer.close()

    tmdb = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    tmdb_url = f"http://127.0.0.1:{tmdb.sockets[0].getsockname()[1]}/3"
    first = spawn_worker(settings, tmp_path / "a.log", TMDB_API_KEY="x" * 32, TMDB_BASE_URL=tmdb_url,
                         **FAST_RECOVERY)  # fmt: skip
    second = None
    try:
        script = await run_node(follow_run, {}, {"BLOGQUEUE_USER": ADMIN_EMAIL, "POSTS": "2"})
        await asyncio.wait_for(reached.wait(), timeout=30)  # planning began: the run exists
        assert len(await rows(settings, GenerationRun)) == 1
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = spawn_worker(settings, tmp_path / "b.log", **FAST_RECOVERY)
        finished = await finished_line(script)
        assert (finished["status"], finished["postsDone"]) == ("completed", "2")
        (run,) = await rows(settings, GenerationRun)
        assert len(await rows(settings, BlogPost)) == 2
        job = await job_queue._queue.getJob(finished["requestJob"])
        assert (int(job.stalledCounter), job.attemptsMade, run.plan_job_id) == (1, 1, job.id)
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)
        tmdb.close()


async def test_bad_node_job_data_fails_with_the_apis_message_and_stores_nothing(
    settings: Settings, api: AsyncTestClient[Any], start_worker: Any, run_node: RunNode, follow_run: str
) -> None:
    start_worker(settings)
    script = await run_node(follow_run, {}, {"BLOGQUEUE_USER": ADMIN_EMAIL, "POSTS": str(BAD_COUNT)})
    finished = await finished_line(script)
    body = {"source": "popular", "mediaType": "movie", "count": BAD_COUNT, "model": "offline"}
    answer = await api.post("/api/admin/blog/auto-generate", json=body)
    assert answer.status_code == 422
    assert (finished["status"], finished["message"]) == ("rejected", answer.json()["error"])
    assert await rows(settings, GenerationRun) == []
    assert await rows(settings, BlogPost) == []


async def test_a_node_worker_alone_is_counted_and_passes_doctor(
    settings: Settings, api: AsyncTestClient[Any], job_queue: JobQueue, run_node: RunNode
) -> None:
    """It answers doctor's selftest, and its finished jobs count in our throughput (metrics on)."""
    worker = await run_node("worker.mjs", {"exitAfter": 0, "name": "node-1", "metrics": True})
    await worker.wait_event("ready", timeout=20)
    ready = (await api.get("/readyz")).json()
    assert (ready["workers"], ready["reasons"]) == (1, [])
    (found,) = await job_queue.workers()
    assert (found.kind, found.name) == ("node", "node-1")
    report = await diagnose(settings)
    assert report.ok, render(report)
    assert next(check for check in report.checks if check.name == "workers").data == {"count": 1, "node": 1}
    metrics = (await api.get("/api/admin/queue/metrics")).json()
    assert metrics["throughput"]["completedLastHour"] >= 1, metrics  # doctor's selftest, finished by Node
    await worker.kill()


async def test_node_get_workers_lists_our_worker_once(
    settings: Settings, job_queue: JobQueue, start_worker: Any, run_node: RunNode
) -> None:
    running = start_worker(settings)
    await wait_for(job_queue.live_workers)
    script = await run_node("workers.mjs", {})
    (listed,) = (await script.wait_event("workers", timeout=20))["workers"]
    await script.finish(timeout=10)
    assert running.runner.name.startswith("blogworker-")
    assert listed["rawname"] == f"{settings.queue_prefix}:YmxvZy1nZW5lcmF0aW9u:w:{running.runner.name}"
    (ours,) = await job_queue.workers()
    assert (ours.kind, ours.name, ours.addr) == ("python", running.runner.name, listed["addr"])


async def test_the_readmes_node_worker_runs_next_to_ours(
    settings: Settings, api: AsyncTestClient[Any], job_queue: JobQueue, start_worker: Any,
    run_node: RunNode, follow_run: str, node_worker: str,
) -> None:  # fmt: skip
    """Both are counted; doctor passes; a requested run completes, the Node worker handing back
    the jobs it does not do."""
    start_worker(settings)
    node = await run_node(node_worker, {})
    await node.wait_event("ready", timeout=20)

    async def both() -> bool:
        return await job_queue.live_workers() == 2

    await wait_for(both)
    assert sorted(worker.kind for worker in await job_queue.workers()) == ["node", "python"]
    assert (await api.get("/readyz")).json()["workers"] == 2
    report = await diagnose(settings)
    assert report.ok, render(report)
    script = await run_node(follow_run, {}, {"BLOGQUEUE_USER": ADMIN_EMAIL, "POSTS": "2"})
    finished = await finished_line(script)
    assert (finished["status"], finished["postsDone"]) == ("completed", "2")
    assert len(await rows(settings, BlogPost)) == 2
    assert {line["name"] for line in node.events("completed")} <= {"selftest"}
    await node.kill()
