"""Blog posts and the usage that paid for them. One post per title (media type + TMDb id), ever:
the database enforces it, whatever retries, crashes or parallel workers do."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import msgspec
from sqlalchemy import ColumnElement, Text, bindparam, cast, func, insert, inspect, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import claims
from blogqueue.errors import Conflict, Forbidden, NotFound
from blogqueue.models import BlogPost, GenerationRun, PostStatus, UsageRecord, utcnow
from blogqueue.providers import Provider
from blogqueue.titles import MediaType, Source, TitleDetails, TitleFacts

MAX_SLUG_LENGTH = 80
_SLUG_ATTEMPTS = 20


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG_LENGTH].rstrip("-") or "post"


class PostRef(NamedTuple):
    """What a post job needs to know of a title's post written already."""

    id: int
    slug: str
    job_id: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    incomplete: bool


_FIND_REF = select(*(col(getattr(BlogPost, name)) for name in PostRef._fields)).where(
    col(BlogPost.media_type) == bindparam("media_type"), col(BlogPost.tmdb_id) == bindparam("tmdb_id")
)


async def find_post_ref(session: AsyncSession, media_type: MediaType, tmdb_id: int) -> PostRef | None:
    """The title's post, if any, in one Core query (a post job asks this first, every time)."""
    connection = await session.connection()
    row = (await connection.execute(_FIND_REF, {"media_type": media_type, "tmdb_id": tmdb_id})).first()
    return PostRef(*row) if row is not None else None


async def find_post(session: AsyncSession, media_type: MediaType, tmdb_id: int) -> BlogPost | None:
    query = select(BlogPost).where(BlogPost.media_type == media_type, BlogPost.tmdb_id == tmdb_id)
    return (await session.exec(query)).first()


def draft_for(
    run: GenerationRun, details: TitleDetails, *, model: str, provider: Provider, job_id: str
) -> BlogPost:
    """An unsaved post about a title for a run; `save_post` fills in what its job's calls cost."""
    year = f" {details.year}" if details.year else ""
    return BlogPost(
        slug=slugify(f"{details.title}{year}"),
        title=f"{details.title}{year}",
        excerpt="",
        body="",
        tmdb_id=details.tmdb_id,
        media_type=details.media_type,
        poster_url=details.poster_url,
        facts=msgspec.to_builtins(TitleFacts.of(details)),
        source=run.source,
        model=model,
        provider=provider,
        user_id=run.user_id,
        run_id=run.id,
        job_id=job_id,
    )


async def save_post(session: AsyncSession, post: BlogPost, usage: UsageRecord | None = None) -> BlogPost:
    """Insert the post with a unique slug and count it for its run, charging `usage` (its last
    provider call) to the run on the way: one transaction. The post carries the tokens and cost of
    every call its job made, retries included.

    A post is the hot path of the worker, so this is SQLAlchemy Core: a handful of statements, no
    unit of work. Raises Conflict if the title already has a post. A slug clash rolls the session
    back, which expires other objects it holds: give it a session of its own.
    """
    base = post.slug
    for attempt in range(_SLUG_ATTEMPTS):
        post.slug = base if attempt == 0 else f"{base}-{attempt + 1}"
        try:
            await _insert(session, post, usage)
            await session.commit()
        except IntegrityError as err:
            await session.rollback()
            if await find_post(session, post.media_type, post.tmdb_id) is not None:
                raise Conflict(f"{post.media_type} {post.tmdb_id} already has a post") from err
            continue  # the slug was taken: try the next one
        return post
    raise Conflict(f"no free slug for {base!r}")


# Built once: a post is the worker's hot path, and building a statement costs more than running it.
_SPENT = {
    name: select(func.coalesce(func.sum(column), zero))
    .where(col(UsageRecord.job_id) == bindparam("spent_by"))
    .scalar_subquery()
    for name, column, zero in (
        ("tokens_in", UsageRecord.tokens_in, 0),
        ("tokens_out", UsageRecord.tokens_out, 0),
        ("cost_usd", UsageRecord.cost_usd, 0.0),
    )
}
_INSERT_POST = (
    insert(BlogPost)
    .values(_SPENT)
    .returning(col(BlogPost.id), col(BlogPost.tokens_in), col(BlogPost.tokens_out), col(BlogPost.cost_usd))
)
_INSERT_USAGE = insert(UsageRecord)
_COUNT_POST = (
    update(GenerationRun)
    .where(col(GenerationRun.id) == bindparam("run"))
    .values(
        posts_done=GenerationRun.posts_done + bindparam("done"),
        tokens_in=GenerationRun.tokens_in + bindparam("add_in"),
        tokens_out=GenerationRun.tokens_out + bindparam("add_out"),
        cost_usd=GenerationRun.cost_usd + bindparam("add_cost"),
    )
)


async def _insert(session: AsyncSession, post: BlogPost, usage: UsageRecord | None) -> None:
    """Usage, run counters (one UPDATE, so parallel workers never lose an increment) and the post."""
    connection = await session.connection()
    if usage is not None:
        await connection.execute(_INSERT_USAGE, _columns(usage))
    if post.run_id is not None and (usage is not None or not post.incomplete):
        tokens_in, tokens_out, cost = (
            (usage.tokens_in, usage.tokens_out, usage.cost_usd) if usage else (0, 0, 0.0)
        )
        counts = {
            "done": int(not post.incomplete),
            "add_in": tokens_in,
            "add_out": tokens_out,
            "add_cost": cost,
        }
        await connection.execute(_COUNT_POST, counts | {"run": post.run_id})
    values = {name: value for name, value in _columns(post).items() if name not in _SPENT}
    row = (await connection.execute(_INSERT_POST, values | {"spent_by": post.job_id})).one()
    post.id, post.tokens_in, post.tokens_out, post.cost_usd = row


def _columns(row: SQLModel) -> dict[str, Any]:
    """A row's column values but its id, for an INSERT (model_dump would re-validate every field)."""
    return {attr.key: getattr(row, attr.key) for attr in inspect(type(row)).column_attrs if attr.key != "id"}


class Viewer(Protocol):
    """Who is asking; webapi's CurrentUser is one."""

    @property
    def id(self) -> int: ...

    @property
    def is_admin(self) -> bool: ...


class PostFilters(msgspec.Struct, frozen=True, kw_only=True):
    """Each field is a BlogPost column; a field left None does not filter."""

    status: PostStatus | None = None
    media_type: MediaType | None = None
    source: Source | None = None
    model: str | None = None
    run_id: int | None = None
    user_id: int | None = None  # narrows what the viewer may see, never widens it


def _visible_to(viewer: Viewer) -> list[ColumnElement[bool]]:
    if viewer.is_admin:
        return []
    return [or_(col(BlogPost.user_id) == viewer.id, col(BlogPost.status) == PostStatus.PUBLISHED)]


def _matching(filters: PostFilters) -> list[ColumnElement[bool]]:
    wanted = msgspec.structs.asdict(filters)
    return [getattr(BlogPost, name) == value for name, value in wanted.items() if value is not None]


async def list_posts(
    session: AsyncSession, viewer: Viewer, filters: PostFilters, *, page: int, page_size: int
) -> tuple[list[BlogPost], int]:
    """One page of the posts the viewer may see, newest first, and how many match in all."""
    where = [*_visible_to(viewer), *_matching(filters)]
    total = (await session.exec(select(func.count()).select_from(BlogPost).where(*where))).one()
    query = (
        select(BlogPost)
        .where(*where)
        .order_by(col(BlogPost.created_at).desc(), col(BlogPost.id).desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list((await session.exec(query)).all()), total


async def get_visible_post(session: AsyncSession, viewer: Viewer, slug: str) -> BlogPost:
    """The post, if the viewer may see it; NotFound alike whether it is missing or someone's draft."""
    query = select(BlogPost).where(BlogPost.slug == slug, *_visible_to(viewer))
    post = (await session.exec(query)).first()
    if post is None:
        raise NotFound(f"post {slug!r} does not exist")
    return post


async def authored_post(session: AsyncSession, viewer: Viewer, slug: str) -> BlogPost:
    """The post, if the viewer wrote it or is an admin; NotFound alike whether it is missing or
    someone else's, published or not (the author's pages never show another's post)."""
    mine = [] if viewer.is_admin else [col(BlogPost.user_id) == viewer.id]
    post = (await session.exec(select(BlogPost).where(BlogPost.slug == slug, *mine))).first()
    if post is None:
        raise NotFound(f"post {slug!r} does not exist")
    return post


async def editable_post(session: AsyncSession, viewer: Viewer, slug: str) -> BlogPost:
    """The post, if the viewer may change it: its author or an admin."""
    post = await get_visible_post(session, viewer, slug)
    if post.user_id != viewer.id and not viewer.is_admin:
        raise Forbidden("only the post's author or an admin may change it")
    return post


def may_publish(viewer: Viewer, authors_can_publish: bool) -> bool:
    """Admins always; authors only while the site lets them (`Settings.authors_can_publish`)."""
    return viewer.is_admin or authors_can_publish


async def publishable_post(
    session: AsyncSession, viewer: Viewer, slug: str, *, authors_can_publish: bool
) -> BlogPost:
    """The post, if the viewer may publish, schedule or unpublish it."""
    post = await editable_post(session, viewer, slug)
    if not may_publish(viewer, authors_can_publish):
        raise Forbidden("On this site only an admin may publish, schedule or unpublish posts")
    return post


async def set_post_status(
    session: AsyncSession, viewer: Viewer, slug: str, status: PostStatus, *, authors_can_publish: bool
) -> BlogPost:
    """Publish or unpublish, either of which replaces a scheduled publication (its job then finds
    nothing to do); publishing again keeps the first publication time."""
    post = await publishable_post(session, viewer, slug, authors_can_publish=authors_can_publish)
    if status is PostStatus.PUBLISHED and post.incomplete:
        raise Conflict("this draft is incomplete (its generation was cut short) and cannot be published")
    if post.status != status or post.publish_at is not None:
        if post.status != status:
            post.published_at = utcnow() if status is PostStatus.PUBLISHED else None
        post.status = status
        post.publish_at = None
        return await save_changes(session, post)
    return post


async def save_changes(session: AsyncSession, post: BlogPost) -> BlogPost:
    """Commit changes made to a loaded post, stamping `updated_at`; the post as stored."""
    post.updated_at = utcnow()
    session.add(post)
    await session.commit()
    await session.refresh(post)
    return post


async def delete_post(session: AsyncSession, viewer: Viewer, slug: str) -> None:
    """Delete the post and its title's claim in one transaction, so a later run may pick the title."""
    post = await editable_post(session, viewer, slug)
    await claims.release(session, post.media_type, post.tmdb_id)
    await session.delete(post)
    await session.commit()


# -- the public blog: published posts only ------------------------------------------------------

_PUBLISHED = col(BlogPost.status) == PostStatus.PUBLISHED
_NEWEST_PUBLISHED = (col(BlogPost.published_at).desc(), col(BlogPost.id).desc())


def _tagged(tag: str) -> ColumnElement[bool]:
    """Posts whose JSON tag list holds `tag`: its JSON string in the column's text, so the same
    query runs on SQLite and PostgreSQL (LIKE wildcards in the tag are escaped)."""
    return cast(col(BlogPost.tags), Text).contains(json.dumps(tag), autoescape=True)


async def list_published(
    session: AsyncSession, *, page: int, page_size: int, tag: str | None = None
) -> tuple[list[BlogPost], int]:
    """One page of published posts, newest publication first, and how many there are in all."""
    where = [_PUBLISHED, *([_tagged(tag)] if tag is not None else [])]
    total = (await session.exec(select(func.count()).select_from(BlogPost).where(*where))).one()
    query = (
        select(BlogPost)
        .where(*where)
        .order_by(*_NEWEST_PUBLISHED)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list((await session.exec(query)).all()), total


async def get_published(session: AsyncSession, slug: str) -> BlogPost:
    """A published post; NotFound alike whether it is missing or a draft."""
    post = (await session.exec(select(BlogPost).where(BlogPost.slug == slug, _PUBLISHED))).first()
    if post is None:
        raise NotFound(f"post {slug!r} does not exist")
    return post


class PublishedRef(NamedTuple):
    slug: str
    updated_at: datetime


async def published_refs(session: AsyncSession, limit: int) -> list[PublishedRef]:
    """The newest `limit` published posts' slugs and last change, for a sitemap (two columns only)."""
    query = select(col(BlogPost.slug), col(BlogPost.updated_at)).where(_PUBLISHED)
    rows = await session.exec(query.order_by(*_NEWEST_PUBLISHED).limit(limit))
    return [PublishedRef(slug, updated_at) for slug, updated_at in rows.all()]
