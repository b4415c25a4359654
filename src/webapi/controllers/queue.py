"""Queue administration."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import job_admin, retries
from blogqueue.jobqueue import JobQueue, LiveWorker
from blogqueue.schemas import BulkRetryReport, CleanRequest, CleanResult, QueueReport
from webapi.auth import require_admin
from webapi.openapi import errors


class QueueController(Controller):
    path = "/api/admin/queue"
    tags = ["queue"]
    guards = [require_admin]

    @get(
        "/metrics",
        summary="Job counts per state, and last hour's throughput and failure rate",
        responses=errors(403),
    )
    async def metrics(self, job_queue: NamedDependency[JobQueue]) -> QueueReport:
        return await job_admin.queue_report(job_queue)

    @get(
        "/workers",
        summary="Workers on the queue; ours with host, pid, concurrency, current jobs, last heartbeat",
        responses=errors(403),
    )
    async def workers(self, job_queue: NamedDependency[JobQueue]) -> list[LiveWorker]:
        return await job_queue.workers()

    @post(
        "/clean",
        summary="Remove completed or failed jobs finished more than graceMs ago",
        status_code=200,
        responses=errors(403, 422),
    )
    async def clean(self, data: JSONBody[CleanRequest], job_queue: NamedDependency[JobQueue]) -> CleanResult:
        return await job_admin.clean_jobs(job_queue, data)

    @post(
        "/retry-failed",
        summary="Queue the newest 1,000 failed jobs again (post jobs through their run's Retry failed)",
        status_code=200,
        responses=errors(403),
    )
    async def retry_failed(
        self, db_session: NamedDependency[AsyncSession], job_queue: NamedDependency[JobQueue]
    ) -> BulkRetryReport:
        return await retries.retry_all_failed(db_session, job_queue)
