"""Admission control: a process that already works on as many requests as it can answer within
about a second turns the next one away at once (503 with Retry-After) instead of queueing it behind
the others, so a burst is answered quickly, accepted or shed. Probes and the long-lived event stream
are never turned away."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from blogqueue.errors import Unavailable

EXEMPT = frozenset({"/healthz", "/readyz"})
SHED_RETRY_AFTER_S = 1.0


class AdmissionMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        path = scope.get("path", "")
        if path in EXEMPT or path.endswith("/events"):
            await next_app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            raise Unavailable("the server is busy; try again shortly", retry_after_s=SHED_RETRY_AFTER_S)
        self.in_flight += 1
        try:
            await next_app(scope, receive, send)
        finally:
            self.in_flight -= 1
