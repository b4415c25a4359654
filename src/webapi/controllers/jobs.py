"""Jobs on the queue: list, inspect, retry, promote and remove. Users reach their own jobs (others'
read as missing); admins reach every job."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import job_admin, removals
from blogqueue.job_admin import MAX_PAGE_SIZE
from blogqueue.jobqueue import JobQueue
from blogqueue.queues import LISTED_STATES
from blogqueue.schemas import MAX_PAGE, MAX_ROW_ID, JobDetail, JobItem, JobPage
from webapi.auth import CurrentUser
from webapi.openapi import errors


class JobsController(Controller):
    path = "/api/jobs"
    tags = ["jobs"]

    # Arguments carry the wire names: Litestar names the argument, not a query alias, in
    # validation errors (litestar-org/litestar#4215), and a client must see the name it sent.
    # `state` is reserved for the app state, so that one arrives as text and job_admin parses it.
    @get(
        "/",
        summary="The caller's jobs in one state, newest first (admins: everyone's, or one user's)",
        responses=errors(403, 422),
    )
    async def list_jobs(
        self,
        request: Request[CurrentUser, Any, Any],
        job_queue: NamedDependency[JobQueue],
        job_state: Annotated[
            str,
            QueryParameter(
                name="state", enum=[state.value for state in LISTED_STATES], description="Job state"
            ),
        ],
        page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1,
        pageSize: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 20,  # noqa: N803
        userId: Annotated[  # noqa: N803
            int | None,
            QueryParameter(
                ge=1, le=MAX_ROW_ID, description="Only this user's jobs (users: only their own id)"
            ),
        ] = None,
    ) -> JobPage:
        state = job_admin.parse_state(job_state)
        owner = job_admin.listing_owner(request.user, userId)
        return await job_admin.list_jobs(job_queue, state, owner=owner, page=page, page_size=pageSize)

    @get(
        "/{job_id:str}",
        summary="One job with its options, logs, stack trace and return value",
        responses=errors(404),
    )
    async def read(
        self,
        request: Request[CurrentUser, Any, Any],
        job_queue: NamedDependency[JobQueue],
        job_id: FromPath[str],
    ) -> JobDetail:
        return await job_admin.get_job(job_queue, request.user, job_id)

    @post(
        "/{job_id:str}/retry",
        summary="Move a failed job back to waiting (409 otherwise)",
        status_code=200,
        responses=errors(404, 409),
    )
    async def retry(
        self,
        request: Request[CurrentUser, Any, Any],
        job_queue: NamedDependency[JobQueue],
        job_id: FromPath[str],
    ) -> JobItem:
        return await job_admin.retry_job(job_queue, request.user, job_id)

    @post(
        "/{job_id:str}/promote",
        summary="Run a delayed job now (409 otherwise)",
        status_code=200,
        responses=errors(404, 409),
    )
    async def promote(
        self,
        request: Request[CurrentUser, Any, Any],
        job_queue: NamedDependency[JobQueue],
        job_id: FromPath[str],
    ) -> JobItem:
        return await job_admin.promote_job(job_queue, request.user, job_id)

    @delete(
        "/{job_id:str}",
        summary="Remove a job that is not running (409 for an active job: cancel it)",
        responses=errors(404, 409),
    )
    async def remove(
        self,
        request: Request[CurrentUser, Any, Any],
        job_queue: NamedDependency[JobQueue],
        db_session: NamedDependency[AsyncSession],
        job_id: FromPath[str],
    ) -> None:
        await removals.remove_job(db_session, job_queue, request.user, job_id)
