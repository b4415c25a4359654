"""Who is looking at a page: the API's session cookie, verified the way the API's JWT middleware
does (signature, expiry, revocation, an enabled account). Pages are excluded from that middleware
because a browser without a session should be sent to the sign-in page, not handed a 401."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.security.jwt import Token

from blogqueue.secrets_store import session_secret
from blogqueue.settings import Settings
from webapi.auth import SESSION_COOKIE, CurrentUser, is_revoked, retrieve_user

ALGORITHM = "HS256"  # JWTCookieAuth's default, which build_auth keeps
EXCLUDE = {"exclude_from_auth": True}


class SignInRequired(NotAuthorizedException):
    """No valid session: the page handler answers with a redirect to /login."""


class AdminsOnly(PermissionDeniedException):
    """Signed in, but not an admin: the page handler answers with a 403 page."""


def safe_next(target: str | None, default: str) -> str:
    """Only local paths, so the sign-in form cannot be used to send people elsewhere."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def sign_in_url(request: Request[Any, Any, Any]) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(here, safe='/')}"


async def session_token(request: Request[Any, Any, Any], settings: Settings) -> Token | None:
    encoded = request.cookies.get(SESSION_COOKIE, "").removeprefix("Bearer ").strip()
    if not encoded:
        return None
    try:
        token = Token.decode(encoded, session_secret(settings), ALGORITHM)
    except NotAuthorizedException:
        return None
    return None if await is_revoked(token, request) else token


async def page_user(request: Request[Any, Any, Any], settings: NamedDependency[Settings]) -> CurrentUser:
    """Dependency of the admin pages: the signed-in admin, or SignInRequired / AdminsOnly."""
    token = await session_token(request, settings)
    user = None if token is None else await retrieve_user(token, request)
    if user is None:
        raise SignInRequired(sign_in_url(request))
    if not user.is_admin:
        raise AdminsOnly("this page is for admins only")
    return user
