"""Security headers on every response; pages also get a Content-Security-Policy that allows only
our own scripts and styles (the templates have no inline script, handler or style attribute) and
no framing. The OpenAPI viewers under /schema load their scripts from CDNs and keep no policy.
A page or redirect that sets no cache policy of its own (every signed-in page, the sign-in form and
its redirects) is never stored, so Back after signing out shows nothing and cannot replay a redirect
made while signed in; the public blog sets its own."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",  # posters come from the TMDb image CDN
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A `before_send` hook: sets the headers on the start of each HTTP response."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in ALWAYS.items():
        headers[name] = value
    is_page = (headers.get("content-type") or "").startswith("text/html")
    if is_page and not scope.get("path", "").startswith("/schema"):
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    if is_page or 300 <= message["status"] < 400:
        headers.setdefault("Cache-Control", "no-store")
