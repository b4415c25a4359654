"""Run states and released titles in a real Chromium: a failed run says so before and after a
reload, at desktop and phone widths, and a stopped run's titles are written by the next run."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from blogfakes.ai_server import FakeAI, start_fake_ai
from blogqueue import ai_settings, db, users
from blogqueue.ai_settings import AiSettingsUpdate
from blogqueue.crypto import KeyCipher
from blogqueue.registry import load_registry
from blogqueue.settings import Settings
from tests.conftest import serve_app
from tests.ui.conftest import ADMIN, WAIT_MS, WIDTHS, Site, _create_accounts, screenshot, sign_in

MODEL = "gpt-6.2-sol"
PHONE, DESKTOP = WIDTHS["phone"], WIDTHS["desktop"]


@pytest.fixture(scope="module")
def slow_ai() -> Iterator[FakeAI]:
    with start_fake_ai(latency_s=0.5) as fake:  # a post takes seconds: there is time to stop a run
        yield fake


async def _save_openai_key(settings: Settings, key: str) -> None:
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            admin = await users.get_by_email(session, ADMIN)
            cipher = KeyCipher.from_settings(settings)
            await ai_settings.update_ai_settings(
                session, cipher, load_registry(), admin, AiSettingsUpdate(openai_api_key=key)
            )
    finally:
        await engine.dispose()


@pytest.fixture
async def ai_site(sqlite_settings: Settings, slow_ai: FakeAI, start_worker: Any) -> AsyncIterator[Site]:
    """The app and one worker (one job at a time) with OpenAI's SDK pointed at the fake server."""
    settings = sqlite_settings.model_copy(
        update={"openai_base_url": f"{slow_ai.url}/v1", "worker_concurrency": 1, "provider_timeout_s": 10.0}
    )
    await _create_accounts(settings)
    start_worker(settings)
    with serve_app(settings) as url:
        yield Site(url, settings)


async def _tab(browser: Browser, viewport: dict[str, int]) -> Page:
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    return await context.new_page()


async def _start(page: Page, count: int, year: str | None = None) -> None:
    await page.locator("#model").select_option(MODEL)
    await page.locator("#count").fill(str(count))
    if year:
        if await page.locator("#advanced").get_attribute("open") is None:
            await page.locator("#advanced summary").click()
        await page.locator("#year-from").fill(year)
        await page.locator("#year-to").fill(year)
    await page.locator("#start").click()
    await expect(page.locator("#start-message")).to_contain_text("started")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_run_that_writes_nothing_shows_failed_with_reasons_before_and_after_reload(
    browser: Browser, ai_site: Site, viewport: dict[str, int]
) -> None:
    await _save_openai_key(ai_site.settings, "sk-proj-x-quota-1")  # every call hits the billing wall
    page = await _tab(browser, viewport)
    await sign_in(page, ai_site)
    await _start(page, 2)
    for moment in ("live", "reloaded"):
        run = page.locator(".run[data-run-id]").first
        await expect(run.locator(".run-state")).to_have_text("failed")
        await expect(run.locator(".run-count")).to_have_text("0/2 written · 2 failed · 2 back to the pool")
        await expect(run.locator(".run-track")).to_have_attribute("data-failed", "2")
        await expect(run.locator(".run-track")).to_have_attribute("data-done", "0")
        await expect(run.locator(".run-message")).to_contain_text(
            re.compile("0 of 2 posts written, 2 failed: .*quota")
        )
        await expect(run.locator("table.run-posts tbody tr")).to_have_count(2)
        for row in await run.locator("table.run-posts tbody tr").all():
            await expect(row).to_contain_text(re.compile("failed: .*quota"))
        recent = page.locator("#recent-runs li[data-run-id]").first
        await expect(recent.locator(".badge")).to_have_text("failed")
        await expect(recent).not_to_contain_text("completed")
        done_width = await run.locator(".run-done").evaluate("el => el.getBoundingClientRect().width")
        assert done_width == 0  # nothing of the bar is green
        await screenshot(page, f"run-failed-{moment}-{viewport['width']}")
        await page.reload()
    await page.context.close()


