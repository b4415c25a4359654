"""The generation pipeline end to end: real worker, real SDKs against fake providers, fake TMDb."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from blogfakes.ai_server import FakeAI, start_fake_ai
from blogfakes.tmdb_server import FIRST_ID, FakeTmdb, start_fake_tmdb
from blogqueue import runs, users
from blogqueue.connection import redis_client
from blogqueue.models import RunMode
from blogqueue.registry import load_registry
from blogqueue.run_events import RunFinished
from blogqueue.runs import RunSpec
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source, TitleFacts
from blogworker.context import Draft, WorkerContext
from tests.blogworker.pipeline_harness import Pipeline, open_pipeline, pipeline_settings
from tests.conftest import (
    create_postgres_database,
    drop_postgres_database,
    spawn_worker,
    stop_process,
    wait_for,
)

GOOD_KEY = "sk-proj-GOODKEY-1234567890"
FAKE_USAGE = (1200, 800)


@pytest.fixture(scope="module")
def fake_tmdb() -> Iterator[FakeTmdb]:
    with start_fake_tmdb() as fake:
        yield fake


@pytest.fixture(scope="module")
def fake_ai() -> Iterator[FakeAI]:
    with start_fake_ai() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _no_gone_titles(fake_tmdb: FakeTmdb) -> None:
    fake_tmdb.gone_ids.clear()


@pytest.fixture
async def pipeline(
    redis_url: str, tmp_path: Path, fake_tmdb: FakeTmdb, fake_ai: FakeAI
) -> AsyncIterator[Pipeline]:
    opened = await open_pipeline(pipeline_settings(redis_url, tmp_path / "data", fake_tmdb.url, fake_ai.url))
    yield opened
    await opened.queue.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def pipeline_on_each_db(
    request: pytest.FixtureRequest, redis_url: str, tmp_path: Path, fake_tmdb: FakeTmdb, fake_ai: FakeAI
) -> AsyncIterator[Pipeline]:
    url = await create_postgres_database() if request.param == "postgresql" else None
    settings = pipeline_settings(
        redis_url, tmp_path / "data", fake_tmdb.url, fake_ai.url, database_url_env=url
    )
    opened = await open_pipeline(settings)
    yield opened
    await opened.queue.close()
    if url:
        await drop_postgres_database(url)


async def _redis_dump(settings: Settings) -> str:
    client = redis_client(settings)
    parts = []
    for key in await client.keys(f"*{settings.queue_prefix}*"):
        kind = await client.type(key)
        if kind == "hash":
            parts.append(json.dumps(await client.hgetall(key)))
        elif kind == "list":
            parts.append(json.dumps(await client.lrange(key, 0, -1)))
        elif kind == "zset":
            parts.append(json.dumps(await client.zrange(key, 0, -1)))
        elif kind == "stream":
            parts.append(repr(await client.xrange(key)))
        elif kind == "string":
            parts.append(str(await client.get(key)))
    await client.aclose()
    return "\n".join(parts)


async def test_offline_runs_need_no_key_and_never_repeat_a_title(
    redis_url: str, tmp_path: Path, fake_ai: FakeAI, start_worker: Any
) -> None:
    settings = pipeline_settings(redis_url, tmp_path / "data", None, fake_ai.url)  # sample catalog
    pipeline = await open_pipeline(settings)
    start_worker(settings)
    first = await pipeline.wait_finished(await pipeline.start_run("offline", 3))
    second = await pipeline.wait_finished(await pipeline.start_run("offline", 3))
    assert (first.status, first.planned, first.posts_done, first.posts_failed) == ("completed", 3, 3, 0)
    assert (second.status, second.posts_done) == ("completed", 3)
    posts = await pipeline.posts()
    assert len({(p.media_type, p.tmdb_id) for p in posts}) == 6
    for post in posts:
        assert post.provider == "offline" and post.cost_usd == 0 and not post.incomplete
        assert "Written offline" in post.body
        assert post.body.count("\n## ") >= 3
        assert post.status == "draft"
    jobs = await pipeline.post_jobs(first.id or 0)
    logs = (await pipeline.queue._queue.getJobLogs(jobs[0].id))["logs"]
    assert any(line.startswith("writing about") for line in logs)
    assert any(line.startswith("prompt built") for line in logs)
    assert any(line.startswith("saved as") for line in logs)
    await pipeline.queue.close()


async def test_a_finished_post_job_leaves_nothing_for_the_collector(
    redis_url: str, tmp_path: Path, fake_ai: FakeAI, start_worker: Any
) -> None:
    """A job's context and draft go when the job does, by reference counting: as cyclic garbage
    they waited for a full collection, which comes every few thousand posts, holding each post's
    text, job and logs meanwhile (~4 MB of a worker's peak over 3,000 posts)."""
    settings = pipeline_settings(redis_url, tmp_path / "data", None, fake_ai.url)
    pipeline = await open_pipeline(settings)
    start_worker(settings)
    gc.collect()
    gc.disable()
    try:
        run = await pipeline.wait_finished(await pipeline.start_run("offline", 3))
        for _ in range(50):  # the last job may still be handing its result to bullmq
            left = [type(o).__name__ for o in gc.get_objects() if isinstance(o, WorkerContext | Draft)]
            if not left:
                break
            await asyncio.sleep(0.1)
    finally:
        gc.enable()
    assert (run.status, run.posts_done) == ("completed", 3)
    assert left == []
    await pipeline.queue.close()


async def test_a_run_that_finds_no_new_titles_fails_and_says_why(
    redis_url: str, tmp_path: Path, fake_ai: FakeAI, start_worker: Any
) -> None:
    settings = pipeline_settings(redis_url, tmp_path / "data", None, fake_ai.url)  # sample catalog: 20 shows
    pipeline = await open_pipeline(settings)
    start_worker(settings)
    every_show = await pipeline.wait_finished(
        await pipeline.start_run("offline", 20, MediaType.TV), timeout=90
    )
    assert (every_show.status, every_show.planned, every_show.posts_done) == ("completed", 20, 20)

    nothing_left = await pipeline.wait_finished(await pipeline.start_run("offline", 2, MediaType.TV))

    assert nothing_left.status == "failed"  # not "completed": nothing was written
    assert nothing_left.message == "no new titles matched"
    assert (nothing_left.planned, nothing_left.posts_done, nothing_left.posts_failed) == (0, 0, 0)
    assert nothing_left.finished_at is not None
    assert await pipeline.claims(nothing_left.id or 0) == set()
    assert await pipeline.post_jobs(nothing_left.id or 0) == []
    await pipeline.queue.close()


async def test_a_run_of_ten_with_one_title_gone_saves_nine_with_their_cost(
    pipeline_on_each_db: Pipeline, fake_tmdb: FakeTmdb, start_worker: Any
) -> None:
    pipeline = pipeline_on_each_db
    fake_tmdb.gone_ids.add(FIRST_ID + 2)
    await pipeline.set_key(openai_api_key=GOOD_KEY)
    start_worker(pipeline.settings)
    run = await pipeline.wait_finished(await pipeline.start_run("gpt-6.2-sol", 10))
    assert (run.status, run.planned, run.posts_done, run.posts_failed) == ("partial", 10, 9, 1)
    assert run.message.startswith(
        f"9 of 10 posts written, 1 failed: TMDb has nothing at /movie/{FIRST_ID + 2}"
    )
    assert (MediaType.MOVIE, FIRST_ID + 2) not in await pipeline.claims(run.id or 0)  # back in the pool
    # Announced once, by whichever job ended last: a saved post as well as a failed one.
    events = [event for _, event in await pipeline.queue.events_after("0-0", 10_000)]
    finished = [e for e in events if isinstance(e, RunFinished) and e.run_id == run.id]
    assert [(e.data.status, e.data.posts_done, e.data.posts_failed) for e in finished] == [("partial", 9, 1)]
    posts = await pipeline.posts(run.id)
    assert len(posts) == 9
    assert len({p.tmdb_id for p in posts}) == 9
    assert FIRST_ID + 2 not in {p.tmdb_id for p in posts}
    expected = load_registry().estimate_cost_usd("gpt-6.2-sol", *FAKE_USAGE)
    for post in posts:
        assert (post.tokens_in, post.tokens_out) == FAKE_USAGE
        assert post.cost_usd == pytest.approx(expected)
        assert post.title.startswith(f"Fake Movie {post.tmdb_id}")
        facts = TitleFacts.stored(post.facts)  # what the public post page shows of the title
        assert facts.title == f"Fake Movie {post.tmdb_id}" and facts.genres and facts.runtime_minutes
        assert facts.cast and facts.directors
        assert (facts.release_date is None) == (post.tmdb_id == FIRST_ID + 7)  # the fake's one undated title
    assert run.cost_usd == pytest.approx(9 * expected)
    assert (run.tokens_in, run.tokens_out) == (9 * FAKE_USAGE[0], 9 * FAKE_USAGE[1])
    failed = [job for job in await pipeline.post_jobs(run.id or 0) if job.failedReason]
    assert len(failed) == 1
    assert failed[0].attemptsMade == 1
    assert "could not be found" in failed[0].failedReason
    assert GOOD_KEY not in await _redis_dump(pipeline.settings)


@pytest.mark.parametrize(("model", "field"), [("claude-sonnet-5-5", "anthropic_api_key"),
                                              ("gemini-3.8-flash", "gemini_api_key")])  # fmt: skip
async def test_every_provider_sdk_writes_a_post(
    pipeline: Pipeline, start_worker: Any, model: str, field: str
) -> None:
    await pipeline.set_key(**{field: GOOD_KEY})
    start_worker(pipeline.settings)
    run = await pipeline.wait_finished(await pipeline.start_run(model, 1, MediaType.TV))
    assert (run.posts_done, run.posts_failed) == (1, 0)
    (post,) = await pipeline.posts(run.id)
    assert post.model == model
    assert post.title.startswith("Fake Show")
    assert post.cost_usd == pytest.approx(
        load_registry().estimate_cost_usd(model, post.tokens_in, post.tokens_out)
    )


async def _single(pipeline: Pipeline, start_worker: Any, key: str) -> tuple[Any, Any]:
    await pipeline.set_key(openai_api_key=key)
    start_worker(pipeline.settings)
    run = await pipeline.wait_finished(await pipeline.start_run("gpt-6.2-sol", 1), timeout=40)
    (job,) = await pipeline.post_jobs(run.id or 0)
    return run, job


async def test_a_rate_limit_waits_as_told_without_spending_an_attempt(
    pipeline: Pipeline, start_worker: Any
) -> None:
    run, job = await _single(pipeline, start_worker, "sk-proj-x-ratelimit-1")
    assert run.posts_done == 1
    assert job.attemptsMade == 1
    assert job.processedOn - job.timestamp >= 2_000
    logs = (await pipeline.queue._queue.getJobLogs(job.id))["logs"]
    assert any("waiting 2.0 s" in line for line in logs)


async def test_a_quota_error_fails_at_once_with_a_clear_reason(pipeline: Pipeline, start_worker: Any) -> None:
    run, job = await _single(pipeline, start_worker, "sk-proj-x-quota-1")
    assert (run.status, run.posts_done, run.posts_failed, run.released) == ("failed", 0, 1, 1)
    assert "quota" in run.message.lower()
    assert job.attemptsMade == 1
    assert "quota" in job.failedReason.lower()


async def test_a_server_error_is_retried(pipeline: Pipeline, start_worker: Any) -> None:
    run, job = await _single(pipeline, start_worker, "sk-proj-x-flaky-1")
    assert run.posts_done == 1
    assert job.attemptsMade == 2


async def test_a_bad_key_fails_at_once_without_leaking_it(pipeline: Pipeline, start_worker: Any) -> None:
    run, job = await _single(pipeline, start_worker, "sk-proj-SECRET-badkey-1")
    assert run.posts_failed == 1
    assert job.attemptsMade == 1
    assert "SECRET" not in job.failedReason
    assert "SECRET" not in await _redis_dump(pipeline.settings)


@pytest.mark.parametrize("behaviour", ["refuse", "truncate"])
async def test_refusals_and_truncations_get_one_adjusted_retry(
    pipeline: Pipeline, start_worker: Any, fake_ai: FakeAI, behaviour: str
) -> None:
    key = f"sk-proj-x-{behaviour}-1"
    run, job = await _single(pipeline, start_worker, key)
    assert run.posts_failed == 1
    assert job.attemptsMade == 1
    assert "no usable post after an adjusted retry" in job.failedReason
    assert len(fake_ai.calls_for(key)) == 2


async def test_no_key_at_all_is_a_clear_unrecoverable_error(pipeline: Pipeline, start_worker: Any) -> None:
    start_worker(pipeline.settings)
    run = await pipeline.wait_finished(await pipeline.start_run("claude-haiku-5-5", 1))
    (job,) = await pipeline.post_jobs(run.id or 0)
    assert job.attemptsMade == 1
    assert "no API key for anthropic" in job.failedReason


async def test_a_run_survives_a_killed_worker_with_each_title_posted_once(
    redis_url: str, tmp_path: Path, fake_tmdb: FakeTmdb
) -> None:
    with start_fake_ai(latency_s=0.4) as slow_ai:
        settings = pipeline_settings(redis_url, tmp_path / "data", fake_tmdb.url, slow_ai.url)
        pipeline = await open_pipeline(settings)
        await pipeline.set_key(openai_api_key=GOOD_KEY)
        env = {
            "TMDB_API_KEY": settings.tmdb_api_key.get_secret_value() if settings.tmdb_api_key else "",
            "TMDB_BASE_URL": settings.tmdb_base_url,
            "OPENAI_BASE_URL": f"{slow_ai.url}/v1",
            "BLOGQUEUE_WORKER_CONCURRENCY": "2",
            "BLOGQUEUE_LOCK_DURATION_MS": "2000",
            "BLOGQUEUE_STALLED_INTERVAL_MS": "1000",
        }
        first = spawn_worker(settings, tmp_path / "first.log", **env)
        second = None
        try:
            run_id = await pipeline.start_run("gpt-6.2-sol", 8)

            async def some_saved_and_some_writing() -> bool:
                active = (await pipeline.queue.get_queue_metrics()).active
                return len(await pipeline.posts(run_id)) >= 2 and active >= 1

            await wait_for(some_saved_and_some_writing, timeout=30, interval=0.02)
            first.send_signal(signal.SIGKILL)  # mid-run: two posts are being written right now
            first.wait()
            second = spawn_worker(settings, tmp_path / "second.log", **env)
            run = await pipeline.wait_finished(run_id, timeout=60)
            jobs = await pipeline.post_jobs(run_id)
        finally:
            stop_process(first)
            if second is not None:
                stop_process(second)
            await pipeline.queue.close()
    assert (run.status, run.planned, run.posts_done, run.posts_failed) == ("completed", 8, 8, 0)
    posts = await pipeline.posts(run_id)
    assert len(posts) == 8
    assert len({post.tmdb_id for post in posts}) == 8
    assert any(int(job.stalledCounter or 0) >= 1 for job in jobs)  # a post was cut off and taken over


async def test_a_cancelled_post_is_kept_as_an_incomplete_draft(
    pipeline: Pipeline, start_worker: Any, fake_ai: FakeAI
) -> None:
    await pipeline.set_key(openai_api_key=GOOD_KEY)
    start_worker(pipeline.settings)
    fake_ai.chunk_delay_s = 0.5
    try:
        run_id = await pipeline.start_run("gpt-6.2-sol", 1)

        async def streaming() -> Any:
            jobs = await pipeline.post_jobs(run_id)
            progress = jobs[0].progress if jobs else None
            return jobs[0] if isinstance(progress, dict) and progress.get("chars") else None

        job = await wait_for(streaming, timeout=20)
        assert await pipeline.queue.cancel_job(job.id) == "cancelling"
        run = await pipeline.wait_finished(run_id, timeout=20)
    finally:
        fake_ai.chunk_delay_s = 0.0
    (post,) = await pipeline.posts(run_id)
    assert post.incomplete is True
    assert post.status == "draft"
    assert 0 < len(post.body) < 1_000
    assert (run.posts_done, run.posts_failed) == (0, 1)
    (failed,) = await pipeline.post_jobs(run_id)
    assert failed.failedReason.startswith("cancelled")
    assert failed.attemptsMade == 1


async def test_a_provider_timeout_is_retried_then_fails(
    redis_url: str, tmp_path: Path, fake_tmdb: FakeTmdb, fake_ai: FakeAI, start_worker: Any
) -> None:
    settings = pipeline_settings(
        redis_url, tmp_path / "data", fake_tmdb.url, fake_ai.url, provider_timeout_s=0.5
    )
    pipeline = await open_pipeline(settings)
    await pipeline.set_key(openai_api_key="sk-proj-x-slow-1")
    start_worker(settings)
    run = await pipeline.wait_finished(await pipeline.start_run("gpt-6.2-sol", 1), timeout=40)
    (job,) = await pipeline.post_jobs(run.id or 0)
    await pipeline.queue.close()
    assert run.posts_failed == 1
    assert job.attemptsMade == 3
    assert job.failedReason == "OpenAI failed or could not be reached (no answer in time)"


async def test_a_stopping_worker_hands_a_post_back_without_failing_it(
    redis_url: str, tmp_path: Path, fake_tmdb: FakeTmdb, fake_ai: FakeAI, start_worker: Any
) -> None:
    settings = pipeline_settings(
        redis_url, tmp_path / "data", fake_tmdb.url, fake_ai.url, shutdown_grace_s=0.2
    )
    pipeline = await open_pipeline(settings)
    await pipeline.set_key(openai_api_key=GOOD_KEY)
    worker = start_worker(settings)
    fake_ai.chunk_delay_s = 0.5
    try:
        run_id = await pipeline.start_run("gpt-6.2-sol", 1)

        async def streaming() -> Any:
            jobs = await pipeline.post_jobs(run_id)
            return jobs if jobs and isinstance(jobs[0].progress, dict) else None

        await wait_for(streaming, timeout=20)
        assert await worker.stop() == 0
        run = await pipeline.run(run_id)
        (job,) = await pipeline.post_jobs(run_id)
        assert (run.status, run.posts_failed) == ("running", 0)
        assert await job.getState() in {"delayed", "waiting"}
        assert job.attemptsMade == 0
        assert await pipeline.posts(run_id) == []  # no incomplete draft blocks the title
    finally:
        fake_ai.chunk_delay_s = 0.0
    start_worker(settings)
    run = await pipeline.wait_finished(run_id, timeout=30)
    await pipeline.queue.close()
    assert (run.posts_done, run.posts_failed) == (1, 0)


async def test_a_rate_limited_provider_slows_the_other_jobs_too(
    redis_url: str, tmp_path: Path, fake_tmdb: FakeTmdb, fake_ai: FakeAI, start_worker: Any
) -> None:
    settings = pipeline_settings(
        redis_url, tmp_path / "data", fake_tmdb.url, fake_ai.url, worker_concurrency=1
    )
    pipeline = await open_pipeline(settings)
    await pipeline.set_key(openai_api_key="sk-proj-x-ratelimit-2")
    start_worker(settings)
    run = await pipeline.wait_finished(await pipeline.start_run("gpt-6.2-sol", 3), timeout=40)
    jobs = await pipeline.post_jobs(run.id or 0)
    logs = [(await pipeline.queue._queue.getJobLogs(job.id))["logs"] for job in jobs]
    await pipeline.queue.close()
    assert (run.posts_done, run.posts_failed) == (3, 0)
    held_back = [
        log for log in logs if any("openai is rate limiting; waiting for it" in line for line in log)
    ]
    assert held_back  # a job that never got a 429 itself still waited


async def test_a_run_stops_itself_when_its_budget_is_spent(
    redis_url: str, tmp_path: Path, fake_tmdb: FakeTmdb, fake_ai: FakeAI, start_worker: Any
) -> None:
    settings = pipeline_settings(
        redis_url, tmp_path / "data", fake_tmdb.url, fake_ai.url, worker_concurrency=1
    )
    pipeline = await open_pipeline(settings)
    await pipeline.set_key(openai_api_key=GOOD_KEY)
    per_post = load_registry().estimate_cost_usd("gpt-6.2-sol", *FAKE_USAGE)
    start_worker(settings)
    spec = RunSpec(model="gpt-6.2-sol", source=Source.POPULAR, media_type=MediaType.MOVIE, count=10,
                   budget_usd=2.5 * per_post)  # fmt: skip
    created = await pipeline.session_do(
        lambda session: runs.create_run(session, pipeline.queue, pipeline.user_id, spec)
    )
    await pipeline.wait_finished(created.id)
    await asyncio.sleep(1.0)  # nothing more is written after the stop
    run = await pipeline.run(created.id)
    posts = await pipeline.posts(run.id)
    await pipeline.queue.close()
    assert run.status == "cancelled"
    assert run.message.startswith("budget reached")
    assert run.message.endswith("; 7 unwritten titles back to the pool")
    assert len(posts) == 3  # the third call crossed the budget; its post was already written
    assert run.cost_usd == pytest.approx(3 * per_post)
    assert await pipeline.claims(run.id or 0) == {(post.media_type, post.tmdb_id) for post in posts}


async def test_a_stopped_runs_unwritten_titles_are_picked_by_the_next_run(
    redis_url: str, tmp_path: Path, fake_tmdb: FakeTmdb, start_worker: Any
) -> None:
    with start_fake_ai(latency_s=0.3) as ai:
        settings = pipeline_settings(
            redis_url, tmp_path / "data", fake_tmdb.url, ai.url, worker_concurrency=1
        )
        pipeline = await open_pipeline(settings)
        await pipeline.set_key(openai_api_key=GOOD_KEY)
        start_worker(settings)
        first = await pipeline.start_run("gpt-6.2-sol", 6)

        async def one_written() -> bool:
            return len(await pipeline.posts(first)) >= 1

        await wait_for(one_written, timeout=20)
        report = await pipeline.session_do(lambda session: _stop(session, pipeline, first))
        stopped = await pipeline.wait_finished(first)
        await asyncio.sleep(1.0)  # the aborted job ends and gives its title back too
        written = {(post.media_type, post.tmdb_id) for post in await pipeline.posts(first)}
        assert report.released >= 6 - len(written) - report.cancelling > 0
        assert await pipeline.claims(first) == written  # no orphan claims
        planned = {(MediaType.MOVIE, int(job_id.rsplit("-", 1)[1]))
                   for job_id in await pipeline.queue.run_job_ids(first) if "-movie-" in job_id}  # fmt: skip
        unwritten = planned - written
        second = await pipeline.wait_finished(await pipeline.start_run("gpt-6.2-sol", 6), timeout=60)
        reused = {(post.media_type, post.tmdb_id) for post in await pipeline.posts(second.id)}
        await pipeline.queue.close()
    assert stopped.status == "cancelled" and "back to the pool" in stopped.message
    assert second.status == "completed"
    assert len(planned) == 6
    assert unwritten <= reused  # the listing's first titles, freed by the stop, are written now


async def _stop(session: Any, pipeline: Pipeline, run_id: int) -> Any:
    return await runs.stop_run(session, pipeline.queue, await runs.get_run(session, run_id), "by request")


async def test_a_small_batch_is_not_stuck_behind_a_big_one(
    redis_url: str, tmp_path: Path, fake_tmdb: FakeTmdb, start_worker: Any
) -> None:
    with start_fake_ai(latency_s=0.05) as ai:
        settings = pipeline_settings(
            redis_url, tmp_path / "data", fake_tmdb.url, ai.url, worker_concurrency=1
        )
        big = await open_pipeline(settings)
        await big.set_key(openai_api_key=GOOD_KEY)

        async def second_user(session: Any) -> int:
            user = await users.create_user(session, "small@example.com", "password-s")
            return user.id or 0

        small = Pipeline(settings, big.queue, await big.session_do(second_user))
        await small.set_key(openai_api_key=GOOD_KEY)
        start_worker(settings)
        big_run = await big.start_run("gpt-6.2-sol", 50)

        async def big_planned() -> bool:
            return (await big.run(big_run)).planned == 50

        await wait_for(big_planned, timeout=20)
        small_run = await small.start_run("gpt-6.2-sol", 5, MediaType.TV)
        await small.wait_finished(small_run, timeout=60)
        await big.wait_finished(big_run, timeout=60)
        big_jobs = await big.post_jobs(big_run)
        small_jobs = await small.post_jobs(small_run)
        await big.queue.close()
    big_finished = sorted(job.finishedOn for job in big_jobs)
    assert len(big_finished) == 50 and len(small_jobs) == 5
    assert max(job.finishedOn for job in small_jobs) < big_finished[10]  # B's 5 beat A's last 40


async def test_a_continuous_run_plans_a_new_batch_every_tick_without_repeats(
    pipeline: Pipeline, start_worker: Any
) -> None:
    spec = RunSpec(model="offline", source=Source.POPULAR, media_type=MediaType.MOVIE, count=3,
                   mode=RunMode.CONTINUOUS, interval_minutes=60)  # fmt: skip
    created = await pipeline.session_do(
        lambda session: runs.create_run(session, pipeline.queue, pipeline.user_id, spec)
    )
    worker = start_worker(pipeline.settings)

    async def posts_at_least(count: int) -> Any:
        async def check() -> bool:
            return len(await pipeline.posts(created.id)) >= count

        return check

    await wait_for(await posts_at_least(3), timeout=30)  # the first tick runs at once
    assert await worker.stop() == 0  # a worker restart in between changes nothing
    start_worker(pipeline.settings)
    (next_tick,) = await pipeline.queue._queue.getJobs(["delayed"])
    assert next_tick.name == "generate" and next_tick.delay > 0
    await next_tick.promote()  # the next tick, an hour early
    await wait_for(await posts_at_least(6), timeout=30)
    run = await pipeline.run(created.id)
    posts = await pipeline.posts(created.id)
    assert (run.status, run.mode, run.planned, run.posts_done) == ("running", "continuous", 6, 6)
    assert len({post.tmdb_id for post in posts}) == 6
