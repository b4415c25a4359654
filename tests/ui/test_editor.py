"""The post editor and scheduled publishing in Chromium, at desktop and phone width: a generated
post is edited with a live preview, saved, reloaded; then scheduled and published by the worker."""

import asyncio
import re
from datetime import datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from tests.ui.conftest import WIDTHS, Site, screenshot, sign_in, tab


async def generated_post(page: Page, site: Site) -> None:
    """Generate one post with the offline model and open it."""
    await sign_in(page, site)
    await expect(page.locator("#model")).to_have_value("offline")
    await page.locator("#count").fill("1")
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    await page.locator("#start").click()
    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".run-state")).to_have_text("completed")
    await run.locator("a.run-post-link").first.click()
    await expect(page).to_have_url(re.compile(r"/admin/blog/posts/[^/]+$"))


async def schedule(page: Page, ahead: timedelta) -> None:
    await page.get_by_label("Publish at").fill((datetime.now() + ahead).strftime("%Y-%m-%dT%H:%M:%S"))
    await page.get_by_role("button", name="Schedule", exact=True).click()
    await expect(page.locator("#schedule-line")).to_be_visible()
    await expect(page.locator("#scheduled-at")).not_to_be_empty()


@pytest.mark.parametrize("width", WIDTHS)
async def test_edit_preview_save_reload_then_schedule(browser: Browser, site: Site, width: str) -> None:
    async with tab(browser, width) as page:
        await generated_post(page, site)
        await page.get_by_role("link", name="Edit").click()
        await expect(page).to_have_url(re.compile(r"/edit$"))

        await page.get_by_label("Title").fill("An edited headline")
        await page.get_by_label("Tags").fill("noir, classics")
        await page.get_by_label("Body").fill("# Edited\n\nA **bold** claim.\n\n<script>alert(1)</script>")
        preview = page.locator("#preview")
        await expect(preview.locator("h1")).to_have_text("Edited")
        await expect(preview.locator("strong")).to_have_text("bold")
        await expect(preview.locator("script")).to_have_count(0)

        await page.get_by_label("Poster URL").fill("http://not-https.example/p.jpg")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("#error-posterUrl")).to_contain_text("Poster URL must be an https://")
        await expect(page.get_by_label("Poster URL")).to_be_focused()
        await page.get_by_label("Poster URL").fill("")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("#edit-message")).to_have_text("Saved.")
        await screenshot(page, f"editor-{width}")

        await page.reload()
        await expect(page.get_by_label("Title")).to_have_value("An edited headline")
        await expect(page.get_by_label("Tags")).to_have_value("noir, classics")
        await expect(page.locator("#preview strong")).to_have_text("bold")

        await page.get_by_role("link", name="Back to the post").click()
        await expect(page.locator("#edited")).to_be_visible()
        await expect(page.locator("h1#post-title")).to_have_text("An edited headline")
        await expect(page.locator("#post-facts .tag")).to_have_text(["noir", "classics"])
        await expect(page.locator("article#post-body h1")).to_have_text("Edited")
        # A schedule an hour ahead is cancelled; then one a few seconds ahead (local time, as the field takes it).
        await schedule(page, timedelta(hours=1))
        await page.get_by_role("button", name="Cancel schedule").click()
        await expect(page.locator("#schedule-line")).to_be_hidden()
        await schedule(page, timedelta(seconds=3))
        await expect(page.locator("#post-status")).to_have_text("draft")
        await screenshot(page, f"post-scheduled-{width}")
        for _ in range(60):
            await asyncio.sleep(0.5)
            await page.reload()
            if await page.locator("#post-status").text_content() == "published":
                break
        await expect(page.locator("#post-status")).to_have_text("published")
        await expect(page.locator("#schedule-line")).to_be_hidden()
