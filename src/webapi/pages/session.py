"""Who is looking at a page: the API's session, checked by the API's own middleware code (see
`Sessions.current`). Pages are excluded from that middleware because a browser without a session
should be sent to the sign-in page, not handed a 401."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect

from blogqueue.errors import Unauthorized
from webapi.auth import CurrentUser, Sessions

EXCLUDE = {"exclude_from_auth": True}


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


def to_sign_in(request: Request[Any, Any, Any], _: Unauthorized) -> Response[Any]:
    """Pages answer Unauthorized (no session, or the account is gone) by asking to sign in again."""
    return Redirect(sign_in_url(request), status_code=303)


async def page_user(request: Request[Any, Any, Any], sessions: NamedDependency[Sessions]) -> CurrentUser:
    """The pages' `current_user`: whoever is signed in, or Unauthorized."""
    signed_in = await sessions.current(request)
    if signed_in is None:
        raise Unauthorized("sign in first")
    return signed_in.user


async def page_admin(request: Request[Any, Any, Any], sessions: NamedDependency[Sessions]) -> CurrentUser:
    """`current_user` of the admins' pages: the signed-in admin, or Unauthorized / AdminsOnly."""
    user = await page_user(request, sessions)
    if not user.is_admin:
        raise AdminsOnly("this page is for admins only")
    return user


def home_of(user: CurrentUser) -> str:
    """Where a signed-in person starts: admins run generation, authors look after their posts."""
    return "/admin/blog/auto-generate" if user.is_admin else "/admin/blog/posts"
