"""The worker runner against a real Redis: processing, retries, failures, cancellation, shutdown."""

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec

from blogqueue.jobqueue import CancelMark, CancelOutcome, EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from tests.conftest import make_settings, wait_for


async def _state_is(job_queue: JobQueue, job_id: str, *states: str) -> Any:
    async def check() -> Any:
        job = await job_queue.get_job(job_id)
        return job if job.state in states else None

    return check


async def finished(job_queue: JobQueue, job_id: str, timeout: float = 15) -> Any:
    return await wait_for(await _state_is(job_queue, job_id, "completed", "failed"), timeout)


async def test_selftest_job_completes_with_progress_and_logs(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    start_worker(settings)
    job_id = await job_queue.enqueue(JobName.SELFTEST, SelfTest(note="hello"))
    job = await finished(job_queue, job_id)
    assert job.state == "completed"
    assert job.progress == 100
    raw = await job_queue._queue.getJob(job_id)
    assert raw.returnvalue["ok"] is True
    assert raw.returnvalue["note"] == "hello"
    logs = await job_queue._queue.getJobLogs(job_id)
    assert logs["logs"] == ["selftest attempt 1"]


async def test_transient_failures_are_retried_with_growing_backoff(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    start_worker(settings)
    flaky = await job_queue.enqueue(
        JobName.SELFTEST, SelfTest(fail_attempts=2), EnqueueOptions(backoff_ms=200)
    )
    doomed = await job_queue.enqueue(
        JobName.SELFTEST, SelfTest(fail_attempts=99), EnqueueOptions(backoff_ms=200)
    )
    assert (await finished(job_queue, flaky)).state == "completed"
    result = await finished(job_queue, doomed)
    assert result.state == "failed"
    assert result.attempts_made == 3
    assert "failing attempt 3" in (result.failed_reason or "")
    logs = (await job_queue._queue.getJobLogs(flaky))["logs"]
    assert logs == ["selftest attempt 1", "selftest attempt 2", "selftest attempt 3"]


async def test_unrecoverable_and_invalid_jobs_fail_at_once(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    start_worker(settings)
    unrecoverable = await job_queue.enqueue(JobName.SELFTEST, SelfTest(unrecoverable=True))
    invalid = "invalid-payload-1"
    await job_queue._queue.add("selftest", {"sleepMs": "soon"}, {"jobId": invalid, "attempts": 3})
    unknown = "unknown-name-1"
    await job_queue._queue.add("mystery", {}, {"jobId": unknown, "attempts": 3})
    for job_id, reason in [
        (unrecoverable, "without retry"),
        (invalid, "invalid job data: Expected `int`"),
        (unknown, "unknown job name 'mystery'"),
    ]:
        job = await finished(job_queue, job_id)
        assert job.state == "failed"
        assert job.attempts_made == 1
        assert reason in (job.failed_reason or "")


async def test_an_active_job_is_cancelled_through_redis_within_a_second(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    start_worker(settings)
    job_id = await job_queue.enqueue(JobName.SELFTEST, SelfTest(sleep_ms=30_000))
    await wait_for(await _state_is(job_queue, job_id, "active"))
    await asyncio.sleep(0.2)  # the handler is inside its sleep
    started = time.monotonic()
    assert await job_queue.cancel_job(job_id) is CancelOutcome.CANCELLING
    job = await finished(job_queue, job_id, timeout=5)
    assert time.monotonic() - started < 1.0
    assert job.state == "failed"
    assert job.attempts_made == 1  # cancelled jobs are not retried
    assert "cancelled" in (job.failed_reason or "")
    assert await job_queue.cancel_job(job_id) is CancelOutcome.FINISHED


async def test_a_cancel_mark_stops_a_job_that_starts_after_the_message(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    job_id = await job_queue.enqueue(JobName.SELFTEST, SelfTest())
    mark = msgspec.json.encode(CancelMark(reason="stopped by admin", at=int(time.time() * 1000)))
    await job_queue._redis.hset(job_queue._keys.cancel_marks, job_id, mark)  # as if the message was missed
    start_worker(settings)
    job = await finished(job_queue, job_id)
    assert job.state == "failed"
    assert job.failed_reason == "cancelled: stopped by admin"
    assert await job_queue._redis.hlen(job_queue._keys.cancel_marks) == 0  # handled marks are dropped


async def test_shutdown_lets_active_jobs_finish_within_the_grace_period(
    redis_url: str, tmp_path: Path, job_queue: JobQueue, start_worker: Any
) -> None:
    # One slot, busy: the worker holds no idle fetch that could take the second job.
    worker = start_worker(
        make_settings(redis_url, tmp_path, queue_prefix=job_queue.settings.queue_prefix, worker_concurrency=1)
    )
    job_id = await job_queue.enqueue(JobName.SELFTEST, SelfTest(sleep_ms=1_000))
    await wait_for(await _state_is(job_queue, job_id, "active"))
    waiting = await job_queue.enqueue(JobName.SELFTEST, SelfTest())
    assert await worker.stop() == 0
    assert (await job_queue.get_job(job_id)).state == "completed"
    assert (await job_queue.get_job(waiting)).state == "waiting"  # a stopping worker takes nothing new


async def test_shutdown_aborts_jobs_that_outlive_the_grace_period(
    redis_url: str, tmp_path: Path, start_worker: Any
) -> None:
    settings = make_settings(redis_url, tmp_path, shutdown_grace_s=0.5)
    queue = JobQueue(settings)
    try:
        worker = start_worker(settings)
        job_id = await queue.enqueue(JobName.SELFTEST, SelfTest(sleep_ms=60_000))
        await wait_for(await _state_is(queue, job_id, "active"))
        started = time.monotonic()
        assert await worker.stop() == 0
        assert time.monotonic() - started < 3
        job = await queue.get_job(job_id)
        assert job.state in {"delayed", "waiting"}  # handed back for another worker, not failed
        assert job.attempts_made == 0
    finally:
        await queue.close()


async def test_worker_exits_non_zero_when_its_loop_dies(settings: Settings, start_worker: Any) -> None:
    worker = start_worker(settings)

    async def dead_loop() -> None:
        return None

    worker.runner.worker.run = dead_loop  # the bullmq loop returning by itself, as it does on a crash
    assert await asyncio.wait_for(worker.task, timeout=10) == 1
