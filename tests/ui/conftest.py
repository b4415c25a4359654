"""Browser fixtures: the real app over HTTP, a real worker, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from blogqueue import db, users
from blogqueue.models import Role
from blogqueue.settings import Settings
from tests.conftest import REPO, serve_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
WAIT_MS = 20_000
PASSWORD = "a-good-password"
ADMIN = "admin@example.com"
USER = "user@example.com"

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

expect.set_options(timeout=WAIT_MS)


@dataclass
class Site:
    url: str
    settings: Settings


async def _create_accounts(settings: Settings) -> None:
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            await users.create_user(session, ADMIN, PASSWORD, Role.ADMIN)
            await users.create_user(session, USER, PASSWORD, Role.USER)
    finally:
        await engine.dispose()


@pytest.fixture
async def site(sqlite_settings: Settings, start_worker: Any) -> AsyncIterator[Site]:
    """The app on a real port, with an admin, a user and one worker on this loop."""
    await _create_accounts(sqlite_settings)
    start_worker(sqlite_settings)
    with serve_app(sqlite_settings) as url:
        yield Site(url, sqlite_settings)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: ./scripts/test installs Debian's chromium")
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@contextlib.asynccontextmanager
async def tab(browser: Browser, width: str = "desktop") -> AsyncIterator[Page]:
    """A page in a context of its own at one of WIDTHS, closed before the server stops: an open
    event stream would hold its shutdown up."""
    context = await browser.new_context(viewport=WIDTHS[width])  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
async def page(browser: Browser, site: Site) -> AsyncIterator[Page]:
    async with tab(browser) as opened:
        yield opened


async def sign_in(page: Page, site: Site, email: str = ADMIN, next_path: str = "") -> None:
    await page.goto(f"{site.url}/login" + (f"?next={next_path}" if next_path else ""))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/login" not in url)


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
