"""An app on a migrated database with an admin and two users, and signed-in clients for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from litestar.testing import AsyncTestClient

from blogqueue import db, users
from blogqueue.models import Role
from blogqueue.settings import Settings
from tests.conftest import ApiClient
from webapi.app import create_app

PASSWORD = "a-good-password"
ACCOUNTS = {"admin": ("admin@example.com", Role.ADMIN), "alice": ("alice@example.com", Role.USER),
            "bob": ("bob@example.com", Role.USER)}  # fmt: skip


async def create_accounts(settings: Settings) -> None:
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            for email, role in ACCOUNTS.values():
                await users.create_user(session, email, PASSWORD, role)
    finally:
        await engine.dispose()


async def sign_in(client: AsyncTestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for the account (the response also sets the session cookie)."""
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.cookies.clear()  # tests choose explicitly between cookie and bearer
    return {"Authorization": f"Bearer {response.json()['token']}"}


@dataclass
class Site:
    client: AsyncTestClient
    settings: Settings
    headers: dict[str, dict[str, str]]


@asynccontextmanager
async def open_site(settings: Settings) -> AsyncIterator[Site]:
    await create_accounts(settings)
    async with ApiClient(create_app(settings)) as client:
        headers = {name: await sign_in(client, email) for name, (email, _) in ACCOUNTS.items()}
        yield Site(client, settings, headers)


@pytest.fixture
async def site(db_settings: Settings) -> AsyncIterator[Site]:
    async with open_site(db_settings) as opened:
        yield opened
