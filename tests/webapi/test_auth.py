import time
from argparse import Namespace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.exceptions import NotAuthorizedException
from litestar.testing import AsyncTestClient

from blogops.manage import users_command
from blogqueue import db, users
from blogqueue.settings import Settings
from tests.webapi.conftest import PASSWORD, Site, create_accounts, sign_in
from webapi.app import create_app
from webapi.auth import SESSION_COOKIE, SessionToken


async def test_login_returns_a_token_and_sets_an_http_only_cookie(site: Site) -> None:
    response = await site.client.post(
        "/api/auth/login", json={"email": "ALICE@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = await site.client.get("/api/auth/me")  # via the cookie alone
    assert me.json() == {"id": me.json()["id"], "email": "alice@example.com", "role": "user"}
    site.client.cookies.clear()
    bearer = await site.client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {response.json()['token']}"}
    )
    assert bearer.json()["email"] == "alice@example.com"


async def test_logout_revokes_the_token(site: Site) -> None:
    headers = site.headers["bob"]
    assert (await site.client.post("/api/auth/logout", headers=headers)).status_code == 200
    response = await site.client.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    assert (await site.client.get("/api/auth/me", headers=site.headers["alice"])).status_code == 200


async def test_wrong_credentials_are_401_and_say_nothing_specific(site: Site) -> None:
    for body in ({"email": "alice@example.com", "password": "wrong-password"},
                 {"email": "nobody@example.com", "password": PASSWORD}):  # fmt: skip
        response = await site.client.post("/api/auth/login", json=body)
        assert response.status_code == 401
        assert response.json()["error"] == "wrong email or password, or the account is disabled"


async def test_malformed_login_bodies_are_422(site: Site) -> None:
    for body in ({}, {"email": "a@b.co"}, {"email": 1, "password": 2}, []):
        response = await site.client.post("/api/auth/login", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]


async def test_failed_logins_are_throttled_even_for_the_right_password(site: Site) -> None:
    body = {"email": "alice@example.com", "password": "wrong-password"}
    for _ in range(site.settings.login_max_failures):
        assert (await site.client.post("/api/auth/login", json=body)).status_code == 401
    blocked = await site.client.post("/api/auth/login", json={**body, "password": PASSWORD})
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= site.settings.login_lockout_s
    assert "too many failed sign-ins" in blocked.json()["error"]
    other = await site.client.post("/api/auth/login", json={"email": "bob@example.com", "password": PASSWORD})
    assert other.status_code == 200


async def test_a_disabled_account_is_refused_when_the_api_looks_it_up(site: Site) -> None:
    """Disabled in the database alone (not through `blogqueue users disable`, which ends its sessions
    in Redis at once): refused as soon as the API looks the account up again."""
    engine = db.create_engine(site.settings)
    async with db.session_factory(engine)() as session:
        await users.set_disabled(session, "alice@example.com", True)
    await engine.dispose()
    assert (await site.client.get("/api/auth/me", headers=site.headers["alice"])).status_code == 401


async def test_a_token_signed_with_another_secret_is_refused(sqlite_settings: Settings) -> None:
    await create_accounts(sqlite_settings)
    other: Any = Settings(
        _env_file=None, **{**sqlite_settings.model_dump(), "secret_key": "another-secret-" * 4}
    )
    async with AsyncTestClient(create_app(other)) as client:
        response = await client.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        )
        forged = {"Authorization": f"Bearer {response.json()['token']}"}
    async with AsyncTestClient(create_app(sqlite_settings)) as client:
        assert (await client.get("/api/auth/me", headers=forged)).status_code == 401


async def test_a_password_change_or_disabling_signs_the_user_out_everywhere(site: Site) -> None:
    old = site.headers["alice"]
    await users_command(site.settings, Namespace(action="set-password", email="alice@example.com",
                                                 password="a-new-password"))  # fmt: skip
    refused = await site.client.get("/api/auth/me", headers=old)
    assert refused.status_code == 401 and refused.json()["error"]
    assert (await site.client.get("/api/auth/me", headers=site.headers["bob"])).status_code == 200
    new = await sign_in(site.client, "alice@example.com", "a-new-password")
    assert (await site.client.get("/api/auth/me", headers=new)).status_code == 200

    await users_command(site.settings, Namespace(action="disable", email="alice@example.com", password=None))
    await users_command(site.settings, Namespace(action="enable", email="alice@example.com", password=None))
    assert (await site.client.get("/api/auth/me", headers=new)).status_code == 401  # not back when re-enabled
    again = await sign_in(site.client, "alice@example.com", "a-new-password")
    assert (await site.client.get("/api/auth/me", headers=again)).status_code == 200


def test_a_token_checked_once_is_still_refused_once_expired_and_never_under_another_key() -> None:
    secret = "s" * 32
    token = SessionToken(sub="1", exp=datetime.now(UTC) + timedelta(seconds=1), jti="j").encode(
        secret, "HS256"
    )
    assert SessionToken.decode(token, secret, "HS256").sub == "1"
    assert SessionToken.decode(token, secret, "HS256").sub == "1"  # from memory
    with pytest.raises(NotAuthorizedException):
        SessionToken.decode(token, "another-secret-of-32-characters!!", "HS256")
    time.sleep(1.1)
    with pytest.raises(NotAuthorizedException):
        SessionToken.decode(token, secret, "HS256")
