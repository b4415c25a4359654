"""The public blog: published posts only, server-rendered without JavaScript, no sign-in. Every
answer comes from the per-process PageCache (checked against the blog's version in Redis), so a
busy post costs one render per PAGE_TTL_S; a database session is opened only to render, never for
an answer from memory."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import posts
from blogqueue.errors import NotFound
from blogqueue.jobqueue import JobQueue
from blogqueue.models import BlogPost
from blogqueue.schemas import MAX_PAGE
from blogqueue.titles import MediaType, TitleFacts
from webapi.pages.feeds import atom_feed, published_on, sitemap, updated_on
from webapi.pages.markdown import render_markdown
from webapi.pages.page_cache import PageCache
from webapi.pages.session import EXCLUDE

POSTS_PER_PAGE = 10
FEED_POSTS = 20
SITEMAP_POSTS = 10_000  # well under a sitemap's 50,000 URLs; the newest are the ones worth crawling
MAX_TAG_LENGTH = 100
HTML, ATOM_XML, XML = "text/html; charset=utf-8", "application/atom+xml; charset=utf-8", "application/xml"
REVIEWED_TYPES = {MediaType.MOVIE: "Movie", MediaType.TV: "TVSeries"}
MEDIA_LABELS = {MediaType.MOVIE: "Movie", MediaType.TV: "TV series"}

Page = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)]


def _base_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


def _render(request: Request[Any, Any, Any], name: str, **context: Any) -> str:
    engine = request.app.template_engine
    assert engine is not None  # create_app always configures templates
    html: str = engine.get_template(name).render(user=None, **context)
    return html


def missing(_: Request[Any, Any, Any], exc: NotFound) -> Response[Any]:
    context = {"user": None, "title": "Not found", "message": exc.message, "back": "/blog"}
    return Template(template_name="message.html", status_code=404, context=context)


def review_ld(post: BlogPost, url: str) -> dict[str, Any]:
    """schema.org Review of the post's title, as search engines read it from JSON-LD."""
    facts = TitleFacts.stored(post.facts)
    reviewed: dict[str, Any] = {"@type": REVIEWED_TYPES[post.media_type], "name": facts.title or post.title,
                                "sameAs": tmdb_url(post)}  # fmt: skip
    if post.poster_url:
        reviewed["image"] = post.poster_url
    if facts.release_date:
        reviewed["datePublished" if post.media_type is MediaType.MOVIE else "startDate"] = facts.release_date
    if facts.genres:
        reviewed["genre"] = facts.genres
    people = [{"@type": "Person", "name": name} for name in facts.directors]
    if people:
        reviewed["director" if post.media_type is MediaType.MOVIE else "creator"] = people
    if facts.cast:
        reviewed["actor"] = [{"@type": "Person", "name": name} for name in facts.cast]
    return {
        "@context": "https://schema.org",
        "@type": "Review",
        "headline": post.title,
        "name": post.title,
        "url": url,
        "description": post.excerpt,
        "datePublished": published_on(post).isoformat(),
        "dateModified": updated_on(post).isoformat(),
        "keywords": post.tags,
        "author": {"@type": "Organization", "name": "BlogQueue"},
        "itemReviewed": reviewed,
    }


def fact_rows(post: BlogPost) -> list[tuple[str, str]]:
    """The post page's facts box: what is known of the title, in words."""
    facts, movie = TitleFacts.stored(post.facts), post.media_type is MediaType.MOVIE
    rows = [("Type", MEDIA_LABELS[post.media_type])]
    with contextlib.suppress(ValueError, TypeError):
        released = date.fromisoformat(facts.release_date or "")
        rows.append(("Released" if movie else "First aired", released.strftime("%-d %B %Y")))
    if facts.genres:
        rows.append(("Genres", ", ".join(facts.genres)))
    if facts.runtime_minutes:
        hours, minutes = divmod(facts.runtime_minutes, 60)
        rows.append(("Runtime", f"{hours} h {minutes} min" if hours else f"{minutes} min"))
    if facts.directors:
        rows.append(("Directed by" if movie else "Created by", ", ".join(facts.directors)))
    if facts.cast:
        rows.append(("Starring", ", ".join(facts.cast)))
    if facts.rating and facts.vote_count:
        rows.append(("TMDb rating", f"{facts.rating:.1f}/10 ({facts.vote_count:,} votes)"))
    return rows


