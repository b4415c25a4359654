"""The one place where errors become HTTP responses with a JSON body a person understands."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import ClientException, HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from blogqueue.errors import (
    BlogQueueError,
    Conflict,
    Forbidden,
    InvalidInput,
    Misconfigured,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)

log = structlog.get_logger("webapi")
RETRY_AFTER_S = 1

STATUS_BY_ERROR: dict[type[BlogQueueError], int] = {
    InvalidInput: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooManyRequests: 429,
    Unavailable: 503,
    Misconfigured: 500,
}


def _body(
    status: int, message: str, details: object = None, headers: dict[str, str] | None = None
) -> Response[dict[str, object]]:
    content: dict[str, object] = {"error": message, "status": status}
    if details:
        content["details"] = details
    return Response(content, status_code=status, media_type=MediaType.JSON, headers=headers)


def status_of(exc: BlogQueueError) -> int:
    return next((code for kind, code in STATUS_BY_ERROR.items() if isinstance(exc, kind)), 400)


def blogqueue_error(_: Request[Any, Any, Any], exc: BlogQueueError) -> Response[dict[str, object]]:
    status = status_of(exc)
    pairs = exc.errors if isinstance(exc, InvalidInput) else [(exc.field, exc.message)] if exc.field else []
    details = [{"field": field, "message": message} for field, message in pairs] or None
    headers = None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, Unavailable):
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s or RETRY_AFTER_S)))}
    return _body(status, exc.message, details, headers)


def overloaded(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
    """A dependency that is busy or unreachable: a fast 503 the client may retry, never a 500."""
    log.warning("dependency_unavailable", error=repr(exc))
    if isinstance(exc, PoolTimeout):
        message = "the server is busy (no database connection free); try again shortly"
    elif isinstance(exc, OperationalError):
        message = "the database is busy or unreachable; try again shortly"
    else:
        message = "Redis is busy or unreachable; try again shortly"
    return _body(503, message, headers={"Retry-After": str(RETRY_AFTER_S)})


def _litestar_details(extra: object) -> list[dict[str, object]] | None:
    """Litestar's validation messages (`key`, `message`, `source`) in our shape (`field`, `message`)."""
    if not isinstance(extra, list):
        return None
    items = [item for item in extra if isinstance(item, dict) and "message" in item]
    details = [{"field": item.get("key"), "message": item["message"]} for item in items]
    return [{k: v for k, v in detail.items() if v is not None} for detail in details] or None


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, object]]:
    status = 422 if isinstance(exc, ValidationException) else exc.status_code
    return _body(status, exc.detail, _litestar_details(exc.extra))


class BodyCheckedRequest(Request[Any, Any, Any]):
    """The app's request class: a JSON body msgspec cannot read because it nests deeper than
    Python's recursion limit, or has strings that are not UTF-8, is the client's error (400),
    as other malformed JSON already is, not an unexpected one."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError as err:
            raise ClientException("the request body nests too deeply to read") from err
        except UnicodeDecodeError as err:
            raise ClientException("the request body has text that is not valid UTF-8") from err


def unexpected_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
    log.exception("unhandled_error", error=repr(exc))
    return _body(HTTP_500_INTERNAL_SERVER_ERROR, "internal error; the server log has the details")


EXCEPTION_HANDLERS = {
    BlogQueueError: blogqueue_error,
    PoolTimeout: overloaded,
    OperationalError: overloaded,
    RedisConnectionError: overloaded,  # MaxConnectionsError is one
    RedisTimeoutError: overloaded,
    HTTPException: http_error,
    Exception: unexpected_error,
}
