"""Worker lifecycle: the bullmq Worker with our fixes, signals, cancel bridge and clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import Any

import structlog
from bullmq import Job, Worker

from blogqueue.connection import connection_options, redis_client
from blogqueue.queues import QUEUE_NAME, Keys
from blogqueue.settings import Settings
from blogworker.context import SHUTDOWN_REASON
from blogworker.processor import Processor

log = structlog.get_logger("blogworker")

METRICS_DATA_POINTS = 2 * 24 * 60  # one point a minute for two days, read by Node's getMetrics
FORCE_CLOSE_WAIT_S = 5.0
RESUBSCRIBE_DELAY_S = 1.0


class QueueWorker(Worker):  # type: ignore[misc] # bullmq is untyped
    """bullmq's Worker, plus what Node's Worker does and the Python one does not: when the
    limiter says "wait N ms", sleep exactly that long instead of the drain delay."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closing_event = asyncio.Event()

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

    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.keys = Keys(settings.queue_prefix)
        self.redis = redis_client(settings)
        self.processor = Processor(settings, self._cancel_reason, worker_name=self.name)
        self.worker = QueueWorker(QUEUE_NAME, self.processor, worker_options(settings, self.name))
        self.worker.on("completed", lambda job, _result: log.info("job_completed", job_id=job.id))
        self.worker.on("failed", self._on_failed)
        self.worker.on("error", lambda err, *_: log.error("worker_error", error=repr(err)))
        self.worker.on("stalled", lambda job_id, *_: log.warning("job_stalled", job_id=job_id))

    @staticmethod
    def _on_failed(job: Job, err: BaseException) -> None:
        attempts = (job.opts or {}).get("attempts", 1)
        final = int(job.attemptsMade or 0) >= int(attempts) or type(err).__name__ == "UnrecoverableError"
        log.warning("job_failed", job_id=job.id, error=str(err), attempts_made=job.attemptsMade, final=final)

    async def _cancel_reason(self, job_id: str) -> str | None:
        reason: str | None = await self.redis.get(self.keys.cancel_mark(job_id))
        return reason

    async def serve(self, stop: asyncio.Event) -> int:
        log.info("worker_started", worker=self.name, pid=os.getpid())
        log.info("worker_queue", queue=QUEUE_NAME, prefix=self.settings.queue_prefix,
                 concurrency=self.settings.worker_concurrency)
        await self.redis.ping()
        log.info("redis_connected", redis=self.settings.redis_display_url)
        run_task = asyncio.create_task(self.worker.run(), name="bullmq-worker")
        bridge_task = asyncio.create_task(self._cancel_bridge(), name="cancel-bridge")
        stop_task = asyncio.create_task(stop.wait())
        log.info("worker_ready")
        await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        crashed = run_task.done() and not stop.is_set()
        if crashed:
            log.error("worker_loop_died", error=repr(run_task.exception()) if not run_task.cancelled() else None)
        stop_task.cancel()
        await self._shutdown(run_task)
        bridge_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge_task
        await self.redis.aclose()
        log.info("worker_stopped", worker=self.name)
        return 1 if crashed else 0

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
            self.worker.cancelAllJobs(SHUTDOWN_REASON)  # handlers hand their jobs back to the queue
            _, active = await asyncio.wait(active, timeout=FORCE_CLOSE_WAIT_S)
        if active:
            # Still running: leave them active; another worker recovers them as stalled.
            self.worker.forceClosing = True
            for task in active:
                task.cancel()
        await self.worker.close()
        await asyncio.gather(run_task, return_exceptions=True)

    async def _cancel_bridge(self) -> None:
        """Abort active jobs cancelled from another process (pub/sub; marks cover gaps)."""
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.keys.cancel_channel)
                    await self._cancel_marked_jobs()  # messages sent while we were not listening
                    async for message in pubsub.listen():
                        self._cancel(str(message["data"]), "cancelled by request")
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("cancel_bridge_reconnect", error=repr(err))
                await asyncio.sleep(RESUBSCRIBE_DELAY_S)

    async def _cancel_marked_jobs(self) -> None:
        for job, _token in list(self.worker.jobs):
            reason = await self._cancel_reason(str(job.id))
            if reason is not None:
                self._cancel(str(job.id), reason)

    def _cancel(self, job_id: str, reason: str) -> None:
        if self.worker.cancelJob(job_id, reason):
            log.info("job_cancel_requested", job_id=job_id)
