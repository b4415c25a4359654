"""Every page in a real Chromium at desktop and phone widths: axe-core finds no serious or critical
violation; on a phone nothing scrolls sideways, tables read as cards and targets are finger-sized;
keyboard users get a skip link and a focus ring they can see; signed-in pages are never stored."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.ui.conftest import ADMIN, USER, WIDTHS, Site, screenshot, sign_in, tab

PHONE_MAX = 640  # site.css switches to the phone layout below this width
FAILING_IMPACTS = {"serious", "critical"}
AXE = Axe()


@dataclass(frozen=True)
class Scan:
    path: str  # may name {run}, {slug}, {job} and {tag}: those of the post generated first
    account: str | None = ADMIN  # None: signed out
    ready: str = "main"  # what the page shows once its script has drawn it


PAGES = [
    Scan("/login", account=None),
    Scan("/admin/blog/auto-generate", ready=".run[data-run-id] .run-state.completed"),
    Scan("/admin/blog/runs/{run}"),
    Scan("/admin/blog/posts"),
    Scan("/admin/blog/posts/{slug}"),
    Scan("/admin/blog/posts/{slug}/edit"),
    Scan("/admin/settings/ai"),
    Scan("/admin/queue"),
    Scan("/admin/queue?state=completed"),  # rows with their actions
    Scan("/admin/queue/workers"),
    Scan("/admin/queue/jobs/{job}"),
    Scan("/admin/blog/posts/no-such-post"),
    Scan("/admin/blog/posts?page=0"),  # a 422 page
    Scan("/admin/blog/posts", account=USER),  # an author's My posts
    Scan("/admin/settings/ai", account=USER),
    Scan("/admin/queue", account=USER),  # the 403 page, with the author's menu
    Scan("/admin/no-such-page", account=USER),
    Scan("/blog", account=None),
    Scan("/blog/{slug}", account=None),
    Scan("/blog/tags/{tag}", account=None),
    Scan("/blog/no-such-post", account=None),
]

# Controls a finger must be able to hit on a phone (checkboxes are hit through their label).
TARGETS = "button, a.button, input:not([type=checkbox]):not([type=hidden]), select, textarea, summary, header a, nav a, td a"
SMALL_TARGETS = """(selector) => [...document.querySelectorAll(selector)]
  .map((el) => [el, el.getBoundingClientRect()])
  .filter(([, box]) => box.width > 0 && (box.width < 44 || box.height < 44))
  .map(([el, box]) => `${el.outerHTML.slice(0, 80)} is ${Math.round(box.width)}x${Math.round(box.height)}`)"""
FIRST_FOCUSABLE = """() => document.querySelector(
  "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])").textContent"""
# Only status lines (class "message") may announce changes; a panel or log that does floods a screen reader.
NOISY_REGIONS = """() => [...document.querySelectorAll(
    "[aria-live]:not([aria-live=off]), [role=status], [role=log]:not([aria-live=off])")]
  .filter((el) => !el.classList.contains("message")).map((el) => el.outerHTML.slice(0, 80))"""
TABLES_AS_CARDS = """() => [...document.querySelectorAll("main tr")]
  .every((row) => getComputedStyle(row).display === "block")"""
# A card's cell is as tall as its label, so a label on two lines never runs into the next cell.
LABELS_OVERLAP = """() => [...document.querySelectorAll("main td[data-label]")]
  .filter((cell) => cell.offsetHeight && parseFloat(getComputedStyle(cell, "::before").height) > cell.clientHeight)
  .map((cell) => "the label runs into the next cell: " + cell.dataset.label)"""


async def _published_post(page: Page, site: Site) -> dict[str, str]:
    """Sign in, write one post with the offline model, publish it; the ids the scanned paths name."""
    await sign_in(page, site)
    await page.locator("#count").fill("1")
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    await page.locator("#start").click()
    run = page.locator(".run[data-run-id]").first
    await expect(run.locator(".run-state")).to_have_text("completed")
    found = {
        "run": await run.get_attribute("data-run-id") or "",
        "job": await run.locator("tr[data-job-id]").first.get_attribute("data-job-id") or "",
    }
    await run.locator("a.run-post-link").first.click()
    await expect(page).to_have_url(re.compile(r"/admin/blog/posts/[^/]+$"))
    found["slug"] = page.url.rsplit("/", 1)[1]
    await page.get_by_role("button", name="Publish now").click()
    await expect(page.locator("#post-status")).to_have_text("published")
    await page.goto(f"{site.url}/blog/{found['slug']}")
    tag = await page.locator("a[href^='/blog/tags/']").first.get_attribute("href") or ""
    found["tag"] = tag.rsplit("/", 1)[1]
    return found


async def _problems(page: Page, scan: Scan, phone: bool) -> list[str]:
    """What is wrong with the page now open: axe's serious violations, noisy live regions, and on a
    phone its layout."""
    await expect(page.locator(scan.ready).first).to_be_attached()
    results = await AXE.run(page)
    problems = [
        f"{v['id']} ({v['impact']}): {', '.join(str(t) for n in v['nodes'] for t in n['target'])}"
        for v in results.response["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]
    if (first := await page.evaluate(FIRST_FOCUSABLE)) != "Skip to content":
        problems.append(f"the first thing to focus is {first!r}, not the skip link")
    problems += [f"announces every change: {region}" for region in await page.evaluate(NOISY_REGIONS)]
    if phone:
        await screenshot(page, "phone-" + (re.sub(r"[^a-z0-9]+", "-", scan.path).strip("-") or "home"))
        if not await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
            problems.append("scrolls sideways")
        if not await page.evaluate(TABLES_AS_CARDS):
            problems.append("a table is not shown as cards")
        problems += await page.evaluate(LABELS_OVERLAP)
        problems += await page.evaluate(SMALL_TARGETS, TARGETS)
    return problems


@pytest.mark.parametrize("width", WIDTHS)
async def test_every_page_passes_axe_and_fits_a_phone(browser: Browser, site: Site, width: str) -> None:
    phone = WIDTHS[width]["width"] < PHONE_MAX
    pages: dict[str | None, Page] = {}
    async with contextlib.AsyncExitStack() as tabs:
        for account in {scan.account for scan in PAGES}:
            pages[account] = await tabs.enter_async_context(tab(browser, width))
        ids = await _published_post(pages[ADMIN], site)
        for account, opened in pages.items():
            if account not in (None, ADMIN):
                await sign_in(opened, site, account)
        report = []
        for scan in PAGES:
            opened = pages[scan.account]
            response = await opened.goto(site.url + scan.path.format(**ids))
            assert response is not None
            if scan.account and scan.path.startswith("/admin"):
                assert response.headers.get("cache-control") == "no-store", scan.path
            report += [f"{scan.path}: {problem}" for problem in await _problems(opened, scan, phone)]
        assert report == [], "\n".join(report)


def _contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two computed `rgb(...)` colours."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted([luminance(first), luminance(second)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


# The focused element's ring and the background it is drawn on (the nearest one that is not transparent).
FOCUS_RING = """() => {
  const el = document.activeElement, ring = getComputedStyle(el);
  let under = el.parentElement;
  while (getComputedStyle(under).backgroundColor === "rgba(0, 0, 0, 0)") under = under.parentElement;
  return [ring.outlineStyle, ring.outlineWidth, ring.outlineColor, getComputedStyle(under).backgroundColor];
}"""


def _assert_visible_ring(ring: list[str]) -> None:
    style, width, colour, background = ring
    assert style == "solid" and float(width.removesuffix("px")) >= 2, ring
    assert _contrast(colour, background) >= 3, ring


@pytest.mark.parametrize("width", WIDTHS)
async def test_keyboard_users_skip_to_content_and_see_focus_on_the_header(
    browser: Browser, site: Site, width: str
) -> None:
    async with tab(browser, width) as page:
        await sign_in(page, site, next_path="/admin/queue")
        await page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        await expect(skip).to_be_focused()
        await expect(skip).to_be_in_viewport()

        await page.keyboard.press("Tab")
        brand = page.locator("header .brand")
        await expect(brand).to_be_focused()
        _assert_visible_ring(await page.evaluate(FOCUS_RING))

        await page.keyboard.press("Shift+Tab")
        await page.keyboard.press("Enter")
        await expect(page.locator("main")).to_be_focused()
        await page.keyboard.press("Tab")  # on into the page, past the header, where the ring is dark on light
        assert await page.evaluate("document.querySelector('main').contains(document.activeElement)")
        _assert_visible_ring(await page.evaluate(FOCUS_RING))


async def test_sign_in_forwards_a_signed_in_user_and_back_after_sign_out_shows_nothing(
    page: Page, site: Site
) -> None:
    await sign_in(page, site, next_path="/admin/queue")
    await page.goto(site.url + "/login?next=/admin/blog/posts")
    await expect(page).to_have_url(site.url + "/admin/blog/posts")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await expect(page.locator("#login-form")).to_be_visible()
