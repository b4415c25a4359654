"""The errors BlogQueue raises on purpose. The tree, with what a job that raises each one does:

    BlogQueueError                      job
    ├── InvalidInput        422         fails at once
    │   └── InvalidJob                  fails at once: an id, priority or payload Node would reject
    ├── NotFound            404         fails at once
    ├── Unauthorized        401         fails at once
    ├── Forbidden           403         fails at once
    ├── Conflict            409         fails at once: e.g. the title already has a post
    ├── TooManyRequests     429         retried with backoff
    ├── Unavailable         503         retried with backoff: Redis, the database or TMDb cannot be reached
    ├── Misconfigured       (start)     fails at once: a required setting is missing or wrong
    ├── UndecryptableKey                fails at once: no key in the ring decrypts a stored provider key
    ├── UnusableAnswer                  fails at once: the model's answer failed the quality gate twice
    ├── Cancelled                       fails at once, as "cancelled: <reason>"
    │   └── ShuttingDown                goes back to the queue without spending an attempt
    └── Postponed                       runs again after `delay_s` without spending an attempt

Each class says whether a job should try again (`retryable`); the API maps the tree to HTTP in
one handler and the worker maps it to retry / fail / wait in one function (blogworker.failures).
Anything that is not a BlogQueueError (a bug, a dropped connection) is retried with backoff.
"""

from __future__ import annotations


class BlogQueueError(Exception):
    """Base of every error raised on purpose; its message is written for a person."""

    retryable: bool = False  # whether a job that raised it may succeed on another attempt

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(BlogQueueError):
    """Input failed validation; nothing was stored or enqueued. `errors` lists every bad field."""

    def __init__(
        self, message: str, *, field: str | None = None, errors: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.errors = errors or ([(field, message)] if field else [])

    @classmethod
    def of(cls, problems: list[tuple[str, str]]) -> InvalidInput:
        """One error for every (field, message) problem, the first field leading."""
        return cls("; ".join(message for _, message in problems), field=problems[0][0], errors=problems)


class InvalidJob(InvalidInput):
    """A job id, priority or payload that the queue must not accept."""


class NotFound(BlogQueueError):
    """The thing asked for does not exist (any more)."""


class Unauthorized(BlogQueueError):
    """Missing or wrong credentials."""


class Forbidden(BlogQueueError):
    """Signed in, but this needs another role."""


class TooManyRequests(BlogQueueError):
    """Too many attempts; `retry_after` says when to try again."""

    retryable = True

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Misconfigured(BlogQueueError):
    """A required setting is missing or invalid."""


class UndecryptableKey(BlogQueueError):
    """A stored provider key that no key in the ring decrypts; names the user and provider."""


class Conflict(BlogQueueError):
    """The request clashes with the current state."""


class Unavailable(BlogQueueError):
    """A dependency such as Redis, the database or TMDb cannot be reached; `retry_after_s` is its hint."""

    retryable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnusableAnswer(BlogQueueError):
    """A model's answer that cannot be published, even after an adjusted second try."""


class Cancelled(BlogQueueError):
    """The job was cancelled on request (or its run was stopped); it must not be retried."""


class ShuttingDown(Cancelled):
    """The worker is stopping: not the job's fault, so it goes back to the queue as it was."""

    def __init__(self, message: str = "worker shutting down") -> None:
        super().__init__(message)


class Postponed(BlogQueueError):
    """Run the job again in `delay_s` seconds, without spending an attempt (a rate limit, a cooldown)."""

    def __init__(self, message: str, *, delay_s: float) -> None:
        super().__init__(message)
        self.delay_s = delay_s
