"""Blog posts: listing, reading, editing and publishing them. One post per title (media type +
TMDb id), ever: the database enforces it, whatever retries, crashes or parallel workers do. A post
job writes them through `post_jobs`."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from typing import NamedTuple, Protocol

import msgspec
from sqlalchemy import ColumnElement, Text, cast, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import claims
from blogqueue.errors import Conflict, Forbidden, NotFound
from blogqueue.models import BlogPost, PostStatus, utcnow
from blogqueue.titles import MediaType, Source

MAX_SLUG_LENGTH = 80


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG_LENGTH].rstrip("-") or "post"


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
