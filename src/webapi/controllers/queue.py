"""Queue administration."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from blogqueue.jobqueue import JobQueue, QueueMetrics
from webapi.auth import require_admin


class QueueController(Controller):
    path = "/api/admin/queue"
    tags = ["queue"]
    guards = [require_admin]

    @get("/metrics", summary="Job counts per state (the seed's getQueueMetrics)")
    async def metrics(self, job_queue: NamedDependency[JobQueue]) -> QueueMetrics:
        return await job_queue.get_queue_metrics()
