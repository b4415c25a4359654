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


async def test_the_workers_view_lists_the_running_worker_and_its_job(page: Page, site: Site) -> None:
    await sign_in(page, site, next_path="/admin/queue")
    await page.get_by_role("link", name="Workers").click()
    await expect(page).to_have_url(site.url + "/admin/queue/workers")
    worker = page.locator("#workers tbody tr[data-worker]")
    await expect(worker).to_have_count(1)
    await page.reload()  # the first heartbeat is at start; a later load shows it too
    await expect(worker.locator(".worker-concurrency")).to_have_text(str(site.settings.worker_concurrency))
    await expect(worker.locator(".worker-host")).to_contain_text(re.compile(r".+ / \d+"))
    await expect(worker.locator(".worker-heartbeat")).not_to_be_empty()
    await expect(worker.locator(".worker-jobs")).to_have_text("idle")
    await screenshot(page, "workers")
    response = await page.request.get(site.url + "/api/admin/queue/workers")
    (listed,) = await response.json()
    assert listed["heartbeat"]["concurrency"] == site.settings.worker_concurrency
    assert listed["heartbeat"]["jobs"] == []
    assert listed["address"].startswith("127.0.0.1:")
