"""Worker processes: several on one queue, and recovery of a job whose worker was SIGKILLed."""

import asyncio
import signal
from pathlib import Path
from typing import Any

from blogqueue.jobqueue import JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from tests.conftest import make_settings, spawn_worker, stop_process, wait_for


async def test_several_worker_processes_share_one_queue(redis_url: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, tmp_path)
    queue = JobQueue(settings)
    workers = [spawn_worker(settings, tmp_path / f"w{n}.log") for n in range(2)]
    try:
        await wait_for(lambda: _workers_at_least(queue, 2), timeout=20)
        ids = [await queue.enqueue(JobName.SELFTEST, SelfTest(sleep_ms=300)) for _ in range(12)]

        async def all_done() -> list[Any] | None:
            jobs = [await queue._queue.getJob(job_id) for job_id in ids]
            return jobs if all(job.finishedOn for job in jobs) else None

        jobs = await wait_for(all_done, timeout=30)
        assert {job.returnvalue["ok"] for job in jobs} == {True}
        assert len({job.returnvalue["worker"] for job in jobs}) == 2
    finally:
        for process in workers:
            stop_process(process)
        await queue.close()
    assert [process.returncode for process in workers] == [0, 0]  # SIGTERM is a clean stop


async def test_a_job_whose_worker_is_killed_is_completed_by_another(redis_url: str, tmp_path: Path) -> None:
    fast_recovery = {"BLOGQUEUE_LOCK_DURATION_MS": "2000", "BLOGQUEUE_STALLED_INTERVAL_MS": "1000"}
    settings = make_settings(redis_url, tmp_path)
    queue = JobQueue(settings)
    first = spawn_worker(settings, tmp_path / "first.log", **fast_recovery)
    second = None
    try:
        job_id = await queue.enqueue(JobName.SELFTEST, SelfTest(sleep_ms=3_000))

        async def active() -> bool:
            return (await queue.get_job(job_id)).state == "active"

        await wait_for(active, timeout=20)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = spawn_worker(settings, tmp_path / "second.log", **fast_recovery)

        async def completed() -> Any:
            job = await queue._queue.getJob(job_id)
            return job if job.finishedOn else None

        job = await wait_for(completed, timeout=30)
        assert await job.getState() == "completed"
        assert job.returnvalue["ok"] is True
        assert int(job.stalledCounter) == 1  # recovered from a stall, not retried as a failure
        assert job.attemptsMade == 1
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)
        await queue.close()


async def _workers_at_least(queue: JobQueue, count: int) -> bool:
    await asyncio.sleep(0)
    return await queue.live_workers() >= count