async def test_a_stopped_runs_titles_are_written_by_the_next_run(browser: Browser, ai_site: Site) -> None:
    await _save_openai_key(ai_site.settings, "sk-proj-GOODKEY-1234567890")
    page = await _tab(browser, DESKTOP)
    await sign_in(page, ai_site)
    await _start(page, 4, year="1994")  # the sample catalog has 3 movies from 1994: all claimed below
    first = page.locator(".run[data-run-id]").first
    await expect(first.locator(".run-state")).to_have_text("running")
    await first.locator(".stop-run").click()
    await expect(first.locator(".run-state")).to_have_text("cancelled")
    await expect(first.locator(".run-message")).to_contain_text(
        re.compile(r"\d unwritten titles? back to the pool")
    )
    first_id = await first.get_attribute("data-run-id")

    await _start(page, 2, year="1994")  # without the stop giving titles back: "no new titles matched"
    second = page.locator(".run[data-run-id]").first
    await expect(second).not_to_have_attribute("data-run-id", first_id or "")
    await expect(second.locator(".run-state")).to_have_text("completed", timeout=60_000)
    await expect(second.locator(".run-count")).to_have_text("2/2 written")
    await expect(second.locator("a.run-post-link")).to_have_count(2)
    await screenshot(page, "run-stopped-then-reused")
    await page.reload()
    await expect(page.locator(f'#recent-runs li[data-run-id="{first_id}"]')).to_contain_text(
        "back to the pool"
    )
    await page.context.close()


async def test_a_reload_mid_run_refills_the_log_and_the_current_post(browser: Browser, ai_site: Site) -> None:
    await _save_openai_key(ai_site.settings, "sk-proj-GOODKEY-1234567890")
    page = await _tab(browser, PHONE)
    await sign_in(page, ai_site)
    await _start(page, 8)  # about a second each: still running after the reload
    run = page.locator(".run[data-run-id]").first
    await expect(page.locator("#log")).to_contain_text("writing about")
    await expect(run.locator(".current-post")).to_contain_text(
        re.compile(r"Current post: Fake|Current post: .+ — ")
    )
    await page.reload()
    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".run-state")).to_have_text("running")
    log = page.locator("#log")
    await expect(log).to_contain_text(re.compile(r"\d?\d:\d\d:\d\d( [AP]M)? \[run \d+\] candidate: "))
    await expect(log).to_contain_text("writing about")
    await expect(run.locator(".current-post")).to_contain_text(re.compile(r"^Current post: \S.+ — "))
    await expect(run.locator(".current-post")).not_to_contain_text("planned")
    await screenshot(page, "run-reloaded-mid-run-390")
    await expect(run.locator(".run-state")).to_have_text("completed", timeout=60_000)
    text = await log.text_content() or ""
    assert text.count("planned 8 of 8 posts") == 1  # refilled lines are not repeated by live ones
    await page.context.close()


@pytest.fixture
async def limited_site(sqlite_settings: Settings, start_worker: Any) -> AsyncIterator[Site]:
    """A worker under a tight rate limit: two jobs a minute (the planning job and one post)."""
    settings = sqlite_settings.model_copy(update={"limiter_max": 2, "limiter_duration_ms": 60_000})
    await _create_accounts(settings)
    start_worker(settings)
    with serve_app(settings) as url:
        yield Site(url, settings)


async def test_a_run_held_by_the_rate_limit_says_so_with_the_time_left(
    browser: Browser, limited_site: Site
) -> None:
    page = await _tab(browser, DESKTOP)
    await sign_in(page, limited_site)
    await page.locator("#count").fill("3")
    await page.locator("#start").click()
    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".run-count")).to_have_text("1/3 written")
    waits = run.locator(".run-waits")
    await expect(waits).to_have_text(
        re.compile(r"^Waiting: rate limit \(2 jobs per 60 s\): next slot in \d+ s$")
    )
    first = int(re.findall(r"in (\d+) s", await waits.text_content() or "")[0])
    assert 1 <= first <= 60
    await expect(waits).not_to_have_text(
        f"Waiting: rate limit (2 jobs per 60 s): next slot in {first} s"
    )  # counts down
    await expect(run.locator("table.run-posts tbody tr")).to_have_count(1)
    await screenshot(page, "run-rate-limited")

    await page.goto(limited_site.url + "/admin/queue?state=prioritized")
    await expect(page.locator("#hold-ups li[data-kind=rate-limit]")).to_contain_text(
        re.compile(r"next slot in \d+ s")
    )
    await expect(page.locator(".tabs a[data-state=prioritized]")).to_have_text(
        "queued (takes turns with other users)"
    )
    await expect(page.locator("#queue-counts dt[title=delayed]")).to_have_text("scheduled for later")
    await screenshot(page, "queue-rate-limited")
    await page.context.close()


