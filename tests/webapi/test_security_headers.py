"""Security headers: pages allow only our own scripts and styles and cannot be framed; every response
is nosniff and keeps its referrer to this site."""

import re
from pathlib import Path

from tests.webapi.conftest import Site

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "webapi" / "templates"


def _assert_common(headers: dict[str, str]) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"


async def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    for path in ("/login", "/admin/queue"):  # a page, and the redirect of a page to sign-in
        response = await site.client.get(path, follow_redirects=False)
        _assert_common(dict(response.headers))
    page = await site.client.get("/login")
    assert page.headers["content-type"].startswith("text/html")
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "unsafe-inline" not in page.headers["content-security-policy"]


async def test_api_responses_and_errors_are_nosniff(site: Site) -> None:
    for response in (
        await site.client.get("/api/auth/me", headers=site.headers["alice"]),
        await site.client.get("/api/auth/me"),  # 401
        await site.client.get("/static/common.js"),
    ):
        _assert_common(dict(response.headers))
        assert (
            "content-security-policy" not in response.headers
            or "text/html" in response.headers["content-type"]
        )


def test_templates_have_no_inline_script_handlers_or_styles() -> None:
    """What the policy would block: it must not block anything of ours."""
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert not re.search(r"\sstyle\s*=|<style", text), template.name
        assert "javascript:" not in text, template.name
