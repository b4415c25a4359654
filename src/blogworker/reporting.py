"""How a job tells its watchers what it is doing: job log lines, progress and, for a run's jobs,
run events. Each step is one Redis round trip, whatever it carries."""

from __future__ import annotations

import msgspec
import structlog
from bullmq import Job

from blogqueue.jobqueue import JobQueue, JobReport
from blogqueue.run_events import LogLine, Progress, ProgressData, RunEvent

log = structlog.get_logger("blogworker.job")


class JobReporter:
    """Writes to the BullMQ job (what Node tools and QueueEvents see) and, once `for_run` names the
    job's run, also publishes each line and progress step as an event of that run."""

    def __init__(self, job: Job, job_queue: JobQueue) -> None:
        self._job, self._job_queue = job, job_queue
        self._run: LogLine | None = None  # the run's event fields, once known

    def for_run(self, run_id: int, user_id: str) -> None:
        self._run = LogLine(run_id=run_id, user_id=user_id, job_id=str(self._job.id))

    async def log(self, message: str) -> None:
        await self.report(message)

    async def progress(self, value: int | ProgressData) -> None:
        await self.report(progress=value)

    async def report(
        self, *lines: str, progress: int | ProgressData | None = None, events: tuple[RunEvent, ...] = ()
    ) -> None:
        """Log lines, a progress step and further run events, in that order, in one round trip."""
        if not (lines or events or progress is not None):
            return
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
        await self._job_queue.report(self._job, JobReport(lines, raw, (*published, *events)))
