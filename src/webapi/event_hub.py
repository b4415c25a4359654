"""One reader of the run-event stream per API process, shared by every live (SSE) client.

A client subscribes with what it wants to see (a user's events, optionally one run's); the hub's
single blocking XREAD fans each entry out to the subscribers' bounded queues. A client that falls
too far behind is dropped (its stream ends) and comes back with Last-Event-ID, which replays what
it missed from the stream before it joins the live feed again. Reading the stream also indexes
jobs any producer added under their users (see JobQueue.read_events); while no client follows,
the hub reads in batches at most every UNFOLLOWED_BATCH_S, as indexing need not be instant.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import structlog
from redis.exceptions import RedisError

from blogqueue.jobqueue import JobQueue
from blogqueue.jobqueue import stream_key as stream_id
from blogqueue.run_events import RunEvent

log = structlog.get_logger("webapi.events")

BLOCK_MS = 5_000  # one XREAD wait of the shared reader
RETRY_S = 1.0  # after a Redis error
QUEUE_SIZE = 1_000  # events a slow client may fall behind before it is dropped
REPLAY_LIMIT = 1_000  # entries replayed for a client that comes back with Last-Event-ID
KEEPALIVE_S = 15.0
UNFOLLOWED_BATCH_S = 0.25  # a busy queue writes an entry per job: read them in batches


@dataclass(eq=False)
class Subscriber:
    user_id: str
    run_id: int | None
    since: tuple[int, int]  # the stream position when it subscribed
    queue: asyncio.Queue[tuple[str, RunEvent] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )

    def wants(self, event: RunEvent) -> bool:
        return event.user_id == self.user_id and self.run_id in (None, event.run_id)


class EventHub:
    def __init__(self, job_queue: JobQueue) -> None:
        self._job_queue = job_queue
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._followed = asyncio.Event()  # set while anyone subscribes
        self.position = "0-0"  # the last entry read
        self._live_from = (0, 0)  # the stream's end when reading began: clients get what follows

    async def start(self) -> None:
        """Start reading in the background; the API starts even while Redis is away."""
        self._task = asyncio.create_task(self._read(), name="event-hub")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscriber in self._subscribers:
            subscriber.queue.put_nowait(None)

    async def _read(self) -> None:
        while True:
            try:
                # Read from where indexing stopped, so jobs added while no API ran get indexed
                # too; clients only get what is newer than the stream's end now, as before.
                self._live_from = stream_id(await self._job_queue.events_end())
                self.position = await self._job_queue.index_position()
                break
            except RedisError as err:
                log.warning("event_stream_retry", error=repr(err))
                await asyncio.sleep(RETRY_S)
        while True:
            try:
                entries = await self._job_queue.read_events(self.position, block_ms=BLOCK_MS)
            except RedisError as err:
                log.warning("event_stream_retry", error=repr(err))
                await asyncio.sleep(RETRY_S)
                continue
            for entry_id, event in entries:
                self.position = entry_id
                if event is not None:
                    self._fan_out(entry_id, event)
            if entries and not self._subscribers:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._followed.wait(), UNFOLLOWED_BATCH_S)

    def _fan_out(self, entry_id: str, event: RunEvent) -> None:
        position = stream_id(entry_id)
        for subscriber in list(self._subscribers):
            if position <= subscriber.since or not subscriber.wants(event):
                continue
            try:
                subscriber.queue.put_nowait((entry_id, event))
            except asyncio.QueueFull:
                log.warning("event_client_dropped", user_id=subscriber.user_id)
                self._unsubscribe(subscriber)
                with contextlib.suppress(asyncio.QueueEmpty):
                    subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(None)

    def subscribe(self, user_id: str, run_id: int | None) -> Subscriber:
        """Register at once, before the response starts, so no event in between is missed. A
        subscriber whose stream never starts is dropped once its queue fills."""
        subscriber = Subscriber(user_id, run_id, max(stream_id(self.position), self._live_from))
        self._subscribers.add(subscriber)
        self._followed.set()
        return subscriber

    async def follow(
        self, subscriber: Subscriber, last_id: str | None
    ) -> AsyncIterator[tuple[str, RunEvent] | None]:
        """The subscriber's events from `last_id` on (or from now), then live; None is a keep-alive."""
        try:
            seen = subscriber.since
            if last_id is not None:
                for entry_id, event in await self._job_queue.events_after(last_id, REPLAY_LIMIT):
                    seen = max(seen, stream_id(entry_id))
                    if event is not None and subscriber.wants(event):
                        yield entry_id, event
            while True:
                try:
                    item = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield None
                    continue
                if item is None:
                    return  # dropped or shutting down: the client reconnects with Last-Event-ID
                if stream_id(item[0]) > seen:
                    yield item
        finally:
            self._unsubscribe(subscriber)

    def _unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        if not self._subscribers:
            self._followed.clear()
