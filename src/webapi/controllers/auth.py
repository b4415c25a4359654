"""Sign in and out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.security.jwt import Token
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.login_throttle import LoginThrottle
from blogqueue.schemas import Credentials, TokenResponse
from webapi.auth import SESSION_COOKIE, CurrentUser, Sessions, client_address, sign_in
from webapi.openapi import PUBLIC, errors


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post(
        "/login",
        summary="Sign in: returns a bearer token and sets the session cookie",
        status_code=200,
        security=PUBLIC,
        responses=errors(401, 422, 429, 503, public=True),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Credentials],
        db_session: NamedDependency[AsyncSession],
        sessions: NamedDependency[Sessions],
        throttle: NamedDependency[LoginThrottle],
    ) -> Response[TokenResponse]:
        address = client_address(request)
        token = await sign_in(db_session, throttle, sessions, data.email, data.password, address)
        return Response(
            TokenResponse(token), cookies=[sessions.cookie(token, secure=request.url.scheme == "https")]
        )

    @post(
        "/logout",
        summary="Sign out: revokes the token and clears the cookie",
        status_code=200,
        responses=errors(),
    )
    async def logout(
        self, request: Request[CurrentUser, Token, Any], sessions: NamedDependency[Sessions]
    ) -> Response[dict[str, bool]]:
        await sessions.revoke(request.auth)
        response = Response({"signedOut": True})
        response.delete_cookie(SESSION_COOKIE)
        return response

    @get("/me", summary="The signed-in user", responses=errors())
    async def me(self, request: Request[CurrentUser, Token, Any]) -> CurrentUser:
        return request.user
