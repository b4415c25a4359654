"""Blog posts: list, read, edit, preview, publish (now or at a time), unpublish and delete. Users
see their own posts and everyone's published ones; admins see all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import posts, publishing
from blogqueue.jobqueue import JobQueue
from blogqueue.models import BlogPost, PostStatus
from blogqueue.post_edits import PostEdit, edit_post
from blogqueue.schemas import (
    MAX_PAGE,
    MAX_ROW_ID,
    Post,
    PostPage,
    PostSummary,
    Preview,
    PreviewIn,
    ScheduleIn,
)
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source
from webapi.auth import CurrentUser
from webapi.fresh_answers import FreshAnswers
from webapi.openapi import errors
from webapi.pages.markdown import render_markdown

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


WireT = TypeVar("WireT", bound=PostSummary)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _maybe_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


def _wire(row: BlogPost, schema: type[WireT]) -> WireT:
    wire = msgspec.convert(row, schema, from_attributes=True)
    # SQLite hands timestamps back naive (they are stored in UTC); say UTC on the wire, as PostgreSQL does.
    return msgspec.structs.replace(
        wire, created_at=_utc(wire.created_at), published_at=_maybe_utc(wire.published_at)
    )


def _post(row: BlogPost) -> Post:
    wire = _wire(row, Post)
    return msgspec.structs.replace(
        wire, edited_at=_maybe_utc(wire.edited_at), publish_at=_maybe_utc(wire.publish_at)
    )


async def _changed(job_queue: JobQueue, row: BlogPost) -> Post:
    """A post whose public face may have changed: the public blog's kept pages are stale."""
    await job_queue.blog_changed()
    return _post(row)


def _summary(row: BlogPost) -> PostSummary:
    return _wire(row, PostSummary)


async def _set_status(
    session: AsyncSession, user: CurrentUser, settings: Settings, slug: str, status: PostStatus
) -> BlogPost:
    return await posts.set_post_status(
        session, user, slug, status, authors_can_publish=settings.authors_can_publish
    )


class PostsController(Controller):
    path = "/api/blog/posts"
    tags = ["posts"]

    def __init__(self, owner: Any) -> None:
        super().__init__(owner)
        self.pages = FreshAnswers[PostPage]()

    # Arguments carry the wire names: Litestar reports the argument's name, not a query alias, in
    # validation errors (litestar-org/litestar#4215), and a client must see the name it sent.
    @get("/", summary="Posts the caller may see, newest first, filtered and paged", responses=errors(422))
    async def list_posts(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1,
        pageSize: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,  # noqa: N803
        status: FromQuery[PostStatus | None] = None,
        mediaType: FromQuery[MediaType | None] = None,  # noqa: N803
        source: FromQuery[Source | None] = None,
        model: FromQuery[str | None] = None,
        runId: Annotated[int | None, QueryParameter(ge=1, le=MAX_ROW_ID)] = None,  # noqa: N803
        userId: Annotated[  # noqa: N803
            int | None,
            QueryParameter(
                ge=1, le=MAX_ROW_ID, description="An author; users still see only published posts of others"
            ),
        ] = None,
    ) -> PostPage:
        filters = posts.PostFilters(
            status=status, media_type=mediaType, source=source, model=model, run_id=runId, user_id=userId
        )

        async def build() -> PostPage:
            rows, total = await posts.list_posts(
                db_session, request.user, filters, page=page, page_size=pageSize
            )
            return PostPage([_summary(row) for row in rows], page, pageSize, total)

        version = await job_queue.posts_version()
        return await self.pages.get((request.user, filters, page, pageSize), version, build)

    @get("/{slug:str}", summary="One post with its markdown body", responses=errors(404))
    async def read(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
    ) -> Post:
        return _post(await posts.get_visible_post(db_session, request.user, slug))

    @post("/preview", summary="A post body's markdown as the post page shows it", status_code=200,
          responses=errors(422))  # fmt: skip
    async def preview(self, data: JSONBody[PreviewIn]) -> Preview:
        return Preview(str(render_markdown(data.body)))

    @patch(
        "/{slug:str}",
        summary="Edit a post (author or admin); `version` must be the one read",
        responses=errors(403, 404, 409, 422),
    )
    async def edit(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        slug: FromPath[str],
        data: JSONBody[PostEdit],
    ) -> Post:
        return await _changed(job_queue, await edit_post(db_session, request.user, slug, data))

    @post(
        "/{slug:str}/schedule",
        summary="Publish a draft at a time (admin, or author if allowed), replacing an earlier schedule",
        status_code=200,
        responses=errors(403, 404, 409, 422),
    )
    async def schedule(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        slug: FromPath[str],
        settings: NamedDependency[Settings],
        data: JSONBody[ScheduleIn],
    ) -> Post:
        scheduled = await publishing.schedule(
            db_session,
            job_queue,
            request.user,
            slug,
            data.publish_at,
            authors_can_publish=settings.authors_can_publish,
        )
        return _post(scheduled)

    @delete(
        "/{slug:str}/schedule",
        summary="Cancel a scheduled publication (admin, or author if authors may publish)",
        status_code=200,
        responses=errors(403, 404),
    )
    async def cancel_schedule(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
    ) -> Post:
        return _post(
            await publishing.cancel(
                db_session, job_queue, request.user, slug, authors_can_publish=settings.authors_can_publish
            )
        )

    @post(
        "/{slug:str}/publish",
        summary="Publish a complete post (admin, or author if authors may publish)",
        status_code=200,
        responses=errors(403, 404, 409),
    )
    async def publish(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
    ) -> Post:
        return await _changed(
            job_queue, await _set_status(db_session, request.user, settings, slug, PostStatus.PUBLISHED)
        )

    @post(
        "/{slug:str}/unpublish",
        summary="Turn a post back into a draft (admin, or author if authors may publish)",
        status_code=200,
        responses=errors(403, 404),
    )
    async def unpublish(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
    ) -> Post:
        return await _changed(
            job_queue, await _set_status(db_session, request.user, settings, slug, PostStatus.DRAFT)
        )

    @delete(
        "/{slug:str}",
        summary="Delete a post and free its title for later runs (author or admin)",
        responses=errors(403, 404),
    )
    async def remove(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        slug: FromPath[str],
    ) -> None:
        await posts.delete_post(db_session, request.user, slug)
        await job_queue.blog_changed()
