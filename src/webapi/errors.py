"""The one place where errors become HTTP responses with a JSON body a person understands."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import ClientException, HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

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


def blogqueue_error(_: Request[Any, Any, Any], exc: BlogQueueError) -> Response[dict[str, object]]:
    status = next((code for kind, code in STATUS_BY_ERROR.items() if isinstance(exc, kind)), 400)
    pairs = exc.errors if isinstance(exc, InvalidInput) else [(exc.field, exc.message)] if exc.field else []
    details = [{"field": field, "message": message} for field, message in pairs] or None
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    return _body(status, exc.message, details, headers)


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, object]]:
    status = 422 if isinstance(exc, ValidationException) else exc.status_code
    return _body(status, exc.detail, exc.extra or None)


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
    HTTPException: http_error,
    Exception: unexpected_error,
}
