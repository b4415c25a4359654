"""Queue-only generation: a `generate` job that carries a run's parameters instead of a runId."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from blogqueue.models import GenerationRun, RunMode
from blogqueue.titles import MediaType, Source
from tests.blogworker.pipeline_harness import Pipeline, open_pipeline, pipeline_settings
from tests.conftest import wait_for

REQUEST = {"version": 1, "source": "popular", "mediaType": "movie", "count": 2, "model": "offline"}


@pytest.fixture
async def pipeline(redis_url: str, tmp_path: Path) -> AsyncIterator[Pipeline]:
    opened = await open_pipeline(pipeline_settings(redis_url, tmp_path / "data", None, "http://127.0.0.1:9"))
    yield opened
    await opened.queue.close()


async def _all_runs(pipeline: Pipeline) -> list[GenerationRun]:
    runs: list[GenerationRun] = await pipeline.session_do(
        lambda session: _exec_all(session, select(GenerationRun))
    )
    return runs


async def _exec_all(session: Any, query: Any) -> list[Any]:
    return list((await session.exec(query)).all())


async def _finished(pipeline: Pipeline, job_id: str) -> Any:
    async def done() -> Any:
        job = await pipeline.queue.get_job(job_id)
        return job if job.state in ("completed", "failed") else None

    return await wait_for(done, timeout=30)


async def test_a_request_job_creates_its_run_once_and_writes_the_posts(
    pipeline: Pipeline, start_worker: Any
) -> None:
    """userId may be an email; the run is keyed by the job, so running the job again (as a retry
    or a recovery would) finds the same run and plans nothing twice."""
    start_worker(pipeline.settings)
    job = await pipeline.queue._queue.add(
        "generate", {**REQUEST, "userId": "Writer@Example.com", "extra": 1, "budgetUsd": 5, "priority": 3}, {}
    )
    finished = await _finished(pipeline, str(job.id))
    assert finished.state == "completed", finished.failed_reason
    (run,) = await _all_runs(pipeline)
    assert (run.user_id, run.plan_job_id, run.request_key) == (
        pipeline.user_id,
        job.id,
        f"{job.id}@{job.timestamp}",
    )
    assert (run.budget_usd, run.priority) == (5, 3)  # the run's own budget and priority, as from the API
    run = await pipeline.wait_finished(run.id or 0)
    assert (run.status, run.planned, run.posts_done) == ("completed", 2, 2)
    assert len(await pipeline.posts(run.id)) == 2

    again = await pipeline.queue._queue.getJob(str(job.id))
    await again.retry("completed")
    assert (await _finished(pipeline, str(job.id))).state == "completed"
    assert [r.id for r in await _all_runs(pipeline)] == [run.id]
    assert len(await pipeline.posts()) == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            {**REQUEST, "count": 99, "source": "on_the_air"},
            "count must be from 1 to 50; source on_the_air is for TV shows only",
        ),
        ({**REQUEST, "model": "no-such-model"}, "no-such-model"),
        ({**REQUEST, "userId": "nobody@example.com"}, "userId 'nobody@example.com' names no enabled user"),
        ({"version": 1, "count": 2}, "Object missing required field `source`"),
        ({**REQUEST, "count": "two"}, "Expected `int`, got `str` - at `$.count`"),
    ],
)
async def test_a_bad_request_fails_at_once_and_stores_nothing(
    pipeline: Pipeline, start_worker: Any, data: dict[str, Any], reason: str
) -> None:
    start_worker(pipeline.settings)
    job = await pipeline.queue._queue.add(
        "generate", {"userId": str(pipeline.user_id), **data}, {"attempts": 3}
    )
    finished = await _finished(pipeline, str(job.id))
    assert (finished.state, finished.attempts_made) == ("failed", 1)
    assert reason in (finished.failed_reason or "")
    assert await _all_runs(pipeline) == []


async def test_a_continuous_request_left_without_its_scheduler_by_a_crash_gets_it_on_the_retry(
    pipeline: Pipeline, start_worker: Any
) -> None:
    """The run row exists (keyed by the job) but the worker died before the scheduler was made:
    running the job again makes the scheduler for that run, and no second run."""
    data = {**REQUEST, "userId": str(pipeline.user_id), "mode": "continuous", "intervalMinutes": 60}
    job = await pipeline.queue._queue.add("generate", data, {})

    async def crashed_halfway(session: Any) -> int:
        run = GenerationRun(
            user_id=pipeline.user_id, model="offline", source=Source.POPULAR, media_type=MediaType.MOVIE,
            requested=2, mode=RunMode.CONTINUOUS, interval_minutes=60, request_key=f"{job.id}@{job.timestamp}",
        )  # fmt: skip
        session.add(run)
        await session.commit()
        return run.id or 0

    run_id = await pipeline.session_do(crashed_halfway)
    start_worker(pipeline.settings)
    finished = await _finished(pipeline, str(job.id))
    assert finished.state == "completed", finished.failed_reason
    (run,) = await _all_runs(pipeline)
    assert (run.id, run.status, run.plan_job_id) == (run_id, "running", f"run-{run_id}")
    assert await pipeline.queue.next_tick(f"run-{run_id}") is not None


async def test_a_requested_run_whose_planning_fails_for_good_fails_as_any_run(
    redis_url: str, tmp_path: Path, start_worker: Any
) -> None:
    """TMDb cannot be reached and the job has no attempts left: the run the job made is failed
    with the reason (and announced), not left planning for ever."""
    settings = pipeline_settings(
        redis_url, tmp_path / "data", None, "http://127.0.0.1:9", tmdb_api_key="x" * 32
    )
    pipeline = await open_pipeline(settings)
    try:
        start_worker(settings)
        job = await pipeline.queue._queue.add(
            "generate", {**REQUEST, "userId": str(pipeline.user_id)}, {"attempts": 1}
        )
        assert (await _finished(pipeline, str(job.id))).state == "failed"
        (run,) = await _all_runs(pipeline)
        assert run.status == "failed" and (run.message or "").startswith("planning failed:"), run.message
    finally:
        await pipeline.queue.close()
