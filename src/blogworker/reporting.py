"""How a job tells its watchers what it is doing: job log lines, progress and, for a run's jobs,
run events. Each step is one Redis round trip, whatever it carries; lines that can wait (`note`)
ride along with the next one."""

from __future__ import annotations

import msgspec
import structlog
from bullmq import Job

from blogqueue.jobqueue import JobQueue, JobReport
from blogqueue.run_events import LogLine, Progress, ProgressData, RunEvent

log = structlog.get_logger("blogworker.job")


class JobReporter:
    """Writes to the BullMQ job (what Node tools and QueueEvents see) and, once `for_run` names the
    job's run, also publishes each line and progress step as an event of that run.

    A post takes a fraction of a second of CPU and several seconds of waiting, so what need not go
    out at once waits for the next step: noted lines, filing the job under its user, and a post
    job's leaving its user's queue. Whoever runs the job flushes what is left when it ends."""

    def __init__(self, job: Job, job_queue: JobQueue, owner: object = None) -> None:
        self._job, self._job_queue = job, job_queue
        self._run: LogLine | None = None  # the run's event fields, once known
        self._noted: list[str] = []
        self._owner = owner  # the job's `userId`, to file it under until the first step does
        self._left_queue: str | None = None

    def for_run(self, run_id: int, user_id: str) -> None:
        self._run = LogLine(run_id=run_id, user_id=user_id, job_id=str(self._job.id))

    def note(self, *lines: str) -> None:
        """Lines that go out with the next step (a post's streaming sends one within a second)."""
        self._noted.extend(lines)

    def left_queue(self, user_id: str) -> None:
        """This post job, started for the first time, no longer waits in its user's queue."""
        self._left_queue = user_id

    @property
    def pending(self) -> bool:
        return bool(self._noted or self._owner is not None or self._left_queue is not None)

    async def flush(self) -> None:
        """Send what waits."""
        if self.pending:
            await self._send((), None, ())

    async def log(self, message: str) -> None:
        await self.report(message)

    async def progress(self, value: int | ProgressData) -> None:
        await self.report(progress=value)

    async def report(
        self, *lines: str, progress: int | ProgressData | None = None, events: tuple[RunEvent, ...] = ()
    ) -> None:
        """What waits, then log lines, a progress step and further run events, in that order, in
        one round trip."""
        if lines or events or progress is not None or self.pending:
            await self._send(lines, progress, events)

    async def _send(
        self, lines: tuple[str, ...], progress: int | ProgressData | None, events: tuple[RunEvent, ...]
    ) -> None:
        # Taken before the round trip: a line noted meanwhile goes out with the next one.
        lines, self._noted = (*self._noted, *lines), []
        owner, left_queue, self._owner, self._left_queue = self._owner, self._left_queue, None, None
        run = self._run
        published: list[RunEvent] = []
        for line in lines:
            log.info("job_log", message=line)
            if run is not None:
                published.append(msgspec.structs.replace(run, message=line))
        if progress is not None and run is not None:
            data = ProgressData(percent=progress) if isinstance(progress, int) else progress
            published.append(Progress(run_id=run.run_id, user_id=run.user_id, job_id=run.job_id, data=data))
        raw = progress if progress is None or isinstance(progress, int) else msgspec.to_builtins(progress)
        report = JobReport(lines, raw, (*published, *events), owner=owner,
                           added_ms=float(self._job.timestamp or 0), left_queue=left_queue)  # fmt: skip
        await self._job_queue.report(self._job, report)
