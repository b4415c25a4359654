"""What a job handler is given: its payload source, a reporter and cooperative cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from bullmq import DelayedError, Job

from blogqueue.run_events import RunEvent
from blogqueue.settings import Settings
from blogworker.reporting import Reporter, RunReporter

if TYPE_CHECKING:
    from blogworker.services import WorkerServices

SHUTDOWN_REASON = "worker shutting down"


class JobCancelled(Exception):
    """The job was cancelled on request; it must not be retried."""


@dataclass
class WorkerContext:
    job: Job
    token: str
    settings: Settings
    reporter: Reporter
    signal: Any  # bullmq.AbortSignal: aborted by Worker.cancelJob (our cancel bridge) or shutdown
    worker: str = ""
    services: WorkerServices | None = None

    def report_for_run(self, run_id: int, user_id: str) -> None:
        """From now on, log lines and progress are also published as events of this run."""
        event = RunEvent(kind="log", run_id=run_id, user_id=user_id, job_id=str(self.job.id))
        self.reporter = RunReporter(
            self.reporter, self.svc.job_queue.redis, self.settings.queue_prefix, event
        )

    async def publish(self, kind: str, message: str = "", **data: Any) -> None:
        """A run event beyond log and progress: post-saved, post-failed, run-finished."""
        if isinstance(self.reporter, RunReporter):
            await self.reporter.publish(kind, message, data)

    @property
    def svc(self) -> WorkerServices:
        if self.services is None:
            raise RuntimeError("this job needs the worker's services (database, catalog, providers)")
        return self.services

    @property
    def attempts(self) -> int:
        return int((self.job.opts or {}).get("attempts", 1))

    async def delay(self, seconds: float, reason: str) -> NoReturn:
        """Run this job again in `seconds`, without spending an attempt."""
        await self.reporter.log(f"waiting {seconds:.1f} s: {reason}")
        await self.job.moveToDelayed(int((time.time() + seconds) * 1000), self.token)
        raise DelayedError(reason)

    @property
    def attempt(self) -> int:
        """0 on the first run, 1 on the first retry, ..."""
        return int(self.job.attemptsMade or 0)

    def raise_if_cancelled(self) -> None:
        if self.signal is not None and self.signal.aborted:
            raise JobCancelled(self.signal.reason or "cancelled")

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking at once if the job is cancelled."""
        self.raise_if_cancelled()
        if self.signal is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.signal.wait(), timeout=seconds)
        self.raise_if_cancelled()
