"""The one place that decides what a failed job does, from the error's type (blogqueue.errors):
fail now, retry with backoff, run later without spending an attempt, or go back to the queue."""

from __future__ import annotations

from enum import StrEnum

from blogqueue.errors import BlogQueueError, Cancelled, Postponed, ShuttingDown


class Outcome(StrEnum):
    RETRY = "retry"  # with the job's backoff, while attempts remain
    FAIL = "fail"  # now and for good
    POSTPONE = "postpone"  # run again later, without spending an attempt
    HAND_BACK = "hand back"  # back to the queue at once, without spending an attempt


def decide(err: BaseException) -> Outcome:
    if isinstance(err, ShuttingDown):
        return Outcome.HAND_BACK
    if isinstance(err, Postponed):
        return Outcome.POSTPONE
    if isinstance(err, BlogQueueError):
        return Outcome.RETRY if err.retryable else Outcome.FAIL
    return Outcome.RETRY  # not raised on purpose (a bug, a dropped connection): another attempt may do


def is_final(err: BaseException, attempt: int, attempts: int) -> bool:
    """Whether this failure ends the job for good (`attempt` counts from 0)."""
    outcome = decide(err)
    return outcome is Outcome.FAIL or (outcome is Outcome.RETRY and attempt + 1 >= attempts)


def reason(err: BaseException) -> str:
    """The job's failed reason, as BullMQ stores it."""
    return f"cancelled: {err}" if isinstance(err, Cancelled) else str(err)
