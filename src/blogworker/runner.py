"""Worker lifecycle: the bullmq Worker with our fixes, the cancel bridge and a clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from bullmq import Job, Worker
from redis.exceptions import RedisError

from blogqueue.connection import connection_options
from blogqueue.jobqueue import Heartbeat
from blogqueue.queues import PYTHON_WORKER_PREFIX, QUEUE_NAME, Keys, worker_connection_name
from blogqueue.settings import Settings
from blogworker import metrics
from blogworker.cancellation import CancelBridge
from blogworker.processor import HANDLERS, Handler, Processor
from blogworker.services import WorkerServices

log = structlog.get_logger("blogworker")

METRICS_DATA_POINTS = 2 * 24 * 60  # one point a minute for two days, read by Node's getMetrics
FORCE_CLOSE_WAIT_S = 5.0
STARTUP_TIMEOUT_S = 10.0
HEARTBEAT_S = 5  # how often a worker says what it runs
HEARTBEAT_TTL_S = 3 * HEARTBEAT_S  # a worker silent this long is gone from the workers view


class QueueWorker(Worker):  # type: ignore[misc] # bullmq is untyped
    """bullmq's Worker, plus what Node's Worker does and the Python one does not: when the
    limiter says "wait N ms", sleep exactly that long instead of the drain delay; and a
    connection named as Node names it, so Node tools list our workers."""

    limitUntil: int  # bullmq sets it to the limiter TTL (ms) after a refused fetch
    _client_name_set: bool  # bullmq's: whether the connection is named yet

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closing_event = asyncio.Event()
        self.clientName = worker_connection_name(self.prefix, self.workerName or "")

    async def getNextJob(self, token: str) -> Job | None:  # noqa: N802 - bullmq's name
        wait_ms = self.limitUntil
        if wait_ms <= 0 or self.closing:
            return await super().getNextJob(token)
        self.limitUntil = 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing_event.wait(), timeout=wait_ms / 1000)
        if self.closing:
            return None
        job: Job | None = await self.moveToActive(token)
        if job is not None:
            self.emit("active", job, "waiting")
        return job

    async def close(self, force: bool = False) -> None:
        self._closing_event.set()
        await super().close(force)

    async def _ensure_client_names(self) -> None:
        """Name only the blocking connection, and the way Node does: one entry per worker in
        CLIENT LIST, which Node's getWorkers(), bull-board and our JobQueue.workers() all read."""
        if not self._client_name_set:
            await self.blockingRedisConnection.set_client_name(self.clientName)
            self._client_name_set = True


def worker_options(settings: Settings, name: str) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "autorun": False,
        "name": name,
        "prefix": settings.queue_prefix,
        "connection": connection_options(settings),
        "concurrency": settings.worker_concurrency,
        "lockDuration": settings.lock_duration_ms,
        "stalledInterval": settings.stalled_interval_ms,
        "maxStalledCount": settings.max_stalled_count,
        "drainDelay": settings.drain_delay_s,
        "metrics": {"maxDataPoints": METRICS_DATA_POINTS},
    }
    if settings.limiter_max:
        opts["limiter"] = {"max": settings.limiter_max, "duration": settings.limiter_duration_ms}
    return opts


