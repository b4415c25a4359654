"""The queue page in a real Chromium: it follows the queue without a reload, asks before it
destroys, says what each action did; and the workers view lists the running worker."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from tests.ui.conftest import WIDTHS, Site, screenshot, sign_in, tab

BATCH = {"source": "popular", "mediaType": "movie", "count": 2, "model": "offline"}


async def _start_run_from_the_page(page: Page) -> None:
    status = await page.evaluate(
        """async (body) => (await bq.api("POST", "/api/admin/blog/auto-generate", body)).status""", BATCH
    )
    assert status == 202


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_queue_page_updates_by_itself_and_asks_before_clean(
    browser: Browser, site: Site, width: str
) -> None:
    async with tab(browser, width) as page:
        await sign_in(page, site, next_path="/admin/queue?state=completed")
        completed = page.locator("#queue-counts dd[data-state=completed]")
        await expect(completed).to_have_text("0")
        loaded_at = await page.evaluate("performance.timeOrigin")
        await _start_run_from_the_page(page)
        await expect(completed).to_have_text("3")  # the planning job and two posts, no reload
        day = page.locator("#throughput-day")
        await expect(day.locator("figcaption")).to_contain_text("Last 24 hours: 3 completed, 0 failed")
        await expect(day.locator("rect.bar-done[data-hour='23']")).to_have_attribute("data-count", "3")
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
        await expect(page.locator("#error-graceMs")).to_have_text("Enter how many minutes ago, 0 or more.")
        await expect(page.locator("#clean-message")).to_have_class(re.compile("error"))
        await expect(page.locator("#queue-message")).to_be_empty()
        await screenshot(page, f"queue-live-{width}")


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_workers_view_lists_the_running_worker_and_its_job(
    browser: Browser, site: Site, width: str
) -> None:
    async with tab(browser, width) as page:
        await sign_in(page, site, next_path="/admin/queue")
        await page.get_by_role("link", name="Workers").click()
        await expect(page).to_have_url(site.url + "/admin/queue/workers")
        worker = page.locator("#workers tbody tr[data-worker]")
        await expect(worker).to_have_count(1)
        await page.reload()  # the first heartbeat is at start; a later load shows it too
        await expect(worker.locator(".worker-concurrency")).to_have_text(
            str(site.settings.worker_concurrency)
        )
        await expect(worker.locator(".worker-host")).to_contain_text(re.compile(r".+ / \d+"))
        await expect(worker.locator(".worker-heartbeat")).not_to_be_empty()
        await expect(worker.locator(".worker-jobs")).to_have_text("idle")
        await screenshot(page, f"workers-{width}")
        response = await page.request.get(site.url + "/api/admin/queue/workers")
        (listed,) = await response.json()
        assert listed["heartbeat"]["concurrency"] == site.settings.worker_concurrency
        assert listed["heartbeat"]["jobs"] == []
        assert listed["addr"].startswith("127.0.0.1:")


async def test_jobs_read_as_titles_users_and_times_with_links_to_runs_and_posts(
    page: Page, site: Site
) -> None:
    await sign_in(page, site, next_path="/admin/queue?state=completed")
    await _start_run_from_the_page(page)
    rows = page.locator("#jobs tbody tr[data-job-id]")
    await expect(rows).to_have_count(3)
    await expect(page.locator("#jobs a.post-link")).to_have_count(2)
    post_row = rows.filter(has=page.locator("a.post-link")).first
    await expect(post_row.locator("a.job-link")).not_to_contain_text("movie ")  # the title, not the TMDb id
    await expect(post_row.locator(".job-user")).to_have_text("admin@example.com")
    await expect(post_row.locator("a.run-link")).to_have_text(re.compile(r"run \d+"))
    await expect(post_row.locator(".job-took")).to_have_text(re.compile(r"^\d+\.\d s$"))
    job_id = await post_row.get_attribute("data-job-id")
    title = (await post_row.locator("a.job-link").text_content() or "").strip()
    await screenshot(page, "queue-rows")

    await page.locator("#find-job-id").fill(job_id or "")
    await page.locator("#find-job button").click()
    await expect(page.locator("h1")).to_contain_text(title)
    await expect(page.locator("#job-user")).to_have_text("admin@example.com")
    await expect(page.locator("#job-started")).not_to_be_empty()
    await expect(page.locator("#job-took")).to_have_text(re.compile(r"^\d+\.\d s$"))
    await page.locator("#job-post").click()
    await expect(page).to_have_url(re.compile(r"/admin/blog/posts/[^/]+$"))
    await page.go_back()
    await page.locator("#job-run").click()
    await expect(page).to_have_url(re.compile(r"/admin/blog/runs/\d+$"))
    await expect(page.locator(f'#run-titles tr[data-job-id="{job_id}"] a.post-link')).to_have_text(title)

    await page.goto(site.url + "/admin/queue/find?id=no-such-job")
    await expect(page.locator("#page-message")).to_contain_text("does not exist")
