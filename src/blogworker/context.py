"""What a job handler is given: the job, the worker's services, a reporter, and cooperative
cancellation (a stop request aborts the job; a stopping worker hands it back)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bullmq import Job

from blogqueue.errors import Cancelled, ShuttingDown
from blogqueue.run_events import ProgressData, RunEvent
from blogqueue.settings import Settings
from blogworker.reporting import JobReporter

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
    reporter: JobReporter
    signal: Any  # bullmq.AbortSignal: aborted by Worker.cancelJob (our cancel bridge) or shutdown
    stopping: asyncio.Event  # set once the worker shuts down: an abort then means "hand it back"
    worker: str = ""
    draft: Draft | None = None  # text streamed so far by this attempt, if it streams any

    def report_for_run(self, run_id: int, user_id: str) -> None:
        """From now on, log lines and progress are also published as events of this run."""
        self.reporter.for_run(run_id, user_id)

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
    """The text a job has streamed so far, reported as progress at most every PROGRESS_INTERVAL_S;
    `cut_short` once the stream ended without a complete answer (a failure or a cancel).

    A stream brings one event per token, so `on_text` only keeps the delta: no clock, no await.
    A ticker beside the stream reports progress, and only while the stream outlasts the interval.

    A draft and its context refer to each other; the processor drops `ctx.draft` when the job ends,
    so both go at once, not at the next full collection (every few thousand posts in a worker)."""

    ctx: WorkerContext
    parts: list[str] = field(default_factory=list)
    cut_short: bool = False
    title: str | None = None  # what the text is about, said with each progress step

    def __post_init__(self) -> None:
        self.on_text = self.parts.append

    @property
    def text(self) -> str:
        return "".join(self.parts)

    async def stream(self, work: Awaitable[T]) -> T:
        """Await the stream (abandoned at once on a cancel, as `race`), reporting progress meanwhile."""
        ticker = asyncio.create_task(self._tick())
        try:
            return await self.ctx.race(work)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker  # a failed progress write fails the job, as it did mid-stream

    async def _tick(self) -> None:
        reported = 0
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL_S)
            if (chars := sum(map(len, self.parts))) != reported:
                reported = chars
                await self.ctx.reporter.progress(ProgressData(stage="writing", chars=chars, title=self.title))
            else:
                await self.ctx.reporter.flush()  # lines noted before the stream
