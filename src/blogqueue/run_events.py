"""Run events (log lines, progress, post saved/failed, run finished) published into BullMQ's own
event stream as custom events, next to its job events, so `QueueEvents` in Node or Python and the
API's event endpoint read one stream. Each entry's stream id doubles as the SSE event id."""

from __future__ import annotations

from typing import Any

import msgspec
import redis.asyncio as aioredis

from blogqueue.queues import QUEUE_NAME

EVENT_PREFIX = "bq:"  # BullMQ's own events have bare names (added, active, completed...)
MAX_EVENTS = 10_000  # BullMQ's default stream length
RECENT_SCAN = 2_000  # how far back a status page looks for a run's last log lines


class RunEvent(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    kind: str  # log | progress | post-saved | post-failed | run-finished
    run_id: int
    user_id: str
    job_id: str = ""
    message: str = ""
    data: dict[str, Any] = msgspec.field(default_factory=dict)


def events_key(prefix: str) -> str:
    return f"{prefix}:{QUEUE_NAME}:events"


async def publish(redis: aioredis.Redis, prefix: str, event: RunEvent) -> str:
    fields = {
        "event": EVENT_PREFIX + event.kind,
        "runId": str(event.run_id),
        "userId": event.user_id,
        "jobId": event.job_id,
        "message": event.message,
        "data": msgspec.json.encode(event.data).decode(),
    }
    entry_id = await redis.xadd(events_key(prefix), fields, maxlen=MAX_EVENTS, approximate=True)  # type: ignore[arg-type]
    return str(entry_id)


def decode(fields: Any) -> RunEvent | None:
    """Our event from a stream entry, or None for BullMQ's own entries."""
    name = fields.get("event", "")
    if not name.startswith(EVENT_PREFIX):
        return None
    return RunEvent(
        kind=name.removeprefix(EVENT_PREFIX),
        run_id=int(fields.get("runId") or 0),
        user_id=fields.get("userId", ""),
        job_id=fields.get("jobId", ""),
        message=fields.get("message", ""),
        data=msgspec.json.decode(fields.get("data") or "{}"),
    )


async def read_after(
    redis: aioredis.Redis, prefix: str, last_id: str, *, block_ms: int, count: int = 200
) -> list[tuple[str, RunEvent | None]]:
    """Entries after `last_id` (blocking up to `block_ms`); BullMQ's own entries come back as None
    so the caller can still advance its position past them."""
    answer: Any = await redis.xread(
        {events_key(prefix): last_id}, count=count, block=block_ms
    )  # RESP2: a list
    entries = answer[0][1] if answer else []
    return [(str(entry_id), decode(fields)) for entry_id, fields in entries]


async def recent(
    redis: aioredis.Redis, prefix: str, run_id: int, kinds: set[str], limit: int
) -> list[RunEvent]:
    """The newest events of one run, oldest first, from the last RECENT_SCAN entries."""
    found: list[RunEvent] = []
    entries: list[tuple[str, dict[str, str]]] = await redis.xrevrange(events_key(prefix), count=RECENT_SCAN)  # type: ignore[assignment]
    for _, fields in entries:
        event = decode(fields)
        if event and event.run_id == run_id and event.kind in kinds:
            found.append(event)
            if len(found) >= limit:
                break
    return found[::-1]
