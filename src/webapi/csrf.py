"""Cross-site request forgery: a browser attaches the session cookie to requests other sites make
it send, so a state-changing request that relies on the cookie must show it comes from one of our
pages. Requests with an `Authorization` header are exempt: no other site can make a browser send one.

The rule, for POST, PUT, PATCH and DELETE:
- the session cookie (or the sign-in and sign-out forms, which have no token yet or only the cookie):
  `Origin` (else `Referer`) must be the app's own origin or one of BLOGQUEUE_CORS_ORIGINS; and an
  /api request must send JSON (a form or text/plain body is what a cross-site form can send);
- anything else without credentials (API clients signing in): a foreign `Origin` is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from webapi.auth import SESSION_COOKIE

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_PATHS = frozenset({"/login", "/logout"})  # the HTML forms: url-encoded bodies, the cookie at most
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, the port only when it is not the scheme's default."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    shown = "" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{parts.hostname}{shown}"


class CsrfMiddleware(ASGIMiddleware):
    """Refuses (403) cookie-authenticated state changes that do not come from our own pages."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, trusted_origins: tuple[str, ...]) -> None:
        self.trusted = {origin for origin in map(origin_of, trusted_origins) if origin}

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") in UNSAFE_METHODS:
            problem = self.problem(ASGIConnection(scope))
            if problem:
                raise PermissionDeniedException(problem)
        await next_app(scope, receive, send)

    def problem(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
        """Why this request may be forged; None when it may go ahead."""
        if "authorization" in connection.headers:
            return None
        trusted = self.trusted | {origin_of(str(connection.base_url))}
        if SESSION_COOKIE in connection.cookies or connection.url.path in FORM_PATHS:
            return _session_problem(connection, trusted)
        origin = connection.headers.get("origin")
        if origin is not None and origin_of(origin) not in trusted:
            return f"requests from {origin} are not accepted: sign in from this site's pages"
        return None


def _session_problem(connection: ASGIConnection[Any, Any, Any, Any], trusted: set[str | None]) -> str | None:
    headers = connection.headers
    origin = headers.get("origin")
    source = origin if origin not in (None, "null") else headers.get("referer")
    if source is None:
        return "a signed-in change needs an Origin or Referer header from this site (or a bearer token)"
    if origin_of(source) not in trusted:
        return f"requests from {origin_of(source) or source} are not accepted with this site's session"
    if connection.url.path.startswith("/api/") and not _json_or_empty(headers):
        return "a signed-in API change must send its body as application/json"
    return None


def _json_or_empty(headers: Headers) -> bool:
    """A JSON body, or none at all (a button that only POSTs to a URL)."""
    content_type = headers.get("content-type")
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    return headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers
