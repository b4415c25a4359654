"""The posts API on SQLite and PostgreSQL: paging, filters, who sees what, and who may change what."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from blogqueue import claims, db, users
from blogqueue.models import BlogPost, GenerationRun, TitleClaim
from blogqueue.settings import Settings
from blogqueue.titles import MediaType
from tests.webapi.conftest import ACCOUNTS, Site

URL = "/api/blog/posts"
START = datetime(2025, 1, 1, tzinfo=UTC)
# slug: (author, status, media type, source, model, incomplete); later rows are newer.
POSTS = {
    "alice-draft": ("alice", "draft", "movie", "popular", "offline", False),
    "alice-published": ("alice", "published", "tv", "trending", "gpt-4o", False),
    "bob-draft": ("bob", "draft", "movie", "top_rated", "offline", False),
    "bob-published-movie": ("bob", "published", "movie", "popular", "claude-sonnet-4-5", False),
    "bob-published-tv": ("bob", "published", "tv", "on_the_air", "offline", False),
    "alice-incomplete": ("alice", "draft", "movie", "popular", "offline", True),
}
NEWEST_FIRST = list(reversed(POSTS))
SUMMARY_FIELDS = {
    "id", "slug", "title", "excerpt", "tags", "tmdbId", "mediaType", "posterUrl", "source", "model",
    "provider", "tokensIn", "tokensOut", "costUsd", "status", "incomplete", "userId", "runId",
    "createdAt", "publishedAt",
}  # fmt: skip


class Seeded:
    def __init__(self, user_ids: dict[str, int], run_id: int) -> None:
        self.user_ids = user_ids
        self.run_id = run_id


async def seed(settings: Settings, extra: int = 0) -> Seeded:
    """The POSTS rows (alice-draft in a run, with a claim on its title), plus `extra` older bob drafts."""
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            ids = {
                name: (await users.get_by_email(session, email)).id for name, (email, _) in ACCOUNTS.items()
            }
            run = GenerationRun(
                user_id=ids["alice"], model="offline", source="popular", media_type="movie", requested=1
            )
            session.add(run)
            await session.commit()
            for index, (slug, (author, status, media, source, model, incomplete)) in enumerate(POSTS.items()):
                session.add(BlogPost(
                    slug=slug, title=slug.replace("-", " ").title(), excerpt=f"excerpt of {slug}",
                    body=f"# {slug}\n\n## One\n", tags=["drama", slug], tmdb_id=1000 + index, media_type=media,
                    poster_url=f"https://img.example/{slug}.jpg", source=source, model=model, provider="offline",
                    tokens_in=10 + index, tokens_out=100 + index, cost_usd=0.5 * index, status=status,
                    incomplete=incomplete, user_id=ids[author], run_id=run.id if slug == "alice-draft" else None,
                    job_id=f"job-{slug}", created_at=START + timedelta(hours=index),
                    published_at=START + timedelta(hours=index) if status == "published" else None,
                ))  # fmt: skip
            for index in range(extra):
                session.add(BlogPost(
                    slug=f"old-{index}", title=f"Old {index}", excerpt="", body="", tmdb_id=5000 + index,
                    media_type="movie", source="popular", model="offline", provider="offline",
                    user_id=ids["bob"], job_id=f"job-old-{index}", created_at=START - timedelta(days=1, minutes=index),
                ))  # fmt: skip
            session.add(TitleClaim(media_type="movie", tmdb_id=1000, run_id=run.id, job_id="job-alice-draft"))
            session.add(
                TitleClaim(media_type="tv", tmdb_id=1001, run_id=run.id, job_id="job-alice-published")
            )
            await session.commit()
            assert run.id is not None
            return Seeded({name: int(user_id or 0) for name, user_id in ids.items()}, run.id)
    finally:
        await engine.dispose()


async def claimed(settings: Settings) -> set[tuple[str, int]]:
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            return {(c.media_type, c.tmdb_id) for c in (await session.exec(select(TitleClaim))).all()}
    finally:
        await engine.dispose()


async def slugs(site: Site, who: str, **params: Any) -> list[str]:
    response = await site.client.get(URL, params=params, headers=site.headers[who])
    assert response.status_code == 200, response.text
    return [item["slug"] for item in response.json()["items"]]


async def test_each_account_sees_its_own_posts_and_everyones_published_ones(site: Site) -> None:
    await seed(site.settings)
    assert await slugs(site, "admin") == NEWEST_FIRST
    assert await slugs(site, "alice") == [s for s in NEWEST_FIRST if s != "bob-draft"]
    assert await slugs(site, "bob") == [
        s for s in NEWEST_FIRST if s not in {"alice-draft", "alice-incomplete"}
    ]


async def test_summaries_are_camel_case_wire_schemas_without_the_body(site: Site) -> None:
    seeded = await seed(site.settings)
    response = await site.client.get(URL, params={"runId": seeded.run_id}, headers=site.headers["alice"])
    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert set(item) == SUMMARY_FIELDS
    assert item["slug"] == "alice-draft"
    assert item["tmdbId"] == 1000
    assert item["mediaType"] == "movie"
    assert item["tags"] == ["drama", "alice-draft"]
    assert item["posterUrl"] == "https://img.example/alice-draft.jpg"
    assert item["userId"] == seeded.user_ids["alice"]
    assert item["runId"] == seeded.run_id
    assert (item["tokensIn"], item["tokensOut"], item["costUsd"]) == (10, 100, 0.0)
    assert item["status"] == "draft"
    assert item["publishedAt"] is None
    assert datetime.fromisoformat(item["createdAt"]) == START  # with its zone, on SQLite too


async def test_paging_and_total(site: Site) -> None:
    await seed(site.settings, extra=21)  # 27 posts for the admin
    first = (await site.client.get(URL, headers=site.headers["admin"])).json()
    assert (first["page"], first["pageSize"], first["total"], len(first["items"])) == (1, 20, 27, 20)
    assert [item["slug"] for item in first["items"][:6]] == NEWEST_FIRST
    second = (await site.client.get(URL, params={"page": 2}, headers=site.headers["admin"])).json()
    assert (second["page"], second["total"]) == (2, 27)
    assert [item["slug"] for item in second["items"]] == [f"old-{index}" for index in range(14, 21)]
    small = await site.client.get(URL, params={"page": 2, "pageSize": 4}, headers=site.headers["admin"])
    assert [item["slug"] for item in small.json()["items"]] == [*NEWEST_FIRST[4:], "old-0", "old-1"]
    assert (small.json()["pageSize"], small.json()["total"]) == (4, 27)
    beyond = (await site.client.get(URL, params={"page": 9}, headers=site.headers["admin"])).json()
    assert (beyond["items"], beyond["total"]) == ([], 27)
    alice = (await site.client.get(URL, params={"pageSize": 2}, headers=site.headers["alice"])).json()
    assert (len(alice["items"]), alice["total"]) == (2, 5)  # bob's 22 drafts are not counted for her


async def test_each_filter(site: Site) -> None:
    seeded = await seed(site.settings)
    bob_id = seeded.user_ids["bob"]
    cases: list[tuple[str, dict[str, Any], set[str]]] = [
        ("admin", {"status": "draft"}, {"alice-draft", "bob-draft", "alice-incomplete"}),
        ("alice", {"status": "draft"}, {"alice-draft", "alice-incomplete"}),
        ("alice", {"status": "published"}, {"alice-published", "bob-published-movie", "bob-published-tv"}),
        ("admin", {"mediaType": "tv"}, {"alice-published", "bob-published-tv"}),
        ("bob", {"mediaType": "movie"}, {"bob-draft", "bob-published-movie"}),
        ("admin", {"source": "popular"}, {"alice-draft", "bob-published-movie", "alice-incomplete"}),
        ("bob", {"source": "trending"}, {"alice-published"}),
        ("admin", {"model": "gpt-4o"}, {"alice-published"}),
        ("admin", {"model": "nothing-uses-this"}, set()),
        ("admin", {"runId": seeded.run_id}, {"alice-draft"}),
        ("bob", {"runId": seeded.run_id}, set()),  # the run's only post is alice's draft
        ("admin", {"userId": bob_id}, {"bob-draft", "bob-published-movie", "bob-published-tv"}),
        ("alice", {"userId": bob_id}, {"bob-published-movie", "bob-published-tv"}),  # never bob's draft
        ("admin", {"status": "draft", "mediaType": "movie", "userId": bob_id}, {"bob-draft"}),
    ]
    for who, params, expected in cases:
        response = await site.client.get(URL, params=params, headers=site.headers[who])
        assert response.status_code == 200, (who, params, response.text)
        assert {item["slug"] for item in response.json()["items"]} == expected, (who, params)
        assert response.json()["total"] == len(expected), (who, params)


async def test_bad_query_parameters_are_422_naming_the_parameter(site: Site) -> None:
    cases = [
        ("page", "0"), ("page", "abc"), ("pageSize", "0"), ("pageSize", "101"), ("status", "archived"),
        ("mediaType", "book"), ("source", "nowhere"), ("runId", "x"), ("userId", "1.5"),
        ("page", str(10**21)), ("runId", str(2**63)), ("userId", str(-(10**26))),
    ]  # fmt: skip
    for name, value in cases:
        response = await site.client.get(URL, params={name: value}, headers=site.headers["alice"])
        assert response.status_code == 422, (name, value, response.text)
        body = response.json()
        assert body["status"] == 422
        assert body["error"]
        assert [detail["field"] for detail in body["details"]] == [name], (name, value, body)
    edge = await site.client.get(URL, params={"pageSize": 100}, headers=site.headers["alice"])
    assert edge.status_code == 200


async def test_get_by_slug_returns_the_full_post_to_those_who_may_see_it(site: Site) -> None:
    await seed(site.settings)
    own = await site.client.get(f"{URL}/alice-draft", headers=site.headers["alice"])
    assert own.status_code == 200
    assert set(own.json()) == SUMMARY_FIELDS | {"body", "version", "editedAt", "publishAt"}
    assert own.json()["body"] == "# alice-draft\n\n## One\n"
    assert (await site.client.get(f"{URL}/bob-draft", headers=site.headers["admin"])).status_code == 200
    published = await site.client.get(f"{URL}/alice-published", headers=site.headers["bob"])
    assert published.json()["slug"] == "alice-published"

    hidden = await site.client.get(f"{URL}/alice-draft", headers=site.headers["bob"])
    missing = await site.client.get(f"{URL}/no-such-post", headers=site.headers["bob"])
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json() == {"error": "post 'alice-draft' does not exist", "status": 404}
    assert "alice" not in hidden.text.replace("alice-draft", "")  # nothing about the draft leaks


async def test_publish_and_unpublish(site: Site) -> None:
    await seed(site.settings)
    alice, bob = site.headers["alice"], site.headers["bob"]
    published = await site.client.post(f"{URL}/alice-draft/publish", headers=alice)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["body"] == "# alice-draft\n\n## One\n"
    first_published_at = published.json()["publishedAt"]
    assert first_published_at is not None
    assert (await site.client.get(f"{URL}/alice-draft", headers=bob)).status_code == 200
    again = await site.client.post(f"{URL}/alice-draft/publish", headers=alice)
    assert again.json()["publishedAt"] == first_published_at

    unpublished = await site.client.post(f"{URL}/alice-draft/unpublish", headers=alice)
    assert unpublished.status_code == 200
    assert (unpublished.json()["status"], unpublished.json()["publishedAt"]) == ("draft", None)
    assert (await site.client.get(f"{URL}/alice-draft", headers=bob)).status_code == 404
    assert "alice-draft" not in await slugs(site, "bob")

    by_admin = await site.client.post(f"{URL}/bob-published-movie/unpublish", headers=site.headers["admin"])
    assert by_admin.json()["status"] == "draft"
    assert "bob-published-movie" not in await slugs(site, "alice")


async def test_an_incomplete_draft_cannot_be_published(site: Site) -> None:
    await seed(site.settings)
    for who in ("alice", "admin"):
        response = await site.client.post(f"{URL}/alice-incomplete/publish", headers=site.headers[who])
        assert response.status_code == 409, response.text
        assert "incomplete" in response.json()["error"]
    after = await site.client.get(f"{URL}/alice-incomplete", headers=site.headers["alice"])
    assert (after.json()["status"], after.json()["publishedAt"]) == ("draft", None)


async def test_only_the_author_or_an_admin_changes_a_post(site: Site) -> None:
    await seed(site.settings)
    bob = site.headers["bob"]
    for action in ("publish", "unpublish"):
        visible = await site.client.post(f"{URL}/alice-published/{action}", headers=bob)
        assert visible.status_code == 403, (action, visible.text)
        assert visible.json()["error"] == "only the post's author or an admin may change it"
        invisible = await site.client.post(f"{URL}/alice-draft/{action}", headers=bob)
        assert invisible.status_code == 404, (action, invisible.text)
    assert (await site.client.delete(f"{URL}/alice-published", headers=bob)).status_code == 403
    assert (await site.client.delete(f"{URL}/alice-draft", headers=bob)).status_code == 404
    everything = (await site.client.get(URL, headers=site.headers["admin"])).json()["items"]
    state = {item["slug"]: item["status"] for item in everything}
    assert state == {slug: row[1] for slug, row in POSTS.items()}


async def test_delete_removes_the_post_and_frees_its_title(site: Site) -> None:
    seeded = await seed(site.settings)
    assert await claimed(site.settings) == {("movie", 1000), ("tv", 1001)}
    response = await site.client.delete(f"{URL}/alice-draft", headers=site.headers["alice"])
    assert response.status_code == 204, response.text
    assert (await site.client.get(f"{URL}/alice-draft", headers=site.headers["admin"])).status_code == 404
    assert "alice-draft" not in await slugs(site, "admin")
    assert await claimed(site.settings) == {("tv", 1001)}  # only the deleted post's title is freed

    engine = db.create_engine(site.settings)
    try:
        async with db.session_factory(engine)() as session:
            assert await claims.taken_ids(session, MediaType.MOVIE, [1000, 1002]) == {1002}
            assert await claims.claim(session, MediaType.MOVIE, 1000, seeded.run_id, "job-again")
    finally:
        await engine.dispose()

    by_admin = await site.client.delete(f"{URL}/bob-draft", headers=site.headers["admin"])
    assert by_admin.status_code == 204
    assert await slugs(site, "bob") == ["bob-published-tv", "bob-published-movie", "alice-published"]
    again = await site.client.delete(f"{URL}/bob-draft", headers=site.headers["admin"])
    assert again.status_code == 404


async def test_signed_out_callers_get_401(site: Site) -> None:
    await seed(site.settings)
    calls = [("GET", URL), ("GET", f"{URL}/alice-published"), ("POST", f"{URL}/alice-draft/publish"),
             ("POST", f"{URL}/alice-published/unpublish"), ("DELETE", f"{URL}/alice-draft")]  # fmt: skip
    for method, path in calls:
        response = await site.client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]
    assert len(await slugs(site, "admin")) == len(POSTS)
