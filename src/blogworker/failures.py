"""The one place that decides what a failed job does: fail now, retry with backoff, or wait.

UnrecoverableError fails at once; DelayedError re-runs later without spending an attempt; any
other exception is retried with the job's exponential backoff until its attempts run out.
"""

from __future__ import annotations

from bullmq import DelayedError, UnrecoverableError

from blogqueue.errors import InvalidInput, Misconfigured, NotFound
from blogworker.context import SHUTDOWN_REASON, JobCancelled
from blogworker.providers.base import FailureKind, ProviderError

_PASS_THROUGH: tuple[type[Exception], ...] = (UnrecoverableError, DelayedError)
_FAIL_NOW = {FailureKind.AUTH, FailureKind.MODEL, FailureKind.QUOTA, FailureKind.BAD_REQUEST}


def _unrecoverable(message: str) -> Exception:
    error: Exception = UnrecoverableError(message)
    return error


def classify(err: Exception) -> Exception:
    """Map an error from a handler to the exception BullMQ should see."""
    if isinstance(err, _PASS_THROUGH):
        return err
    if isinstance(err, JobCancelled):
        return _unrecoverable(f"cancelled: {err}")
    if isinstance(err, InvalidInput | Misconfigured | NotFound):
        return _unrecoverable(str(err))
    if isinstance(err, ProviderError) and err.kind in _FAIL_NOW:
        return _unrecoverable(err.message)
    return err


def is_final(err: Exception, attempt: int, attempts: int) -> bool:
    """Whether this failure ends the job for good (`attempt` counts from 0)."""
    if isinstance(err, JobCancelled) and str(err) == SHUTDOWN_REASON:
        return False  # the worker is stopping: the job goes back to the queue
    classified = classify(err)
    if isinstance(classified, DelayedError):
        return False
    return isinstance(classified, UnrecoverableError) or attempt + 1 >= attempts
