"""The errors BlogQueue raises on purpose. The tree:

    BlogQueueError
    ├── InvalidInput        bad input at an edge (HTTP, CLI, job payload): 422
    │   └── InvalidJob      a job id, priority or payload that BullMQ or Node would reject
    ├── NotFound            a job or record that does not exist: 404
    ├── Unauthorized        missing or wrong credentials: 401
    ├── Forbidden           signed in, but not allowed: 403
    ├── Conflict            the request clashes with current state: 409
    ├── TooManyRequests     slow down (failed sign-ins): 429, with retry_after
    ├── Unavailable         a dependency (Redis, database, TMDb) cannot be reached: 503
    ├── Misconfigured       a required setting is missing or wrong (stops a process at start)
    └── UndecryptableKey    a stored provider key that no key in the ring can decrypt

The API maps them to HTTP in one handler; the worker maps them to retry or fail in one function.
"""


class BlogQueueError(Exception):
    """Base of every error raised on purpose; its message is written for a person."""

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

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