class WorkerRunner:
    """Runs one worker until told to stop; `serve` returns the process exit code."""

    def __init__(
        self, settings: Settings, name: str | None = None, handlers: Mapping[str, Handler[Any]] = HANDLERS
    ) -> None:
        self.settings = settings
        self.name = (
            name or f"{PYTHON_WORKER_PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        )
        self.services = WorkerServices.open(settings)
        self.cancellations = CancelBridge(self.services.redis, Keys(settings.queue_prefix), self._abort)
        self.processor = Processor(settings, self.services, self.cancellations, handlers, self.name)
        self.worker = QueueWorker(QUEUE_NAME, self.processor, worker_options(settings, self.name))
        self.worker.on("completed", lambda job, _result: log.info("job_completed", job_id=job.id))
        self.worker.on("failed", self._on_failed)
        self.worker.on("error", lambda err, *_: log.error("worker_error", error=repr(err)))
        self.worker.on("stalled", lambda job_id, *_: log.warning("job_stalled", job_id=job_id))

    @staticmethod
    def _on_failed(job: Job, err: BaseException) -> None:
        # The processor logged its decision; this also covers jobs failed for stalling too often.
        log.warning("job_failed", job_id=job.id, error=str(err), attempts_made=job.attemptsMade)

    def _abort(self, job_id: str, reason: str) -> None:
        if self.worker.cancelJob(job_id, reason):
            log.info("job_cancel_requested", job_id=job_id, reason=reason)

    async def serve(self, stop: asyncio.Event) -> int:
        log.info("worker_started", worker=self.name, pid=os.getpid())
        log.info(
            "worker_queue",
            queue=QUEUE_NAME,
            prefix=self.settings.queue_prefix,
            concurrency=self.settings.worker_concurrency,
        )
        await self.services.redis.ping()
        # bullmq only learns the server's capabilities here; without them it rounds every wait
        # for a due job (delays, backoff) up to whole seconds.
        for connection in (self.worker.redisConnection, self.worker.blockingRedisConnection):
            await connection.getRedisVersion()
        log.info("redis_connected", redis=self.settings.redis_display_url)
        metrics_server = metrics.serve(self.settings.worker_metrics_port)
        heartbeat_task = asyncio.create_task(self._heartbeats(), name="heartbeat")
        bridge_task = asyncio.create_task(self.cancellations.run(), name="cancel-bridge")
        await asyncio.wait_for(self.cancellations.ready.wait(), STARTUP_TIMEOUT_S)
        run_task = asyncio.create_task(self.worker.run(), name="bullmq-worker")
        stop_task = asyncio.create_task(stop.wait())
        log.info("worker_ready")
        await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        crashed = run_task.done() and not stop.is_set()
        if crashed:
            log.error(
                "worker_loop_died", error=repr(run_task.exception()) if not run_task.cancelled() else None
            )
        stop_task.cancel()
        await self._shutdown(run_task)
        for task in (bridge_task, heartbeat_task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.services.job_queue.forget_worker(self.name)
        await self.services.aclose()
        if metrics_server is not None:
            metrics_server.shutdown()
        log.info("worker_stopped", worker=self.name)
        return 1 if crashed else 0

    async def _heartbeats(self) -> None:
        """Say who we are and what we run, so the workers view can show it; the key expires if we die."""
        while True:
            beat = Heartbeat(
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.settings.worker_concurrency,
                jobs=[str(job.id) for job, _ in self.worker.jobs],
                at=int(time.time() * 1000),
            )
            try:
                await self.services.job_queue.beat(self.name, beat, HEARTBEAT_TTL_S)
            except RedisError as err:  # Redis away for a moment: the next beat says it again
                log.warning("heartbeat_failed", error=repr(err))
            await asyncio.sleep(HEARTBEAT_S)

    async def _shutdown(self, run_task: asyncio.Task[Any]) -> None:
        """Stop taking jobs; let active ones finish within the grace period, then abort them.

        We pause rather than close first: bullmq's close() ends its loop, and with it lock
        renewal and cancellation, while jobs still run.
        """
        await self.worker.pause(do_not_wait_active=True)
        active = {task for task in self.worker.processing if not task.done()}
        log.info("worker_stopping", active=len(active), grace_s=self.settings.shutdown_grace_s)
        if active:
            _, active = await asyncio.wait(active, timeout=self.settings.shutdown_grace_s)
        if active:
            log.warning("worker_abort_active", jobs=[job.id for job, _ in self.worker.jobs])
            self.processor.stopping.set()  # so the aborted jobs go back to the queue as they were
            self.worker.cancelAllJobs("worker shutting down")
            _, active = await asyncio.wait(active, timeout=FORCE_CLOSE_WAIT_S)
        if active:
            # Still running: leave them active; another worker recovers them as stalled.
            self.worker.forceClosing = True
            for task in active:
                task.cancel()
        await self.worker.close()
        await asyncio.gather(run_task, return_exceptions=True)
