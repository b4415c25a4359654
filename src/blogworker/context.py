"""What a job handler is given: the job, the worker's services, a reporter, and cooperative
cancellation (a stop request aborts the job; a stopping worker hands it back)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bullmq import Job

from blogqueue.errors import Cancelled, ShuttingDown
from blogqueue.run_events import LogLine, ProgressData, RunEvent
from blogqueue.settings import Settings
from blogworker.reporting import Reporter, RunReporter

if TYPE_CHECKING:
    from blogworker.services import WorkerServices

T = TypeVar("T")
PROGRESS_INTERVAL_S = 0.5  # at most two progress updates a second while streaming


@dataclass
class WorkerContext:
    job: Job
    token: str
    settings: Settings
    services: WorkerServices
    reporter: Reporter
    signal: Any  # bullmq.AbortSignal: aborted by Worker.cancelJob (our cancel bridge) or shutdown
    stopping: asyncio.Event  # set once the worker shuts down: an abort then means "hand it back"
    worker: str = ""
    draft: Draft | None = None  # text streamed so far by this attempt, if it streams any

    def report_for_run(self, run_id: int, user_id: str) -> None:
        """From now on, log lines and progress are also published as events of this run."""
        event = LogLine(run_id=run_id, user_id=user_id, job_id=str(self.job.id))
        self.reporter = RunReporter(self.reporter, self.services.job_queue, event)

    async def publish(self, event: RunEvent) -> None:
        """A run event beyond log and progress: post saved or failed, run finished."""
        await self.services.job_queue.publish(event)

    @property
    def attempts(self) -> int:
        return int((self.job.opts or {}).get("attempts", 1))

    @property
    def attempt(self) -> int:
        """0 on the first run, 1 on the first retry, ..."""
        return int(self.job.attemptsMade or 0)

    def raise_if_cancelled(self) -> None:
        if self.signal is not None and self.signal.aborted:
            raise ShuttingDown() if self.stopping.is_set() else Cancelled(self.signal.reason or "cancelled")

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking at once if the job is cancelled."""
        self.raise_if_cancelled()
        if self.signal is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.signal.wait(), timeout=seconds)
        self.raise_if_cancelled()

    async def race(self, work: Awaitable[T]) -> T:
        """Await `work`, abandoning it at once if the job is cancelled (then Cancelled/ShuttingDown)."""
        task = asyncio.ensure_future(work)
        if self.signal is None:
            return await task
        stop = asyncio.ensure_future(self.signal.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.raise_if_cancelled()
        raise Cancelled("cancelled")  # the signal fired without being aborted: cannot happen


@dataclass
class Draft:
    """The text a job has streamed so far, reported as throttled progress; `cut_short` once the
    stream ended without a complete answer (a failure or a cancel)."""

    ctx: WorkerContext
    parts: list[str] = field(default_factory=list)
    chars: int = 0
    cut_short: bool = False
    _last_report: float = 0.0

    @property
    def text(self) -> str:
        return "".join(self.parts)

    async def on_text(self, delta: str) -> None:
        self.parts.append(delta)
        self.chars += len(delta)
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_INTERVAL_S:
            self._last_report = now
            await self.ctx.reporter.progress(ProgressData(stage="writing", chars=self.chars))
