"""Editing a post by hand: every field checked with a message that names it as the editor labels it,
and a version check so two editors never silently overwrite each other. The generation record
(model, provider, tokens, cost, run, job) is never touched."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.errors import Conflict, InvalidInput
from blogqueue.models import BlogPost, utcnow
from blogqueue.posts import MAX_SLUG_LENGTH, Viewer, editable_post

MAX_TITLE = 300
MAX_EXCERPT = 1_000
MAX_BODY = 100_000
MAX_TAGS = 20
MAX_TAG = 40
MAX_POSTER_URL = 500
_Text = Annotated[str, msgspec.Meta(max_length=10_000)]
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class PostEdit(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """The editor's form; a field left None keeps its value. `poster_url` "" removes the poster.
    The wire bounds only keep the work bounded: `check` says what is wrong in words."""

    version: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    title: _Text | None = None
    slug: _Text | None = None
    excerpt: _Text | None = None
    tags: Annotated[list[_Text], msgspec.Meta(max_length=200)] | None = None
    body: Annotated[str, msgspec.Meta(max_length=2 * MAX_BODY)] | None = None
    poster_url: _Text | None = None


Checked = tuple[object, str | None]  # the cleaned value, and what is wrong with it if anything


def _title(title: str) -> Checked:
    title = title.strip()
    return title, None if 0 < len(
        title
    ) <= MAX_TITLE else f"Title is required, at most {MAX_TITLE} characters"


def _slug(slug: str) -> Checked:
    slug = slug.strip()
    if len(slug) <= MAX_SLUG_LENGTH and _SLUG.fullmatch(slug):
        return slug, None
    return slug, f"Slug: 1-{MAX_SLUG_LENGTH} lower-case letters and digits, joined by '-'"


def _excerpt(excerpt: str) -> Checked:
    excerpt = excerpt.strip()
    return excerpt, None if len(excerpt) <= MAX_EXCERPT else f"Excerpt: at most {MAX_EXCERPT} characters"


def _tags(tags: list[str]) -> Checked:
    cleaned = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    if len(cleaned) > MAX_TAGS:
        return cleaned, f"Tags: at most {MAX_TAGS}"
    if any(len(tag) > MAX_TAG for tag in cleaned):
        return cleaned, f"Tags: each at most {MAX_TAG} characters"
    return cleaned, None


def _body(body: str) -> Checked:
    return body, None if body.strip() and len(
        body
    ) <= MAX_BODY else f"Body is required, at most {MAX_BODY:,} characters"


def _poster(url: str) -> Checked:
    """Empty (no poster) or an https URL with a host."""
    url = url.strip()
    parts = urlsplit(url)
    if not url or (
        len(url) <= MAX_POSTER_URL and parts.scheme == "https" and parts.hostname and " " not in url
    ):
        return url or None, None
    return url, f"Poster URL must be an https:// address of at most {MAX_POSTER_URL} characters"


# (wire name, column, check): the wire name is what a 422 names, so the editor finds the field.
_CHECKS: tuple[tuple[str, str, Callable[[Any], Checked]], ...] = (
    ("title", "title", _title),
    ("slug", "slug", _slug),
    ("excerpt", "excerpt", _excerpt),
    ("tags", "tags", _tags),
    ("body", "body", _body),
    ("posterUrl", "poster_url", _poster),
)


def check(edit: PostEdit) -> dict[str, object]:
    """The columns to change, cleaned; InvalidInput listing every bad field."""
    changes: dict[str, object] = {}
    problems: list[tuple[str, str]] = []
    for field, column, checked in _CHECKS:
        if (value := getattr(edit, column)) is not None:
            changes[column], problem = checked(value)
            if problem:
                problems.append((field, problem))
    if problems:
        raise InvalidInput.of(problems)
    return changes


async def edit_post(session: AsyncSession, viewer: Viewer, slug: str, edit: PostEdit) -> BlogPost:
    """Apply an edit made on `edit.version` of the post; Conflict if someone saved since."""
    changes = check(edit)
    post = await editable_post(session, viewer, slug)
    new_slug = changes.get("slug")
    if new_slug not in (None, post.slug) and await _slug_taken(session, str(new_slug)):
        raise InvalidInput("Slug is already used by another post", field="slug")
    stale = Conflict(
        "Someone saved this post after you opened it. Reload to see their changes, then edit again."
    )
    if post.version != edit.version:
        raise stale
    # The version check and the write are one statement: two saves of one version cannot both win.
    saved = (
        update(BlogPost)
        .where(col(BlogPost.id) == post.id, col(BlogPost.version) == edit.version)
        .values(**changes, version=edit.version + 1, edited_at=utcnow(), updated_at=utcnow())
    )
    connection = await session.connection()
    try:
        result = await connection.execute(saved)
    except IntegrityError as err:  # another post took the slug meanwhile
        await session.rollback()
        raise InvalidInput("Slug is already used by another post", field="slug") from err
    if result.rowcount != 1:
        await session.rollback()
        raise stale
    await session.commit()
    await session.refresh(post)
    return post


async def _slug_taken(session: AsyncSession, slug: str) -> bool:
    return (await session.exec(select(col(BlogPost.id)).where(BlogPost.slug == slug))).first() is not None
