"""Sign-in with Litestar's JWT cookie backend: a session cookie for pages, `Authorization: Bearer`
for API clients. Tokens carry a `jti`; signing out revokes it in Redis until it would expire."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar, NamedTuple

import msgspec
import redis.asyncio as aioredis
from cachetools import TTLCache
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import HttpMethod
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTCookieAuth, Token
from litestar.security.jwt.token import JWTDecodeOptions
from litestar.types import Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import users
from blogqueue.errors import Unauthorized
from blogqueue.login_throttle import LoginThrottle
from blogqueue.models import Role, User
from blogqueue.queues import Keys
from blogqueue.schemas import MAX_ROW_ID
from blogqueue.secrets_store import session_secret
from blogqueue.sessions import GENERATION_CLAIM, SessionGenerations
from blogqueue.settings import Settings

SESSION_COOKIE = "blogqueue_session"
WRONG_CREDENTIALS = "wrong email or password, or the account is disabled"
IDENTITY_TTL_S = 10.0
IDENTITIES_KEPT = 10_000
VERIFIED_TTL_S = 60.0
PUBLIC_PATHS = ["^/healthz$", "^/readyz$", "^/schema", "^/api/auth/login$", "^/blog(/|$)", "^/sitemap\\.xml$"]


class CurrentUser(msgspec.Struct, frozen=True):
    id: int
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class SignedIn(NamedTuple):
    user: CurrentUser
    token: Token


class Revocations:
    """Signed-out session tokens, kept in Redis until they would have expired, and each user's
    session generation, which a password change or a disabled account moves on."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self.generations = SessionGenerations(redis, keys)

    async def revoke(self, token: Token) -> None:
        if token.jti:
            ttl = max(1, int(token.exp.timestamp() - time.time()))
            await self._redis.set(self._keys.revoked_token(str(token.jti)), "1", ex=ttl)

    async def is_revoked(self, token: Token) -> bool:
        user_id = user_id_of(token)
        if token.jti is None or user_id is None:
            return True
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(self._keys.revoked_token(str(token.jti)))
            pipe.get(self._keys.session_generation(user_id))
            signed_out, generation = await pipe.execute()
        return bool(signed_out) or token.extras.get(GENERATION_CLAIM, 0) != int(generation or 0)


class SessionToken(Token):
    """A token whose signature this process has checked once in the last VERIFIED_TTL_S is not
    checked again (PyJWT's HMAC check is most of a token's cost); its expiry still is, every time."""

    _verified: ClassVar[TTLCache[tuple[str, str], dict[str, Any]]] = TTLCache(
        maxsize=IDENTITIES_KEPT, ttl=VERIFIED_TTL_S
    )

    @classmethod
    def decode_payload(
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        options: JWTDecodeOptions | None = None,
    ) -> Any:
        key = (secret, encoded_token)
        payload = cls._verified.get(key)
        if payload is None or payload.get("exp", 0) <= time.time():
            payload = super().decode_payload(encoded_token, secret, algorithms, issuer, audience, options)
            cls._verified[key] = payload
        return dict(payload)  # Token.decode reshapes the payload it is given


def user_id_of(token: Token) -> int | None:
    """The user id a token names; None when its subject is no id we issue (only a holder of the
    signing key could have made such a token, but it is still refused, not an error)."""
    sub = token.sub
    if not (sub.isascii() and sub.isdigit()) or not 1 <= int(sub) <= MAX_ROW_ID:
        return None
    return int(sub)


