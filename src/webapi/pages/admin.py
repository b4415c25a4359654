"""The signed-in pages: server-rendered from the same core calls the API makes; the little
JavaScript in static/ calls the API for every change (save, start, stop, publish, retry...).
Admins have them all; an author (a plain user) has those marked AUTHORS_TOO, about their own
AI settings and posts."""

from __future__ import annotations

from itertools import groupby
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, PathParameter, QueryParameter
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import ai_settings, job_admin, posts, run_views, runs
from blogqueue.errors import NotFound, Unauthorized
from blogqueue.job_labels import label_jobs
from blogqueue.jobqueue import JobQueue
from blogqueue.models import PostStatus, User
from blogqueue.providers import PROVIDERS, keyed
from blogqueue.publishing import epoch_ms
from blogqueue.queues import LISTED_STATES, JobState
from blogqueue.registry import AiModel, ModelRegistry
from blogqueue.run_views import TYPICAL_INPUT_TOKENS, TYPICAL_OUTPUT_TOKENS
from blogqueue.schemas import MAX_PAGE, MAX_ROW_ID
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source
from blogqueue.waits import STATE_WORDS, hold_ups
from webapi.auth import CurrentUser
from webapi.pages.errors import admins_only, bad_address, not_found
from webapi.pages.markdown import render_markdown
from webapi.pages.session import EXCLUDE, AdminsOnly, page_admin, page_user, to_sign_in

POSTS_PER_PAGE = 20
JOBS_PER_PAGE = 50
RUN_TITLES = 100  # a run page lists this many of its titles (a batch has at most 50)
AUTHORS_TOO = {"current_user": Provide(page_user)}  # the pages a plain user (an author) may use


def _page(name: str, user: CurrentUser, **context: Any) -> Template:
    return Template(template_name=name, context={"user": user, **context})


def model_choices(registry: ModelRegistry) -> list[tuple[str, list[dict[str, Any]]]]:
    """Models grouped by provider, with what a person needs to pick one: status and price."""

    def choice(model: AiModel) -> dict[str, Any]:
        price = model.prices[-1]
        per_post = registry.estimate_cost_usd(model.id, TYPICAL_INPUT_TOKENS, TYPICAL_OUTPUT_TOKENS)
        return {"model": model, "price": price, "per_post": per_post}

    models = sorted(registry.all(), key=lambda model: model.provider)
    return [
        (provider, [choice(m) for m in group]) for provider, group in groupby(models, lambda m: m.provider)
    ]


def _unkeyed(view: ai_settings.AiSettingsView, registry: ModelRegistry) -> dict[str, str] | None:
    """The preferred model and its provider's name, when that provider has no key to use."""
    model = ai_settings.unkeyed_model(view, registry)
    if model is None:
        return None
    return {"model": model.display_name, "provider": PROVIDERS[model.provider].label}