async def test_retry_failed_on_the_run_page_writes_the_missing_posts(browser: Browser, ai_site: Site) -> None:
    await _save_openai_key(ai_site.settings, "sk-proj-x-quota-1")
    page = await _tab(browser, DESKTOP)
    await sign_in(page, ai_site)
    await _start(page, 2)
    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".run-state")).to_have_text("failed")
    await run.locator("a.run-link").click()
    await expect(page).to_have_url(re.compile(r"/admin/blog/runs/\d+$"))
    await expect(page.locator("#run-state")).to_have_text("failed")
    titles = page.locator("#run-titles tbody tr")
    await expect(titles).to_have_count(2)
    for row in await titles.all():
        await expect(row).to_have_attribute("data-state", "failed")
        await expect(row.locator(".reason")).to_contain_text("quota")
        await expect(row.locator("a.job-link")).to_have_attribute(
            "href", re.compile(r"^/admin/queue/jobs/blog-gen-")
        )
    await expect(page.locator("#run-timeline")).to_contain_text("giving up")
    await screenshot(page, "run-page-failed")

    await _save_openai_key(ai_site.settings, "sk-proj-GOODKEY-1234567890")  # the billing fixed
    await page.locator("#retry-failed").click()
    await expect(page).to_have_url(re.compile(r"/admin/blog/auto-generate"))
    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".run-state")).to_have_text("completed", timeout=60_000)
    await expect(run.locator(".run-count")).to_have_text("2/2 written")
    await run.locator("a.run-link").click()
    await expect(page.locator("#run-state")).to_have_text("completed")
    await expect(page.locator("#run-titles a.post-link")).to_have_count(2)
    await expect(page.locator("#retry-failed")).to_have_count(0)
    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    await page.reload()
    await expect(page.locator("#run-titles a.post-link")).to_have_count(2)
    await screenshot(page, "run-page-retried-390")
    await page.context.close()


async def test_all_failed_jobs_are_retried_or_removed_at_once_from_the_queue_page(
    browser: Browser, ai_site: Site
) -> None:
    await _save_openai_key(ai_site.settings, "sk-proj-x-quota-1")
    page = await _tab(browser, DESKTOP)
    await sign_in(page, ai_site)
    await _start(page, 2)
    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".run-state")).to_have_text("failed")
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await page.goto(ai_site.url + "/admin/queue?state=failed")
    await expect(page.locator("#jobs tbody tr[data-job-id]")).to_have_count(2)
    await _save_openai_key(ai_site.settings, "sk-proj-GOODKEY-1234567890")
    await page.locator("#retry-all-failed").click()
    await expect(page.locator("#queue-message")).to_contain_text(
        re.compile(r"Queued 2 job\(s\) again \(runs \d+\)")
    )
    assert asked[0].startswith("Queue all 2 failed jobs again?")
    await expect(page.locator("#queue-counts dd[data-state=failed]")).to_have_text("0", timeout=60_000)
    await expect(page.locator("#queue-counts dd[data-state=completed]")).to_have_text("3", timeout=60_000)
    await page.goto(ai_site.url + "/admin/blog/auto-generate")
    await expect(page.locator(".run[data-run-id]").first.locator(".run-count")).to_have_text("2/2 written")

    await _save_openai_key(ai_site.settings, "sk-proj-x-quota-1")
    await _start(page, 1)
    await expect(page.locator(".run[data-run-id]").first.locator(".run-state")).to_have_text("failed")
    await page.goto(ai_site.url + "/admin/queue?state=failed")
    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    await expect(page.locator("#jobs tbody tr[data-job-id]")).to_have_count(1)
    await page.locator("#remove-all-failed").click()
    await expect(page.locator("#queue-message")).to_have_text("Removed 1 failed job(s).")
    assert asked[1] == "Remove all 1 failed jobs with their logs? This cannot be undone."
    await expect(page.locator("#queue-counts dd[data-state=failed]")).to_have_text("0")
    await page.reload()
    await expect(page.locator("#jobs tbody tr[data-job-id]")).to_have_count(0)
    await screenshot(page, "queue-failed-removed-390")
    await page.context.close()


async def test_a_continuous_runs_schedule_is_changed_paused_and_resumed_on_its_page(
    page: Page, site: Site
) -> None:
    await sign_in(page, site)
    await page.locator("#mode").select_option("continuous")
    await page.locator("#interval").fill("60")
    await page.locator("#count").fill("1")
    await page.locator("#start").click()
    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".run-state")).to_have_text("running")
    await run.locator("a.run-link").click()
    await expect(page.locator("#run-detail")).to_contain_text("continuous every 60 min")

    await page.locator("#schedule-interval").fill("2")
    await page.locator("#save-schedule").click()
    await expect(page.locator("#error-intervalMinutes")).to_contain_text("Every (minutes) must be from 5")
    await page.locator("#schedule-interval").fill("30")
    await page.locator("#save-schedule").click()
    await expect(page.locator("#schedule-message")).to_have_text("Schedule saved.")
    await expect(page.locator("#run-detail")).to_contain_text("continuous every 30 min")

    await page.locator("#pause-run").click()
    await expect(page.locator("#run-state")).to_have_text("paused")
    await expect(page.locator("#run-detail")).not_to_contain_text("next tick")
    await page.locator("#resume-run").click()
    await expect(page.locator("#run-state")).to_have_text("running")
    await expect(page.locator("#schedule-message")).to_contain_text("Resumed")
    await screenshot(page, "run-page-continuous")
