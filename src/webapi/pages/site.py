"""Sign in and out with a plain HTML form (the session is the API's cookie), and the favicon."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import File, Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.errors import TooManyRequests, Unauthorized
from blogqueue.login_throttle import LoginThrottle
from blogqueue.users import MAX_EMAIL_LENGTH
from webapi.auth import SESSION_COOKIE, Sessions, client_address, sign_in
from webapi.pages.session import EXCLUDE, home_of, safe_next

HOME = "/"  # answers with the start page of whoever signs in
FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"


@dataclass
class SignInForm:
    email: str = ""
    password: str = ""
    next: str = ""


def _form(email: str, target: str, error: str | None, status: int = 200) -> Template:
    context = {"email": email, "next": target, "error": error, "user": None}
    return Template(template_name="login.html", context=context, status_code=status)


class SiteController(Controller):
    include_in_schema = False
    opt = EXCLUDE

    @get(["/", "/admin"])
    async def root(self, request: Request[Any, Any, Any], sessions: NamedDependency[Sessions]) -> Redirect:
        signed_in = await sessions.current(request)
        return Redirect(home_of(signed_in.user) if signed_in else "/login", status_code=303)

    @get("/favicon.ico", cache_control=CacheControlHeader(max_age=86_400))
    async def favicon(self) -> File:
        """Browsers and crawlers ask for it on every page; an SVG answers as an icon everywhere it is used."""
        return File(FAVICON, media_type="image/svg+xml", content_disposition_type="inline")

    @get("/login")
    async def login_form(
        self,
        request: Request[Any, Any, Any],
        sessions: NamedDependency[Sessions],
        next: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        """Someone already signed in goes where they were headed instead of seeing the form."""
        signed_in = await sessions.current(request)
        if signed_in is not None:
            return Redirect(safe_next(next, home_of(signed_in.user)), status_code=303)
        return _form("", safe_next(next, HOME), None)

    @post("/login", status_code=200)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        db_session: NamedDependency[AsyncSession],
        sessions: NamedDependency[Sessions],
        throttle: NamedDependency[LoginThrottle],
    ) -> Template | Redirect:
        target = safe_next(data.next, HOME)
        address = client_address(request)
        try:
            token = await sign_in(db_session, throttle, sessions, data.email, data.password, address)
        except TooManyRequests as err:
            return _form(data.email[:MAX_EMAIL_LENGTH], target, err.message, 429)
        except Unauthorized:
            shown = data.email[:MAX_EMAIL_LENGTH]
            return _form(shown, target, "Wrong email or password, or the account is disabled.", 401)
        cookie = sessions.cookie(token, secure=request.url.scheme == "https")
        return Redirect(target, status_code=303, cookies=[cookie])

    @post("/logout", status_code=200)
    async def logout(
        self,
        request: Request[Any, Any, Any],
        sessions: NamedDependency[Sessions],
    ) -> Redirect:
        signed_in = await sessions.current(request)
        if signed_in is not None:
            await sessions.revoke(signed_in.token)
        response = Redirect("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response