def _enum_or_none(kind: type[Any], value: str | None) -> Any:
    try:
        return kind(value) if value else None
    except ValueError:
        return None


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    opt = EXCLUDE
    dependencies = {"current_user": Provide(page_admin)}  # admins only, unless a page says AUTHORS_TOO
    exception_handlers = {
        Unauthorized: to_sign_in,
        AdminsOnly: admins_only,
        NotFound: not_found,
        ValidationException: bad_address,
    }

    @get("/settings/ai", dependencies=AUTHORS_TOO)
    async def ai_settings_page(
        self,
        current_user: NamedDependency[CurrentUser],
        user_row: NamedDependency[User],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        registry: NamedDependency[ModelRegistry],
    ) -> Template:
        view = await ai_settings.get_ai_settings(db_session, settings, user_row)
        keys = [(p.value, PROVIDERS[p].label, ai_settings.KEY_FIELDS[p]) for p in keyed()]
        groups = model_choices(registry)
        unkeyed = _unkeyed(view, registry)
        return _page("ai_settings.html", current_user, view=view, keys=keys, groups=groups, unkeyed=unkeyed)

    @get("/blog/auto-generate")
    async def auto_generate_page(
        self,
        current_user: NamedDependency[CurrentUser],
        user_row: NamedDependency[User],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        registry: NamedDependency[ModelRegistry],
    ) -> Template:
        view = await ai_settings.get_ai_settings(db_session, settings, user_row)
        return _page(
            "auto_generate.html",
            current_user,
            groups=model_choices(registry),
            preferred=user_row.preferred_ai_model,
            unkeyed=_unkeyed(view, registry),
            sources=list(Source),
            media_types=list(MediaType),
        )

    @get("/blog/runs/{run_id:int}")
    async def run_page(
        self,
        current_user: NamedDependency[CurrentUser],
        db_session: NamedDependency[AsyncSession],
        job_queue: NamedDependency[JobQueue],
        settings: NamedDependency[Settings],
        run_id: Annotated[int, PathParameter(ge=1, le=MAX_ROW_ID)],
    ) -> Template:
        run = await runs.get_run(db_session, run_id)
        status = await run_views.status_page(db_session, job_queue, settings, run.user_id, run_id=run_id)
        jobs = await run_views.post_outcomes(db_session, job_queue, run_id, page=1, page_size=RUN_TITLES)
        (view,) = status.runs
        titles = run_views.every_title(view, jobs)
        return _page("run.html", current_user, run=view, filters=run.filters, priority=run.priority,
                     plan_job_id=run.plan_job_id, titles=titles, hold_ups=status.hold_ups,
                     words=STATE_WORDS, more=jobs.total > RUN_TITLES)  # fmt: skip

    @get("/blog/posts", dependencies=AUTHORS_TOO)
    async def posts_page(
        self,
        current_user: NamedDependency[CurrentUser],
        db_session: NamedDependency[AsyncSession],
        page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1,
        status: FromQuery[str | None] = None,
        mediaType: FromQuery[str | None] = None,  # noqa: N803 - the API's query names
        runId: Annotated[int | None, QueryParameter(ge=1, le=MAX_ROW_ID)] = None,  # noqa: N803
    ) -> Template:
        filters = posts.PostFilters(
            status=_enum_or_none(PostStatus, status),
            media_type=_enum_or_none(MediaType, mediaType),
            run_id=runId,
            user_id=None if current_user.is_admin else current_user.id,  # an author's list: My posts
        )
        rows, total = await posts.list_posts(
            db_session, current_user, filters, page=page, page_size=POSTS_PER_PAGE
        )
        pages = max(1, -(-total // POSTS_PER_PAGE))
        return _page(
            "posts.html",
            current_user,
            posts=rows,
            total=total,
            page=page,
            pages=pages,
            status=filters.status,
            media_type=filters.media_type,
            run_id=runId,
            statuses=list(PostStatus),
            media_types=list(MediaType),
        )

    @get("/blog/posts/{slug:str}", dependencies=AUTHORS_TOO)
    async def post_page(
        self,
        current_user: NamedDependency[CurrentUser],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
    ) -> Template:
        post = await posts.authored_post(db_session, current_user, slug)
        can_publish = posts.may_publish(current_user, settings.authors_can_publish)
        body = render_markdown(post.body)
        return _page("post.html", current_user, post=post, body=body, ms=epoch_ms, can_publish=can_publish)

    @get("/blog/posts/{slug:str}/edit", dependencies=AUTHORS_TOO)
    async def edit_page(
        self,
        current_user: NamedDependency[CurrentUser],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
    ) -> Template:
        post = await posts.authored_post(db_session, current_user, slug)
        return _page("post_edit.html", current_user, post=post, body=render_markdown(post.body))

    @get("/queue")
    async def queue_page(
        self,
        current_user: NamedDependency[CurrentUser],
        job_queue: NamedDependency[JobQueue],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
        job_state: Annotated[str, QueryParameter(name="state")] = "waiting",  # `state` is reserved
        page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1,
    ) -> Template:
        chosen = _enum_or_none(JobState, job_state) or JobState.WAITING
        report = await job_admin.queue_report(job_queue)
        jobs = await job_admin.list_jobs(job_queue, chosen, owner=None, page=page, page_size=JOBS_PER_PAGE)
        held = await hold_ups(job_queue, settings, report)
        day = await job_admin.daily_throughput(job_queue)
        labels = await label_jobs(db_session, jobs.items)
        return _page("queue.html", current_user, report=report, jobs=jobs, chosen=chosen, labels=labels,
                     states=LISTED_STATES, words=STATE_WORDS, hold_ups=held, day=day)  # fmt: skip

    @get("/queue/find")
    async def find_job(
        self,
        current_user: NamedDependency[CurrentUser],
        job_id: Annotated[str, QueryParameter(name="id", max_length=300)] = "",
    ) -> Redirect:
        """The search box: a job id goes to its page (which says so when there is no such job)."""
        target = f"/admin/queue/jobs/{quote(job_id.strip(), safe='')}" if job_id.strip() else "/admin/queue"
        return Redirect(target, status_code=303)

    @get("/queue/workers")
    async def workers_page(
        self, current_user: NamedDependency[CurrentUser], job_queue: NamedDependency[JobQueue]
    ) -> Template:
        return _page("workers.html", current_user, workers=await job_queue.workers())

    @get("/queue/jobs/{job_id:str}")
    async def job_page(
        self,
        current_user: NamedDependency[CurrentUser],
        job_queue: NamedDependency[JobQueue],
        db_session: NamedDependency[AsyncSession],
        job_id: FromPath[str],
    ) -> Template:
        job = await job_admin.get_job(job_queue, current_user, job_id)
        labels = await label_jobs(db_session, [job])
        return _page("job.html", current_user, job=job, label=labels[job.id], words=STATE_WORDS)
