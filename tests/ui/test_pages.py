"""The admin pages in a real Chromium against the real app, Redis, database and worker."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.ui.conftest import USER, Site, screenshot, sign_in
from webapi.pages.markdown import render_markdown


async def test_sign_in_page_rejects_wrong_password_then_signs_in(page: Page, site: Site) -> None:
    await page.goto(site.url + "/")
    await expect(page).to_have_url(site.url + "/login")
    await page.get_by_label("Email").fill("admin@example.com")
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#login-error")).to_contain_text("Wrong email or password")
    await screenshot(page, "login")
    await page.get_by_label("Password").fill("a-good-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(site.url + "/admin/blog/auto-generate")


async def test_ai_settings_saves_a_key_masked_and_shows_field_errors(page: Page, site: Site) -> None:
    await sign_in(page, site, next_path="/admin/settings/ai")
    await expect(page.locator("#preferred-model optgroup[label=openai]")).to_have_count(1)
    await page.locator("#openai-key").fill("sk-bad key with spaces")
    await page.locator("#save-settings").click()
    await expect(page.locator("#error-openaiApiKey")).to_contain_text("without spaces")
    await expect(page.locator("#settings-message")).to_have_class(re.compile("error"))
    await expect(page.locator("#openai-status")).to_have_text("not configured")

    await page.locator("#openai-key").fill("sk-test-0123456789abcdefWXYZ")
    await page.locator("#save-settings").click()
    await expect(page.locator("#openai-status")).to_have_text("configured · …WXYZ")
    await expect(page.locator("#openai-key")).to_have_value("")
    await expect(page.locator("#error-openaiApiKey")).to_be_empty()
    await expect(page.locator("#settings-message")).to_have_text("Settings saved.")
    await screenshot(page, "ai-settings")

    await page.reload()  # what the server says now, not what the script remembered
    await expect(page.locator("#openai-status")).to_have_text("configured · …WXYZ")
    await page.locator("#remove-openai-key").click()
    await expect(page.locator("#openai-status")).to_have_text("not configured")


async def test_batch_run_streams_progress_and_logs_then_opens_the_post(page: Page, site: Site) -> None:
    await sign_in(page, site)
    await expect(page.locator("#model")).to_have_value("offline")
    await page.locator("#count").fill("3")
    await expect(page.locator("#interval")).to_be_hidden()
    await expect(page.locator("#estimate")).to_contain_text("3 post(s)")
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    await page.locator("#start").click()

    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".run-count")).to_have_text("3/3 written")
    await expect(run.locator(".run-track")).to_have_attribute("data-done", "3")
    await expect(run.locator(".run-track")).to_have_attribute("data-failed", "0")
    await expect(run.locator(".run-percent")).to_have_text("100 % finished")
    await expect(run.locator(".run-state")).to_have_text("completed")
    await expect(run.locator("table.run-posts a.run-post-link")).to_have_count(3)
    await expect(page.locator("#log")).to_contain_text(re.compile(r"\[run \d+\] .+"))
    await expect(page.locator("#recent-runs li[data-run-id]")).to_have_count(1)
    await screenshot(page, "auto-generate")

    await run.locator("a.run-post-link").first.click()
    await expect(page).to_have_url(re.compile(r"/admin/blog/posts/[^/]+$"))
    body = page.locator("article#post-body")
    await expect(body.locator("h1")).to_have_count(1)
    assert await body.locator("h2").count() >= 3
    await expect(body.locator("script")).to_have_count(0)
    await page.locator("#publish").click()
    await expect(page.locator("#post-status")).to_have_text("published")
    await screenshot(page, "post")

    await page.goto(site.url + "/admin/blog/posts?status=published")
    await expect(page.locator("table#posts a.post-link")).to_have_count(1)
    await page.goto(site.url + "/admin/blog/posts")
    await expect(page.locator("table#posts a.post-link")).to_have_count(3)
    await screenshot(page, "posts")
    await page.goto(site.url + "/admin/blog/posts?runId=999")
    await expect(page.locator("table#posts a.post-link")).to_have_count(0)

    await page.goto(site.url + "/admin/queue?state=completed")
    await expect(page.locator("#queue-counts dd[data-state=completed]")).not_to_have_text("0")
    await page.locator("a.job-link").first.click()
    await expect(page.locator("#job-state")).to_have_text("done")  # BullMQ's name only as its tooltip
    await expect(page.locator("#job-state")).to_have_attribute("title", "completed")
    await expect(page.locator("#job-data")).to_contain_text("userId")
    await screenshot(page, "job")
    await page.goto(site.url + "/admin/queue?state=completed")
    await screenshot(page, "queue")


async def test_continuous_run_is_stopped_from_the_page(page: Page, site: Site) -> None:
    await sign_in(page, site)
    await page.locator("#mode").select_option("continuous")
    await expect(page.locator("#interval")).to_be_visible()
    await page.locator("#interval").fill("1")
    await page.locator("#count").fill("1")
    await page.locator("#start").click()
    await expect(page.locator("#error-intervalMinutes")).not_to_be_empty()

    await page.locator("#interval").fill("5")
    await page.locator("#start").click()
    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".stop-run")).to_be_visible()
    await run.locator(".stop-run").click()
    await expect(run.locator(".run-state")).to_have_text(re.compile("cancelled|stopped"))
    await expect(run.locator(".stop-run")).to_be_hidden()
    await screenshot(page, "auto-generate-stopped")


async def test_users_are_refused_admin_pages_and_visitors_sent_to_sign_in(page: Page, site: Site) -> None:
    await page.goto(site.url + "/admin/queue?state=failed")
    await expect(page).to_have_url(site.url + "/login?next=/admin/queue%3Fstate%3Dfailed")

    await sign_in(page, site, email=USER)
    for path in ("/admin/blog/auto-generate", "/admin/queue", "/admin/queue/workers"):
        response = await page.goto(site.url + path)
        assert response is not None
        assert response.status == 403
        await expect(page.locator("#page-message")).to_contain_text("This page is for admins")
    await screenshot(page, "forbidden")


def test_markdown_from_a_model_cannot_run_script() -> None:
    html = render_markdown(
        "# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))"
    )
    assert "<h1>Title</h1>" in html
    assert "<script" not in html
    assert "<img" not in html
    assert 'href="javascript' not in html


async def test_no_page_breaks_the_content_security_policy_or_misses_a_file(page: Page, site: Site) -> None:
    blocked: list[str] = []
    missing: list[str] = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)
    await sign_in(page, site)
    for path in ("/admin/blog/auto-generate", "/admin/settings/ai", "/admin/blog/posts", "/admin/queue"):
        await page.goto(site.url + path)
        await page.wait_for_load_state("networkidle")
    assert blocked == []
    assert missing == []  # the favicon included