class Identities:
    """Who each user id is (email, role), remembered for IDENTITY_TTL_S in each process: every request
    needs it, while whatever ends a session (sign-out, a disabled account, a new password) is checked
    in Redis on every request regardless (`Revocations`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._known: TTLCache[int, CurrentUser] = TTLCache(maxsize=IDENTITIES_KEPT, ttl=IDENTITY_TTL_S)

    async def get(self, user_id: int) -> CurrentUser | None:
        """The user, if the account exists and is enabled."""
        known = self._known.get(user_id)
        if known is None:
            async with AsyncSession(self._engine) as session:
                user = await session.get(User, user_id)
            if user is None or user.disabled or user.id is None:
                return None
            known = self._known[user_id] = CurrentUser(user.id, user.email, user.role)
        return known


async def retrieve_user(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    user_id = user_id_of(token)
    if user_id is None:
        return None
    identities: Identities = connection.app.state.identities
    return await identities.get(user_id)


async def is_revoked(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    revocations: Revocations = connection.app.state.revocations
    return await revocations.is_revoked(token)


def build_auth(settings: Settings) -> JWTCookieAuth[CurrentUser, Token]:
    return JWTCookieAuth[CurrentUser, Token](
        token_secret=session_secret(settings),
        token_cls=SessionToken,
        retrieve_user_handler=retrieve_user,
        revoked_token_handler=is_revoked,
        exclude=PUBLIC_PATHS,
        key=SESSION_COOKIE,
        samesite="lax",
        default_token_expiration=timedelta(hours=settings.session_hours),
        description="`Authorization: Bearer <token>` with the token from POST /api/auth/login",
    )


async def _end_of_stack(scope: Scope, receive: Receive, send: Send) -> None:
    """The app behind Sessions' own copy of the middleware, which only checks tokens and never calls it."""
    raise NotImplementedError


class Sessions:
    """Issues session tokens (and their cookie), tells whether a request carries a valid one, revokes them."""

    def __init__(self, auth: JWTCookieAuth[CurrentUser, Token], revocations: Revocations) -> None:
        self._auth = auth
        self._revocations = revocations
        # The API's own middleware, configured as the app installs it: pages (excluded from the
        # middleware so they can redirect) accept exactly the tokens the API accepts.
        self._middleware = auth.authentication_middleware_class(app=_end_of_stack, **auth.middleware.kwargs)

    async def issue(self, user: User) -> str:
        assert user.id is not None
        generation = await self._revocations.generations.current(user.id)
        return self._auth.create_token(
            identifier=str(user.id),
            token_unique_jwt_id=uuid.uuid4().hex,
            token_extras={GENERATION_CLAIM: generation},
        )

    def cookie(self, token: str, *, secure: bool) -> Cookie:
        lifetime = int(self._auth.default_token_expiration.total_seconds())
        return Cookie(
            key=SESSION_COOKIE,
            value=f"Bearer {token}",
            max_age=lifetime,
            httponly=True,
            samesite="lax",
            secure=secure,
        )

    async def current(self, connection: ASGIConnection[Any, Any, Any, Any]) -> SignedIn | None:
        """The signed-in user and token, if the API would accept the request's session; else None."""
        try:
            result = await self._middleware.authenticate_request(connection)
        except NotAuthorizedException:
            return None
        return SignedIn(result.user, result.auth)

    async def revoke(self, token: Token) -> None:
        await self._revocations.revoke(token)


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def sign_in(
    db_session: AsyncSession,
    throttle: LoginThrottle,
    sessions: Sessions,
    email: str,
    password: str,
    address: str,
) -> str:
    """A new session token for these credentials; TooManyRequests while locked out, else Unauthorized.
    Credentials longer than any account can have are refused before they reach the throttle's keys."""
    if len(email) > users.MAX_EMAIL_LENGTH or len(password) > users.MAX_PASSWORD_LENGTH:
        raise Unauthorized(WRONG_CREDENTIALS)
    await throttle.check(email, address)
    user = await users.authenticate(db_session, email, password)
    if user is None:
        await throttle.failed(email, address)
        raise Unauthorized(WRONG_CREDENTIALS)
    await throttle.succeeded(email)
    return await sessions.issue(user)


def require_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard for /api/admin/*: signed-in users who are not admins get 403. A preflight (OPTIONS)
    carries no credentials, is not authenticated, and only learns the allowed methods."""
    if connection.scope.get("method") == HttpMethod.OPTIONS:
        return
    user = connection.user
    if not isinstance(user, CurrentUser):
        raise NotAuthorizedException("sign in first")
    if not user.is_admin:
        raise PermissionDeniedException("this needs an admin account")
