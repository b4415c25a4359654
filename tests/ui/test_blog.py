"""The public blog in a real Chromium, signed out, at desktop and phone widths."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, Page, expect

from blogqueue import db, users
from blogqueue.models import BlogPost
from blogqueue.settings import Settings
from tests.ui.conftest import USER, WIDTHS, Site, screenshot, tab
from tests.ui.test_editor import generated_post
from tests.webapi.test_blog import ATOM, parse_xml

POSTER = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='92' height='138'/%3E"


async def _seed(settings: Settings) -> None:
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            author = (await users.get_by_email(session, USER)).id
            for i, (slug, status) in enumerate(
                [("the-long-night-2024", "published"), ("unfinished", "draft")]
            ):
                session.add(BlogPost(
                    slug=slug, title=f"The Long Night {i} — a very long headline that must wrap on a phone",
                    excerpt="A slow, patient thriller.", body="## Why watch\n\nBecause **it earns** its ending.",
                    tags=["thriller", "slow cinema"], tmdb_id=42 + i, media_type="movie", poster_url=POSTER,
                    source="popular", model="offline", provider="offline", user_id=author, job_id=f"job-{i}",
                    status=status, published_at=datetime(2025, 3, 9, tzinfo=UTC) if status == "published" else None,
                ))  # fmt: skip
            await session.commit()
    finally:
        await engine.dispose()


@pytest.mark.parametrize("width", WIDTHS)
async def test_a_visitor_reads_the_blog_and_a_post_but_never_a_draft(
    browser: Browser, site: Site, width: str
) -> None:
    await _seed(site.settings)
    async with tab(browser, width) as page:
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        await page.goto(site.url + "/blog")
        items = page.locator("#blog-list > li")
        await expect(items).to_have_count(1)
        await expect(items.locator("img.thumb")).to_be_visible()
        await expect(items).to_contain_text("A slow, patient thriller.")
        await screenshot(page, f"blog-{WIDTHS[width]['width']}")

        await items.get_by_role("link", name="The Long Night 0").click()
        await expect(page).to_have_url(site.url + "/blog/the-long-night-2024")
        await expect(page.locator("h1#post-title")).to_contain_text("The Long Night 0")
        await expect(page.locator("#post-body strong")).to_have_text("it earns")
        await expect(page.locator("#post time")).to_have_text("9 March 2025")
        await expect(page.locator("#facts")).to_contain_text("Movie")
        fits = await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, "the post page scrolls sideways"
        await screenshot(page, f"blog-post-{WIDTHS[width]['width']}")

        await page.get_by_role("link", name="slow cinema").first.click()
        await expect(page.locator("h1")).to_contain_text("slow cinema")
        await expect(page.locator("#blog-list > li")).to_have_count(1)

        response = await page.goto(site.url + "/blog/unfinished")
        assert response is not None and response.status == 404
        await expect(page.locator("#page-message")).to_contain_text("does not exist")
        assert blocked == []


@pytest.mark.parametrize("width", WIDTHS)
async def test_an_edited_generated_post_is_404_as_a_draft_then_public_once_published(
    browser: Browser, site: Site, width: str
) -> None:
    async with tab(browser, width) as page:
        await _edit_then_publish(page, site)


async def _edit_then_publish(page: Page, site: Site) -> None:
    await generated_post(page, site)
    slug = page.url.rsplit("/", 1)[1]
    await page.get_by_role("link", name="Edit").click()
    await page.get_by_label("Title").fill("A headline for the public")
    await page.get_by_label("Body").fill("## Verdict\n\nWorth **every** minute.")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#edit-message")).to_have_text("Saved.")

    visitor = await page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        public = await visitor.new_page()
        response = await public.goto(f"{site.url}/blog/{slug}")
        assert response is not None and response.status == 404

        await page.goto(f"{site.url}/admin/blog/posts/{slug}")
        await expect(page.locator("#view-public")).to_be_hidden()
        await page.locator("#publish").click()
        await expect(page.locator("#post-status")).to_have_text("published")
        await expect(page.locator("#view-public")).to_have_attribute("href", f"/blog/{slug}")
        await page.goto(f"{site.url}/admin/blog/posts")
        row = page.locator("#posts tbody tr").first
        await expect(row.locator(".post-link")).to_have_text("A headline for the public")
        await expect(row.locator(".excerpt")).not_to_be_empty()

        await public.goto(f"{site.url}/blog/{slug}")  # a 404 is never kept, so it shows at once
        await expect(public.locator("h1#post-title")).to_have_text("A headline for the public")
        await expect(public.locator("#post-body strong")).to_have_text("every")
        await expect(public.locator("#facts")).to_contain_text("Starring")  # the sample title's facts
        feed = await public.request.get(f"{site.url}/blog/feed.xml")
        entries = parse_xml(await feed.body()).findall(f"{ATOM}entry")
        assert [entry.findtext(f"{ATOM}title") for entry in entries] == ["A headline for the public"]
        await public.goto(f"{site.url}/blog")
        await expect(public.locator("#blog-list > li")).to_have_count(1)
    finally:
        await visitor.close()
