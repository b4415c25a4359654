"""Why queued jobs wait, one cause at a time, read from the real Redis keys that hold them."""

import time

from blogqueue.jobqueue import EnqueueOptions, JobQueue, QueueMetrics
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from blogqueue.waits import HoldUp, hold_ups

QUIET = QueueMetrics(waiting=0, active=0, completed=0, failed=0, delayed=0, prioritized=0, paused=0)


async def test_nothing_queued_means_nothing_holds_it(job_queue: JobQueue, settings: Settings) -> None:
    await job_queue._redis.set(job_queue._keys.cooldown("openai"), "1", px=42_000)
    assert await hold_ups(job_queue, settings, QUIET) == []


async def test_each_cause_is_said_in_plain_words_with_the_time_left(
    job_queue: JobQueue, settings: Settings
) -> None:
    settings = settings.model_copy(update={"limiter_max": 10, "limiter_duration_ms": 60_000})
    await job_queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(priority=3))
    limiter = job_queue._queue.toKey("limiter")
    await job_queue._redis.set(limiter, settings.limiter_max, px=41_500)  # the window is used up
    await job_queue._redis.set(job_queue._keys.cooldown("anthropic"), "1", px=29_200)
    counts = QueueMetrics(waiting=0, active=2, completed=0, failed=0, delayed=1, prioritized=5, paused=0)

    found = {hold.kind: hold for hold in await hold_ups(job_queue, settings, counts)}

    assert found["no-worker"].message == "no worker is running: start one (blogworker) and the jobs begin"
    assert found["rate-limit"].message == "rate limit (10 jobs per 60 s): next slot in 42 s"
    assert found["rate-limit"].seconds == 42
    assert found["cooldown"].message == "Anthropic asked us to slow down: its jobs resume in 30 s"
    assert found["cooldown"].seconds == 30
    assert found["fair-share"].message == (
        "5 queued posts take turns between users, 2 running now: no pace measured yet"
    )
    assert found["fair-share"].seconds is None
    assert list(found) == ["no-worker", "rate-limit", "cooldown", "fair-share"]


async def test_a_rate_limit_window_not_used_up_holds_nothing(job_queue: JobQueue, settings: Settings) -> None:
    settings = settings.model_copy(update={"limiter_max": 10})
    await job_queue._redis.set(job_queue._queue.toKey("limiter"), settings.limiter_max - 1, px=41_500)
    counts = QueueMetrics(waiting=1, active=0, completed=0, failed=0, delayed=0, prioritized=0, paused=0)
    assert [hold.kind for hold in await hold_ups(job_queue, settings, counts)] == ["no-worker"]


async def _finished(job_queue: JobQueue, state: str, this_minute: int, per_minute: list[int]) -> None:
    """Write BullMQ's metrics as a worker would: `this_minute` jobs in the minute now, then older minutes."""
    key = job_queue._queue.toKey(f"metrics:{state}")
    now_ms = int(time.time() * 1000)
    await job_queue._redis.hset(key, mapping={"count": 500 + this_minute, "prevCount": 500, "prevTS": now_ms})
    if per_minute:
        await job_queue._redis.rpush(f"{key}:data", *per_minute)


async def test_fair_share_says_when_the_turns_should_clear_at_the_recent_pace(
    job_queue: JobQueue, settings: Settings
) -> None:
    # 180 jobs finished in the last 10 minutes (0.3 a second); a minute older than that does not count
    await _finished(job_queue, "completed", 20, [60, 40, 0, 0, 0, 0, 0, 0, 0, 999])
    await _finished(job_queue, "failed", 25, [35])
    await job_queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(priority=3))
    counts = QueueMetrics(waiting=0, active=2, completed=0, failed=0, delayed=0, prioritized=12, paused=0)

    (fair,) = [hold for hold in await hold_ups(job_queue, settings, counts) if hold.kind == "fair-share"]

    assert fair.message == (
        "12 queued posts take turns between users, 2 running now: about 40 s to clear at the last 10 minutes' pace"
    )
    assert fair.seconds == 40
    # jobs in the wait list go before every turn; a long wait is said in minutes
    counts = QueueMetrics(waiting=30, active=2, completed=0, failed=0, delayed=0, prioritized=24, paused=0)
    (fair,) = [hold for hold in await hold_ups(job_queue, settings, counts) if hold.kind == "fair-share"]
    assert fair.seconds == 180
    assert fair.message.endswith("running now: about 3 min to clear at the last 10 minutes' pace")
    # the status pages read the same pace inside their one round trip
    _, _, throttles = await job_queue.run_snapshots([], {}, 20, settings.limiter_max)
    assert throttles.finished_recently == 180


async def test_fair_share_with_nothing_finished_lately_gives_no_time(
    job_queue: JobQueue, settings: Settings
) -> None:
    await _finished(job_queue, "completed", 0, [0] * 10 + [70])  # finished, but not in the last 10 minutes
    await job_queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(priority=3))
    counts = QueueMetrics(waiting=0, active=1, completed=70, failed=0, delayed=0, prioritized=4, paused=0)

    (fair,) = [hold for hold in await hold_ups(job_queue, settings, counts) if hold.kind == "fair-share"]

    assert fair == HoldUp(
        "fair-share", "4 queued posts take turns between users, 1 running now: no pace measured yet", None
    )
