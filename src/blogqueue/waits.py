"""Why queued jobs wait, in plain words with the expected time: the rate limit, a provider's
cooldown, no live worker, or fair-share order between users. Also the plain words for BullMQ's
job states, wherever a person reads them."""

from __future__ import annotations

import math

import msgspec

from blogqueue.jobqueue import PACE_MINUTES, JobQueue, QueueMetrics, Throttles
from blogqueue.providers import PROVIDERS
from blogqueue.queues import JobState
from blogqueue.settings import Settings

STATE_WORDS = {
    JobState.WAITING: "waiting for a worker",
    JobState.PRIORITIZED: "queued (takes turns with other users)",
    JobState.DELAYED: "scheduled for later",
    JobState.ACTIVE: "running",
    JobState.COMPLETED: "done",
    JobState.FAILED: "failed",
    JobState.WAITING_CHILDREN: "waiting for other jobs",
}


WORKERS_SEEN_S = 5.0  # how old a live-worker count may be: listing Redis' clients is not free


class HoldUp(msgspec.Struct, frozen=True, rename="camel"):
    kind: str  # rate-limit | cooldown | no-worker | fair-share
    message: str  # for people: "rate limit: next slot in 42 s"
    seconds: int | None = None  # until it should lift, when known


def _in(ms: int) -> int:
    return max(1, math.ceil(ms / 1000))


async def hold_ups(
    job_queue: JobQueue, settings: Settings, counts: QueueMetrics, throttles: Throttles | None = None
) -> list[HoldUp]:
    """What keeps queued jobs from starting now; empty when nothing waits or nothing holds it."""
    queued = counts.waiting + counts.prioritized + counts.delayed
    if not queued:
        return []
    throttles = throttles or await job_queue.throttles(settings.limiter_max)
    found = []
    if not await job_queue.live_workers(max_age_s=WORKERS_SEEN_S):
        found.append(HoldUp("no-worker", "no worker is running: start one (blogworker) and the jobs begin"))
    if ms := throttles.limiter_ms:
        limit = f"{settings.limiter_max} jobs per {settings.limiter_duration_ms // 1000} s"
        found.append(HoldUp("rate-limit", f"rate limit ({limit}): next slot in {_in(ms)} s", _in(ms)))
    for provider, info in PROVIDERS.items():
        if ms := throttles.cooldowns.get(provider, 0):
            message = f"{info.label} asked us to slow down: its jobs resume in {_in(ms)} s"
            found.append(HoldUp("cooldown", message, _in(ms)))
    if counts.prioritized and counts.active:
        found.append(_fair_share(counts, throttles))
    return found


def _fair_share(counts: QueueMetrics, throttles: Throttles) -> HoldUp:
    """Posts taking turns, and how long they should take to clear at the queue's recent pace; no
    number at all when nothing finished lately, rather than a made-up one."""
    turns = f"{counts.prioritized} queued posts take turns between users, {counts.active} running now"
    if not throttles.finished_recently:
        return HoldUp("fair-share", f"{turns}: no pace measured yet")
    per_second = throttles.finished_recently / (PACE_MINUTES * 60)
    # BullMQ starts jobs in the wait list before prioritized ones: those are ahead of every turn
    seconds = math.ceil((counts.waiting + counts.prioritized) / per_second)
    pace = f"at the last {PACE_MINUTES} minutes' pace"
    return HoldUp("fair-share", f"{turns}: about {_spoken(seconds)} to clear {pace}", seconds)


def _spoken(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"
