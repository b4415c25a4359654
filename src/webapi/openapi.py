"""What the OpenAPI document says beyond the handlers' signatures: the error answers each operation
can give (all in one shape, `ErrorBody`) and how to sign in (a bearer token or the session cookie)."""

from __future__ import annotations

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme

from blogqueue.schemas import ErrorBody
from webapi.auth import SESSION_COOKIE

ERRORS = {
    400: "The request cannot be read (for example a body that is not JSON)",
    401: "No valid session: the token is missing, expired or revoked, or the account is disabled",
    403: "Signed in, but this needs an admin account (or the post's author)",
    404: "Not found, or not the caller's to see",
    409: "The thing is in the wrong state for this",
    422: "Invalid input: `details` names every bad field",
    429: "Too many failed sign-ins: try again after `Retry-After` seconds",
    503: "Redis or the database cannot be reached",
}

# Operations anyone may call. An empty list would be dropped and the document-wide requirement
# inherited (litestar-org/litestar#4016); one empty requirement says "nothing needed" in OpenAPI.
PUBLIC: list[SecurityRequirement] = [{}]


def errors(*statuses: int, public: bool = False) -> dict[int, ResponseSpec]:
    """An operation's error answers: 400 for all; 401 and 503 where a session is checked (Redis and
    the database are asked); plus `statuses`."""
    common = (400,) if public else (400, 401, 503)
    return {
        status: ResponseSpec(ErrorBody, description=ERRORS[status], generate_examples=False)
        for status in sorted({*common, *statuses})
    }


def openapi_config() -> OpenAPIConfig:
    """The document at /schema. The JWT backend adds its bearer scheme; the session cookie is the
    other way to send the same token (browsers)."""
    cookie = SecurityScheme(
        type="apiKey",
        name=SESSION_COOKIE,
        security_scheme_in="cookie",
        description="`Bearer <token>`, set by POST /api/auth/login (HttpOnly)",
    )
    return OpenAPIConfig(
        title="BlogQueue",
        version="0.1.0",
        path="/schema",
        components=Components(security_schemes={"SessionCookie": cookie}),
        security=[{"SessionCookie": []}],
    )
