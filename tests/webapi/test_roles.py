"""Pages by role: what an author (a plain user) and an admin may open, the authors-can-publish
setting, and the HTML error pages (404, 403, 422) with the navigation of whoever is signed in."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from httpx import Response
from litestar.testing import AsyncTestClient

from blogqueue.settings import Settings
from tests.webapi.conftest import PASSWORD, Site, open_site
from tests.webapi.test_posts_api import seed

SAME_ORIGIN = {"Origin": "http://testserver.local"}
ADMIN_PAGES = ["/admin/blog/auto-generate", "/admin/blog/runs/1", "/admin/queue", "/admin/queue/workers",
               "/admin/queue/jobs/some-job", "/admin/queue/find?id=x"]  # fmt: skip
LATER = (datetime.now(UTC) + timedelta(days=2)).isoformat()


@pytest.fixture
async def locked_site(db_settings: Settings) -> AsyncIterator[Site]:
    """A site where only admins may publish."""
    async with open_site(db_settings.model_copy(update={"authors_can_publish": False})) as opened:
        yield opened


async def sign_in_as(client: AsyncTestClient, name: str, next_page: str = "") -> Response:
    form = {"email": f"{name}@example.com", "password": PASSWORD, "next": next_page}
    return await client.post("/login", data=form, headers=SAME_ORIGIN, follow_redirects=False)


async def get(client: AsyncTestClient, path: str) -> Response:
    return await client.get(path, follow_redirects=False)


def nav_links(page: Response) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page.text, re.S)
    assert nav, page.text
    return re.findall(r">([^<]+)</a>", nav.group(1))


def current_link(page: Response) -> str:
    found = re.search(r'aria-current="page">([^<]+)</a>', page.text)
    assert found, page.text
    return found.group(1)


def signed_in_page(page: Response) -> None:
    assert "Sign out</button>" in page.text
    assert nav_links(page)


async def test_an_author_sees_their_pages_and_a_403_page_with_their_menu_on_admin_pages(site: Site) -> None:
    await seed(site.settings)
    await sign_in_as(site.client, "alice")
    settings_page = await get(site.client, "/admin/settings/ai")
    assert settings_page.status_code == 200
    assert nav_links(settings_page) == ["My posts", "AI settings"]
    assert current_link(settings_page) == "AI settings"
    for path in ADMIN_PAGES:
        page = await get(site.client, path)
        assert page.status_code == 403, path
        assert "This page is for admins" in page.text
        assert nav_links(page) == ["My posts", "AI settings"]
        signed_in_page(page)

    await sign_in_as(site.client, "admin")
    queue = await get(site.client, "/admin/queue")
    assert nav_links(queue) == ["Auto-generate", "Posts", "Queue", "AI settings"]
    assert current_link(queue) == "Queue"


async def test_my_posts_are_the_authors_own_and_anothers_post_is_the_missing_page(site: Site) -> None:
    await seed(site.settings)
    await sign_in_as(site.client, "alice")
    mine = await get(site.client, "/admin/blog/posts")
    assert mine.status_code == 200 and "<h1>My posts</h1>" in mine.text
    assert current_link(mine) == "My posts"
    slugs = set(re.findall(r'href="/admin/blog/posts/([a-z-]+)"', mine.text))
    assert slugs == {"alice-draft", "alice-published", "alice-incomplete"}
    own = await get(site.client, "/admin/blog/posts/alice-draft/edit")
    assert own.status_code == 200 and "Alice Draft" in own.text
    for path in ("/admin/blog/posts/bob-published-movie", "/admin/blog/posts/bob-draft/edit",
                 "/admin/blog/posts/no-such-post"):  # fmt: skip
        page = await get(site.client, path)
        assert page.status_code == 404, path
        assert "does not exist" in page.text and "Bob" not in page.text and "excerpt of" not in page.text
        signed_in_page(page)

    await sign_in_as(site.client, "admin")
    everyone = await get(site.client, "/admin/blog/posts")
    assert "<h1>Posts</h1>" in everyone.text and "bob-published-movie" in everyone.text
    assert (await get(site.client, "/admin/blog/posts/alice-draft/edit")).status_code == 200


async def test_each_role_starts_on_its_own_page(site: Site) -> None:
    assert (await get(site.client, "/")).headers["location"] == "/login"
    signed_in = await sign_in_as(site.client, "alice")
    assert signed_in.headers["location"] == "/"
    assert (await get(site.client, "/")).headers["location"] == "/admin/blog/posts"
    assert (await get(site.client, "/admin")).headers["location"] == "/admin/blog/posts"
    await sign_in_as(site.client, "admin")
    assert (await get(site.client, "/")).headers["location"] == "/admin/blog/auto-generate"
    kept = await sign_in_as(site.client, "alice", "/admin/settings/ai")
    assert kept.headers["location"] == "/admin/settings/ai"


async def test_authors_publish_their_own_posts_by_default(site: Site) -> None:
    await seed(site.settings)
    alice = site.headers["alice"]
    url = "/api/blog/posts/alice-draft"
    assert (
        await site.client.post(f"{url}/schedule", json={"publishAt": LATER}, headers=alice)
    ).status_code == 200
    assert (await site.client.delete(f"{url}/schedule", headers=alice)).status_code == 200
    assert (await site.client.post(f"{url}/publish", headers=alice)).status_code == 200
    assert (await site.client.post(f"{url}/unpublish", headers=alice)).status_code == 200
    await sign_in_as(site.client, "alice")
    page = await get(site.client, "/admin/blog/posts/alice-draft")
    assert 'id="publish"' in page.text and 'id="schedule-form"' in page.text


async def test_when_authors_may_not_publish_only_admins_do(locked_site: Site) -> None:
    site = locked_site
    await seed(site.settings)
    alice = site.headers["alice"]
    refused = [
        await site.client.post("/api/blog/posts/alice-draft/publish", headers=alice),
        await site.client.post(
            "/api/blog/posts/alice-draft/schedule", json={"publishAt": LATER}, headers=alice
        ),
        await site.client.delete("/api/blog/posts/alice-draft/schedule", headers=alice),
        await site.client.post("/api/blog/posts/alice-published/unpublish", headers=alice),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert (
            response.json()["error"] == "On this site only an admin may publish, schedule or unpublish posts"
        )
    edited = await site.client.patch(
        "/api/blog/posts/alice-draft", json={"version": 1, "title": "Still mine"}, headers=alice
    )
    assert edited.status_code == 200  # editing stays the author's
    published = await site.client.post("/api/blog/posts/alice-draft/publish", headers=site.headers["admin"])
    assert published.status_code == 200 and published.json()["status"] == "published"

    await sign_in_as(site.client, "alice")
    page = await get(site.client, "/admin/blog/posts/alice-published")
    assert page.status_code == 200
    assert 'id="publish"' not in page.text and 'id="unpublish"' not in page.text
    assert 'id="schedule-form"' not in page.text and "an admin publishes posts" in page.text
    await sign_in_as(site.client, "admin")
    assert 'id="unpublish"' in (await get(site.client, "/admin/blog/posts/alice-published")).text


async def test_page_errors_are_pages_with_the_menu_and_api_errors_stay_json(site: Site) -> None:
    await sign_in_as(site.client, "alice")
    for path, status, words in [
        ("/admin/no-such-page", 404, "There is no page at this address."),
        ("/somewhere/else", 404, "There is no page at this address."),
        ("/admin/blog/runs/abc", 404, "There is no page at this address."),
        ("/admin/blog/posts?page=abc", 422, "The address has a value this page cannot use (page)."),
        ("/admin/blog/posts?page=0", 422, "The address has a value this page cannot use (page)."),
    ]:
        page = await get(site.client, path)
        assert (page.status_code, page.headers["content-type"]) == (status, "text/html; charset=utf-8"), path
        assert words in page.text, path
        signed_in_page(page)
    await sign_in_as(site.client, "admin")
    run = await get(site.client, "/admin/blog/runs/0")
    assert run.status_code == 422 and "(run id)" in run.text
    signed_in_page(run)

    for path in ("/api/no-such-thing", "/api/blog/posts/x/y/z", "/static/missing.css"):
        api = await get(site.client, path)
        assert api.status_code == 404 and api.json()["status"] == 404, path
    blog = await get(site.client, "/blog/a/b")
    assert blog.status_code == 404 and "Back to the blog" in blog.text

    await site.client.post("/logout", headers=SAME_ORIGIN)
    visitor = await get(site.client, "/admin/no-such-page")
    assert visitor.status_code == 404 and 'href="/login">Sign in</a>' in visitor.text
    assert "Sign out" not in visitor.text
    admin_page = await get(site.client, "/admin/queue")
    assert admin_page.status_code == 303 and admin_page.headers["location"] == "/login?next=/admin/queue"
