"""The public blog on SQLite and PostgreSQL: published posts only, pages, tags, feed, sitemap, meta tags."""

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

from litestar.testing import AsyncTestClient
from sqlmodel import update

from blogqueue import db, users
from blogqueue.models import BlogPost
from blogqueue.settings import Settings
from tests.webapi.conftest import ACCOUNTS, Site
from webapi.app import create_app

START = datetime(2025, 1, 1, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ODD_TAG = "sci-fi & 100%_true"  # LIKE wildcards and an ampersand: matched literally, escaped in HTML
PUBLISHED = [f"published-{i}" for i in range(12)]  # later ones are newer
FACTS = {"title": "Dune: Part Two", "release_date": "2024-02-27", "genres": ["Science Fiction", "Adventure"],
         "runtime_minutes": 166, "rating": 8.15, "vote_count": 6543, "directors": ["Denis Villeneuve"],
         "cast": ["Timothée Chalamet", "Zendaya"]}  # fmt: skip


async def seed(settings: Settings) -> None:
    """12 published posts (one tagged ODD_TAG, one with markup in its body) and two drafts."""
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            author = (await users.get_by_email(session, ACCOUNTS["alice"][0])).id
            rows = [(slug, "published", i) for i, slug in enumerate(PUBLISHED)]
            rows += [("secret-draft", "draft", 100), ("sci-fi-draft", "draft", 101)]
            for slug, status, i in rows:
                tags = ["drama", ODD_TAG] if slug in ("published-3", "sci-fi-draft") else ["drama"]
                session.add(BlogPost(
                    slug=slug, title=f"Title <{slug}>", excerpt=f"excerpt of {slug}", tags=tags,
                    body=f"## About {slug}\n\n<script>alert(1)</script> **bold**", tmdb_id=1000 + i,
                    media_type="tv" if i % 2 else "movie", poster_url=f"https://img.example/{slug}.jpg",
                    source="popular", model="offline", provider="offline", user_id=author, job_id=f"job-{slug}",
                    status=status, created_at=START, updated_at=START + timedelta(hours=i),
                    facts=FACTS if slug == "published-4" else {},
                    published_at=START + timedelta(hours=i) if status == "published" else None,
                ))  # fmt: skip
            await session.commit()
    finally:
        await engine.dispose()


def parse_xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - the app's own output, the thing under test


def post_links(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/blog/([^"]+)">', html)


class _Head(HTMLParser):
    """Meta tags by property or name, and the JSON-LD blocks, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.ld: list[str] = []
        self._in_ld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta" and (key := values.get("property") or values.get("name")):
            self.meta[key] = values.get("content") or ""
        self._in_ld = tag == "script" and values.get("type") == "application/ld+json"

    def handle_data(self, data: str) -> None:
        if self._in_ld:
            self.ld.append(data)
            self._in_ld = False


async def test_the_blog_lists_published_posts_newest_first_in_pages(site: Site) -> None:
    await seed(site.settings)
    first = await site.client.get("/blog")
    assert first.status_code == 200
    assert post_links(first.text) == PUBLISHED[::-1][:10]
    assert "secret-draft" not in first.text and "12 posts" in first.text
    assert (
        'src="https://img.example/published-11.jpg"' in first.text and "excerpt of published-11" in first.text
    )
    assert 'href="/blog?page=2"' in first.text
    second = await site.client.get("/blog", params={"page": 2})
    assert post_links(second.text) == ["published-1", "published-0"]
    beyond = await site.client.get("/blog", params={"page": 3})
    assert beyond.status_code == 404 and "text/html" in beyond.headers["content-type"]
    assert (await site.client.get("/blog", params={"page": "x"})).status_code == 422
    assert (await site.client.get("/blog", params={"page": 0})).status_code == 422


async def test_a_post_shows_its_headline_date_tags_facts_and_a_safe_body(site: Site) -> None:
    await seed(site.settings)
    response = await site.client.get("/blog/published-3")
    assert response.status_code == 200
    html = response.text
    assert '<h1 id="post-title">Title &lt;published-3&gt;</h1>' in html
    assert "<strong>bold</strong>" in html and "<script>alert" not in html
    assert '<time datetime="2025-01-01T03:00:00' in html and "1 January 2025" in html
    assert 'href="/blog/tags/sci-fi%20%26%20100%25_true"' in html
    assert "TV series" in html and "https://www.themoviedb.org/tv/1003" in html
    assert "First aired" not in html and "Starring" not in html  # a post kept no facts of its title


async def test_a_post_shows_the_facts_of_its_title(site: Site) -> None:
    await seed(site.settings)
    html = (await site.client.get("/blog/published-4")).text
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", html))
    assert facts == {"Type": "Movie", "Released": "27 February 2024", "Genres": "Science Fiction, Adventure",
                     "Runtime": "2 h 46 min", "Directed by": "Denis Villeneuve",
                     "Starring": "Timothée Chalamet, Zendaya", "TMDb rating": "8.2/10 (6,543 votes)"}  # fmt: skip


async def test_drafts_and_unknown_posts_are_a_404_page(site: Site) -> None:
    await seed(site.settings)
    for path in ("/blog/secret-draft", "/blog/no-such-post"):
        response = await site.client.get(path)
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"] and "does not exist" in response.text
        assert "Back to the blog" in response.text


async def test_tag_pages_match_the_tag_literally_and_only_published_posts(site: Site) -> None:
    await seed(site.settings)
    response = await site.client.get(f"/blog/tags/{ODD_TAG}")
    assert response.status_code == 200
    assert post_links(response.text) == ["published-3"]
    assert "sci-fi &amp; 100%_true" in response.text
    assert post_links((await site.client.get("/blog/tags/sci-fi & 1%")).text) == []
    assert len(post_links((await site.client.get("/blog/tags/drama")).text)) == 10
    assert (await site.client.get("/blog/tags/" + "x" * 101)).status_code == 404


async def test_the_atom_feed_parses_and_holds_the_published_posts_only(site: Site) -> None:
    await seed(site.settings)
    response = await site.client.get("/blog/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = parse_xml(response.content)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [f"Title <{slug}>" for slug in PUBLISHED[::-1]]
    assert entries[0].findtext(f"{ATOM}id") == "http://testserver.local/blog/published-11"
    content = entries[0].findtext(f"{ATOM}content") or ""
    assert "<strong>bold</strong>" in content and "<script>" not in content
    assert feed.findtext(f"{ATOM}updated") == "2025-01-01T11:00:00+00:00"


async def test_the_sitemap_lists_the_blog_and_each_published_post(site: Site) -> None:
    await seed(site.settings)
    response = await site.client.get("/sitemap.xml")
    assert response.status_code == 200
    urls = [u.findtext(f"{SITEMAP}loc") for u in parse_xml(response.content).findall(f"{SITEMAP}url")]
    base = "http://testserver.local"
    assert urls == [f"{base}/blog", *(f"{base}/blog/{slug}" for slug in PUBLISHED[::-1])]


async def test_post_pages_carry_open_graph_twitter_and_review_json_ld(site: Site) -> None:
    await seed(site.settings)
    response = await site.client.get("/blog/published-4")
    head = _Head()
    head.feed(response.text)
    url = "http://testserver.local/blog/published-4"
    assert head.meta["og:title"] == "Title <published-4>" and head.meta["og:url"] == url
    assert head.meta["og:image"] == head.meta["twitter:image"] == "https://img.example/published-4.jpg"
    assert head.meta["twitter:card"] == "summary_large_image" and head.meta["og:type"] == "article"
    (ld_text,) = head.ld
    assert "<" not in ld_text  # escaped, so a title cannot end the script element
    ld = json.loads(ld_text)
    assert ld["@type"] == "Review" and ld["url"] == url and ld["headline"] == "Title <published-4>"
    assert ld["itemReviewed"] == {
        "@type": "Movie", "name": "Dune: Part Two", "sameAs": "https://www.themoviedb.org/movie/1004",
        "image": "https://img.example/published-4.jpg", "datePublished": "2024-02-27",
        "genre": ["Science Fiction", "Adventure"], "director": [{"@type": "Person", "name": "Denis Villeneuve"}],
        "actor": [{"@type": "Person", "name": "Timothée Chalamet"}, {"@type": "Person", "name": "Zendaya"}],
    }  # fmt: skip
    assert ld["datePublished"] == "2025-01-01T04:00:00+00:00"


async def test_pages_are_public_cached_and_revalidate_with_an_etag(site: Site) -> None:
    await seed(site.settings)
    site.client.cookies.clear()
    first = await site.client.get("/blog/published-1")
    assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=30"
    assert (
        "Content-Security-Policy" in first.headers
        and "script-src 'self'" in first.headers["content-security-policy"]
    )
    etag = first.headers["etag"]
    again = await site.client.get("/blog/published-1", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = await site.client.get("/blog/published-2", headers={"If-None-Match": etag})
    assert other.status_code == 200


async def test_a_kept_page_is_served_only_while_the_blog_has_not_changed(site: Site) -> None:
    await seed(site.settings)
    admin = site.headers["admin"]
    assert (await site.client.get("/blog/published-5")).status_code == 200
    engine = db.create_engine(site.settings)
    try:  # changed in the database behind the API's back: the kept page is still served
        async with engine.begin() as connection:
            await connection.execute(
                update(BlogPost).where(BlogPost.slug == "published-5").values(title="Changed by hand")
            )
    finally:
        await engine.dispose()
    kept = await site.client.get("/blog/published-5", params={"bust": "1"})  # unknown parameters share it
    assert kept.status_code == 200 and "Changed by hand" not in kept.text
    async with AsyncTestClient(create_app(site.settings)) as other:  # another API process, same Redis
        assert (await other.get("/blog/published-4")).status_code == 200  # kept there too
        unpublished = await other.post("/api/blog/posts/published-4/unpublish", headers=admin)
        assert unpublished.status_code == 200
    assert (await site.client.get("/blog/published-4")).status_code == 404  # at once, in every process
    assert "Changed by hand" in (await site.client.get("/blog/published-5")).text
