"""Where a pass's wall time went: when each job went active and ended, read from the queue's event
stream as it happens (an entry's id is Redis's clock in ms), summed into the ramp, the steady
state and the tail. Used by bench/pipeline.py."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from blogqueue.connection import redis_client
from blogqueue.queues import Keys, is_post_job_id
from blogqueue.settings import Settings

_ENDS = ("completed", "failed")
BATCH = 1_000


@dataclass(frozen=True)
class Summary:
    first_post_ms: int  # from the pass's start until a post job went active
    slots_full_ms: int | None  # ... until every slot was busy (None: never)
    slots_busy: float  # share of slot time busy between then and the last post's start
    post_active_ms: tuple[float, int, int]  # mean, p50, p90 of post jobs that started in that window
    tail_ms: int  # from the last post's start until the last job ended

    def line(self, latency_ms: float) -> str:
        mean, p50, p90 = self.post_active_ms
        full = f"{self.slots_full_ms} ms" if self.slots_full_ms is not None else "never"
        return (
            f"first post active at {self.first_post_ms} ms, every slot busy at {full}; then slots "
            f"{self.slots_busy:.1%} busy, a post job active {mean:.0f} ms (p50 {p50}, p90 {p90}) "
            f"for a {latency_ms:.0f} ms call; last post started {self.tail_ms} ms before the end"
        )


@dataclass
class Timeline:
    started_ms: int = 0
    active: dict[str, int] = field(default_factory=dict)
    ended: dict[str, int] = field(default_factory=dict)

    @classmethod
    @contextlib.asynccontextmanager
    async def follow(cls, settings: Settings) -> AsyncIterator[Timeline]:
        """Record from now until the block ends (then read what is left in the stream)."""
        client = redis_client(settings)
        key = Keys(settings.queue_prefix).events
        seconds, micros = await client.time()
        timeline = cls(started_ms=seconds * 1000 + micros // 1000)
        last = f"{timeline.started_ms}-0"

        async def read(block_ms: int | None) -> bool:
            nonlocal last
            found = await client.xread({key: last}, count=BATCH, block=block_ms)
            for _, entries in found:
                for entry_id, fields in entries:
                    last = entry_id  # our client hands back str
                    timeline._add(int(last.split("-")[0]), fields)
            return bool(found)

        async def follow() -> None:
            while True:
                await read(200)

        task = asyncio.create_task(follow())
        try:
            yield timeline
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            while await read(None):
                pass
            await client.aclose()

    def _add(self, at_ms: int, fields: dict[str, str]) -> None:
        event, job_id = fields.get("event"), fields.get("jobId", "")
        if event == "active":
            self.active.setdefault(job_id, at_ms)
        elif event in _ENDS:
            self.ended[job_id] = at_ms

    def summary(self, slots: int) -> Summary | None:
        jobs = {j: (start, self.ended[j]) for j, start in self.active.items() if j in self.ended}
        posts = [span for j, span in jobs.items() if is_post_job_id(j)]
        if not posts:
            return None
        changes = sorted([(start, 1) for start, _ in jobs.values()] + [(end, -1) for _, end in jobs.values()])
        last_start, end = max(start for start, _ in posts), max(end for _, end in jobs.values())
        full, busy, count, previous = None, 0, 0, 0
        for at, step in changes:
            if full is not None and previous < last_start:
                busy += count * (min(at, last_start) - previous)
            count, previous = count + step, at
            if full is None and count >= slots:
                full = at
        steady = [end - start for start, end in posts if full is not None and full <= start < last_start]
        window = last_start - full if full is not None else 0
        return Summary(
            first_post_ms=min(start for start, _ in posts) - self.started_ms,
            slots_full_ms=full - self.started_ms if full is not None else None,
            slots_busy=busy / (slots * window) if window > 0 else 0.0,
            post_active_ms=(
                statistics.fmean(steady) if steady else 0.0,
                int(statistics.median(steady)) if steady else 0,
                int(statistics.quantiles(steady, n=10)[-1]) if len(steady) > 1 else 0,
            ),
            tail_ms=end - last_start,
        )
