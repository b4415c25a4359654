"""Why queued jobs wait, one cause at a time, read from the real Redis keys that hold them."""

from blogqueue.jobqueue import EnqueueOptions, JobQueue, QueueMetrics
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from blogqueue.waits import hold_ups

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
    assert found["fair-share"].message == "5 queued posts take turns between users, 2 running now"
    assert list(found) == ["no-worker", "rate-limit", "cooldown", "fair-share"]


async def test_a_rate_limit_window_not_used_up_holds_nothing(job_queue: JobQueue, settings: Settings) -> None:
    settings = settings.model_copy(update={"limiter_max": 10})
    await job_queue._redis.set(job_queue._queue.toKey("limiter"), settings.limiter_max - 1, px=41_500)
    counts = QueueMetrics(waiting=1, active=0, completed=0, failed=0, delayed=0, prioritized=0, paused=0)
    assert [hold.kind for hold in await hold_ups(job_queue, settings, counts)] == ["no-worker"]
