"""An author (a plain user) in Chromium, at desktop and phone width: their own menu, their own post
edited and saved, a 403 page with the menu on an admin page, AI settings messages in the labels'
words with focus on the field to fix, and signing out."""

import re

import pytest
from playwright.async_api import Browser, Page, expect

from blogqueue import db, users
from blogqueue.models import BlogPost
from blogqueue.providers import Provider
from blogqueue.registry import load_registry
from blogqueue.settings import Settings
from tests.ui.conftest import ADMIN, USER, WIDTHS, Site, screenshot, sign_in, tab

OPENAI_MODEL = next(
    m for m in load_registry().all() if m.provider is Provider.OPENAI and m.status == "active"
)


async def add_posts(settings: Settings) -> None:
    """A generated draft for the author and one for the admin, as a run's worker would save them."""
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            for index, (email, title) in enumerate(
                [(USER, "The Author's Film"), (ADMIN, "The Admin's Film")]
            ):
                account = await users.get_by_email(session, email)
                session.add(BlogPost(
                    slug=title.lower().replace("'", "").replace(" ", "-"), title=title, excerpt="", body="# Draft",
                    tmdb_id=4200 + index, media_type="movie", source="popular", model="offline",
                    provider="offline", user_id=account.id, job_id=f"job-{index}",
                ))  # fmt: skip
            await session.commit()
    finally:
        await engine.dispose()


async def menu(page: Page) -> list[str]:
    return await page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()


async def edit_own_post(page: Page) -> None:
    await expect(page.get_by_role("heading", name="My posts")).to_be_visible()
    await expect(page.locator("a.post-link")).to_have_text(["The Author's Film"])
    await page.get_by_role("link", name="The Author's Film").click()
    await page.get_by_role("link", name="Edit").click()
    await page.get_by_label("Title").fill("The Author's Film, revised")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#edit-message")).to_have_text("Saved.")
    await expect(page.locator("#edit-message")).to_be_focused()
    await page.reload()
    await expect(page.get_by_label("Title")).to_have_value("The Author's Film, revised")


async def settings_messages(page: Page) -> None:
    await page.get_by_role("link", name="AI settings").click()
    await page.get_by_label("OpenAI API key").fill("short")
    await page.get_by_role("button", name="Save").click()
    message = page.locator("#error-openaiApiKey")
    await expect(message).to_have_text("OpenAI API key must be 8-512 printable characters without spaces")
    key = page.get_by_label("OpenAI API key")
    await expect(key).to_be_focused()
    await expect(key).to_have_attribute("aria-invalid", "true")
    await expect(key).to_have_attribute("aria-describedby", "error-openaiApiKey")

    await key.fill("")
    await page.get_by_label("Preferred model").select_option(OPENAI_MODEL.id)
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#settings-message")).to_have_text("Settings saved.")
    await expect(page.locator("#settings-message")).to_be_focused()
    await expect(key).not_to_have_attribute("aria-invalid", "true")
    warning = page.locator("#key-warning")
    await expect(warning).to_have_text(
        f"Your preferred model, {OPENAI_MODEL.display_name}, needs a key for OpenAI: add one below."
    )
    await key.fill("sk-test-0123456789")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#openai-status")).to_contain_text("configured")
    await expect(warning).to_be_hidden()


@pytest.mark.parametrize("width", WIDTHS)
async def test_an_author_edits_their_post_is_kept_from_admin_pages_and_signs_out(
    browser: Browser, site: Site, width: str
) -> None:
    await add_posts(site.settings)
    async with tab(browser, width) as page:
        await sign_in(page, site, USER)
        await expect(page).to_have_url(re.compile(r"/admin/blog/posts$"))
        assert await menu(page) == ["My posts", "AI settings"]
        current = page.get_by_role("navigation", name="Main").locator('[aria-current="page"]')
        await expect(current).to_have_text("My posts")
        await edit_own_post(page)

        refused = await page.goto(f"{site.url}/admin/queue")
        assert refused is not None and refused.status == 403
        await expect(page.get_by_role("heading", name="Admins only")).to_be_visible()
        assert await menu(page) == ["My posts", "AI settings"]
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        await screenshot(page, f"author-403-{width}")

        await settings_messages(page)
        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(re.compile(r"/login$"))
        await page.goto(f"{site.url}/admin/blog/posts")
        await expect(page).to_have_url(re.compile(r"/login\?next=/admin/blog/posts$"))
