"""Timing guarantees the Python bullmq client misses with default settings: delayed jobs and
backoff retries after an idle period, and the limiter resuming as soon as its window reopens."""

import asyncio
from pathlib import Path
from typing import Any

from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from tests.conftest import make_settings, wait_for

IDLE_S = 16  # longer than redis-py 8's default 5 s socket timeout plus bullmq's 10 s block


async def _all_finished(queue: JobQueue, job_ids: list[str], timeout: float) -> list[Any]:
    async def check() -> list[Any] | None:
        jobs = [await queue._queue.getJob(job_id) for job_id in job_ids]
        return jobs if all(job.finishedOn for job in jobs) else None

    result: list[Any] = await wait_for(check, timeout)
    return result


async def test_delayed_job_and_backoff_retry_run_on_time_after_an_idle_worker(
    redis_url: str, tmp_path: Path, start_worker: Any
) -> None:
    settings = make_settings(redis_url, tmp_path)
    queue = JobQueue(settings)
    try:
        start_worker(settings)
        await asyncio.sleep(IDLE_S)
        delayed = await queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(delay_ms=3_000))
        retried = await queue.enqueue(
            JobName.SELFTEST, SelfTest(fail_attempts=1), EnqueueOptions(backoff_ms=2_000)
        )
        delayed_job, retried_job = await _all_finished(queue, [delayed, retried], timeout=20)
        delayed_late = delayed_job.processedOn - delayed_job.timestamp - 3_000
        assert 0 <= delayed_late < 1_000, f"delayed job ran {delayed_late} ms late"
        assert retried_job.attemptsMade == 2
        retry_late = retried_job.processedOn - retried_job.timestamp - 2_000
        assert 0 <= retry_late < 1_000, f"backoff retry ran {retry_late} ms late"
    finally:
        await queue.close()


async def test_limiter_caps_the_rate_and_resumes_when_the_window_reopens(
    redis_url: str, tmp_path: Path, start_worker: Any
) -> None:
    settings = make_settings(
        redis_url, tmp_path, limiter_max=10, limiter_duration_ms=2_000, worker_concurrency=5
    )
    queue = JobQueue(settings)
    try:
        ids = [await queue.enqueue(JobName.SELFTEST, SelfTest()) for _ in range(30)]
        start_worker(settings)
        jobs = await _all_finished(queue, ids, timeout=30)
        starts = sorted(job.processedOn for job in jobs)
        # The cap: no 11 consecutive starts fit in one 2 s window.
        assert min(starts[i + 10] - starts[i] for i in range(len(starts) - 10)) >= 1_900
        # Prompt resumption: three windows take ~4 s (10 per 2 s, ~5 jobs/s), not 10+ s.
        span = starts[-1] - starts[0]
        assert span < 5_500, f"30 jobs took {span} ms to start"
    finally:
        await queue.close()
