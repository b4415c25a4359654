"""The queue page in a real Chromium: it follows the queue without a reload, asks before it
destroys, says what each action did; and the workers view lists the running worker."""

from __future__ import annotations

import re

from playwright.async_api import Dialog, Page, expect

from tests.ui.conftest import Site, screenshot, sign_in

BATCH = {"source": "popular", "mediaType": "movie", "count": 2, "model": "offline"}


async def _start_run_from_the_page(page: Page) -> None:
    status = await page.evaluate(
        """async (body) => (await bq.api("POST", "/api/admin/blog/auto-generate", body)).status""", BATCH
    )
    assert status == 202


async def test_the_queue_page_updates_by_itself_and_asks_before_clean(page: Page, site: Site) -> None:
    await sign_in(page, site, next_path="/admin/queue?state=completed")
    completed = page.locator("#queue-counts dd[data-state=completed]")
    await expect(completed).to_have_text("0")
    loaded_at = await page.evaluate("performance.timeOrigin")
    await _start_run_from_the_page(page)
    await expect(completed).to_have_text("3")  # the planning job and two posts, no reload
    await expect(page.locator("#jobs a.job-link")).to_have_count(3)
    assert await page.evaluate("performance.timeOrigin") == loaded_at  # the same document throughout

    await page.locator("#live-toggle").click()
    await expect(page.locator("body")).to_have_attribute("data-live", "paused")
    await page.locator("#live-toggle").click()
    await expect(page.locator("body")).to_have_attribute("data-live", "on")

    asked: list[str] = []

    async def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await (dialog.dismiss() if len(asked) == 1 else dialog.accept())

    page.on("dialog", answer)
    await page.locator("#clean-grace").fill("0")
    await page.locator("#clean").click()  # refused at the prompt: nothing removed
    await expect(page.locator("#clean-message")).to_be_empty()
    assert asked == [
        "Remove up to 1000 of the 3 completed jobs finished more than 0 minutes ago? This cannot be undone."
    ]
    await expect(completed).to_have_text("3")
    await page.locator("#clean").click()
    await expect(page.locator("#clean-message")).to_have_text("Removed 3 completed job(s).")
    await expect(completed).to_have_text("0")
    await expect(page.locator("#jobs a.job-link")).to_have_count(0)

    await page.locator("#clean-grace").fill("")
    await page.locator("#clean").click()
    await expect(page.locator("#error-graceMs")).not_to_be_empty()  # next to the field, in the clean form
    await expect(page.locator("#clean-message")).to_have_class(re.compile("error"))
    await expect(page.locator("#queue-message")).to_be_empty()
    await screenshot(page, "queue-live")