def tmdb_url(post: BlogPost) -> str:
    return f"https://www.themoviedb.org/{post.media_type}/{post.tmdb_id}"


Renderer = Callable[[AsyncSession, Request[Any, Any, Any]], Awaitable[tuple[str, str]]]


async def _listing(
    session: AsyncSession, request: Request[Any, Any, Any], page: int, tag: str | None
) -> tuple[str, str]:
    found, total = await posts.list_published(session, page=page, page_size=POSTS_PER_PAGE, tag=tag)
    pages = max(1, -(-total // POSTS_PER_PAGE))
    if page > pages:
        raise NotFound(f"there is no page {page}: the blog has {pages}")
    html = _render(request, "blog/index.html", posts=found, page=page, pages=pages, tag=tag, total=total,
                   published_on=published_on)  # fmt: skip
    return html, HTML


async def _post(session: AsyncSession, request: Request[Any, Any, Any], slug: str) -> tuple[str, str]:
    post = await posts.get_published(session, slug)
    url = f"{_base_url(request)}/blog/{post.slug}"
    html = _render(request, "blog/post.html", post=post, url=url, body=render_markdown(post.body),
                   ld=review_ld(post, url), published=published_on(post), tmdb=tmdb_url(post),
                   facts=fact_rows(post))  # fmt: skip
    return html, HTML


async def _feed(session: AsyncSession, request: Request[Any, Any, Any]) -> tuple[str, str]:
    newest, _ = await posts.list_published(session, page=1, page_size=FEED_POSTS)
    return atom_feed(newest, _base_url(request)), ATOM_XML


async def _sitemap(session: AsyncSession, request: Request[Any, Any, Any]) -> tuple[str, str]:
    return sitemap(await posts.published_refs(session, SITEMAP_POSTS), _base_url(request)), XML


class BlogPages(Controller):
    include_in_schema = False
    opt = EXCLUDE
    exception_handlers = {NotFound: missing}

    def __init__(self, owner: Any) -> None:
        super().__init__(owner)
        self.cache = PageCache()

    async def _cached(
        self, request: Request[Any, Any, Any], engine: AsyncEngine, renderer: Renderer, page: int = 1
    ) -> Response[bytes]:
        async def render() -> tuple[str, str]:
            async with AsyncSession(engine) as session:
                return await renderer(session, request)

        job_queue: JobQueue = request.app.state.job_queue
        try:
            version: int | None = await job_queue.blog_version()
        except RedisError:  # the blog still answers, from the database alone
            version = None
        return await self.cache.respond(request, render, version, page)

    @get("/blog")
    async def index(
        self, request: Request[Any, Any, Any], engine: NamedDependency[AsyncEngine], page: Page = 1
    ) -> Response[bytes]:
        return await self._cached(request, engine, partial(_listing, page=page, tag=None), page)

    @get("/blog/tags/{tag:str}")
    async def tag_page(
        self,
        request: Request[Any, Any, Any],
        engine: NamedDependency[AsyncEngine],
        tag: FromPath[str],
        page: Page = 1,
    ) -> Response[bytes]:
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise NotFound(f"no posts are tagged {tag[:MAX_TAG_LENGTH]!r}")
        return await self._cached(request, engine, partial(_listing, page=page, tag=tag), page)

    @get("/blog/feed.xml")
    async def feed(
        self, request: Request[Any, Any, Any], engine: NamedDependency[AsyncEngine]
    ) -> Response[bytes]:
        return await self._cached(request, engine, _feed)

    @get("/sitemap.xml")
    async def sitemap_xml(
        self, request: Request[Any, Any, Any], engine: NamedDependency[AsyncEngine]
    ) -> Response[bytes]:
        return await self._cached(request, engine, _sitemap)

    @get("/blog/{slug:str}")
    async def post(
        self, request: Request[Any, Any, Any], engine: NamedDependency[AsyncEngine], slug: FromPath[str]
    ) -> Response[bytes]:
        return await self._cached(request, engine, partial(_post, slug=slug))
