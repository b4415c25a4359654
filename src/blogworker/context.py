"""What a job handler is given: its payload source, a reporter and cooperative cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from bullmq import Job

from blogqueue.settings import Settings
from blogworker.reporting import Reporter

SHUTDOWN_REASON = "worker shutting down"


class JobCancelled(Exception):
    """The job was cancelled on request; it must not be retried."""


@dataclass
class WorkerContext:
    job: Job
    settings: Settings
    reporter: Reporter
    signal: Any  # bullmq.AbortSignal: aborted by Worker.cancelJob (our cancel bridge) or shutdown
    worker: str = ""

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
