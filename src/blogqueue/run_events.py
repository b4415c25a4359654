"""Run events: one tagged union that the worker publishes and the API, the CLI and the pages read.

They go into BullMQ's own event stream as custom events (named `bq:<kind>`, next to BullMQ's job
events), so `QueueEvents` in Node or Python and the API's event endpoint read one stream; each
entry's stream id doubles as the SSE event id. On the wire (SSE) an event is its JSON: `kind`,
`runId`, `userId`, `jobId`, `message` and a `data` object whose fields depend on the kind.
"""

from __future__ import annotations

from typing import Any

import msgspec

EVENT_PREFIX = "bq:"  # BullMQ's own events have bare names (added, active, completed...)


class _Data(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """A kind's own fields; unset optional ones are left out of the JSON."""


class _Event(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag_field="kind"):
    run_id: int
    user_id: str
    job_id: str = ""
    message: str = ""

    @property
    def kind(self) -> str:
        return str(self.__struct_config__.tag)


class NoData(_Data, frozen=True):
    pass


class LogLine(_Event, frozen=True, tag="log"):
    """One line of a job's log."""

    data: NoData = NoData()


class ProgressData(_Data, frozen=True):
    stage: str = ""  # planned | writing | saved
    chars: int | None = None  # written so far
    planned: int | None = None
    requested: int | None = None
    percent: int | None = None  # a plain numeric progress


class Progress(_Event, frozen=True, tag="progress"):
    data: ProgressData = ProgressData()


class PostSavedData(_Data, frozen=True):
    slug: str = ""
    tmdb_id: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


class PostSaved(_Event, frozen=True, tag="post-saved"):
    """A post was stored; `message` is its title."""

    data: PostSavedData = PostSavedData()


class PostFailedData(_Data, frozen=True):
    tmdb_id: int = 0
    media_type: str = ""


class PostFailed(_Event, frozen=True, tag="post-failed"):
    """A title's post failed for good; `message` says why."""

    data: PostFailedData = PostFailedData()


class RunFinishedData(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    status: str = ""
    posts_done: int = 0
    posts_failed: int = 0
    cost_usd: float = 0.0


class RunFinished(_Event, frozen=True, tag="run-finished"):
    """The run ended (completed, failed or stopped); `message` says how."""

    data: RunFinishedData = RunFinishedData()


RunEvent = LogLine | Progress | PostSaved | PostFailed | RunFinished


def to_fields(event: RunEvent) -> dict[str, str]:
    """The event as a stream entry's fields; `data` is JSON inside one field."""
    return {
        "event": EVENT_PREFIX + event.kind,
        "runId": str(event.run_id),
        "userId": event.user_id,
        "jobId": event.job_id,
        "message": event.message,
        "data": msgspec.json.encode(event.data).decode(),
    }


def from_fields(fields: Any) -> RunEvent | None:
    """Our event from a stream entry; None for BullMQ's own entries and for kinds we do not know."""
    name = fields.get("event", "")
    if not name.startswith(EVENT_PREFIX):
        return None
    raw = {
        "kind": name.removeprefix(EVENT_PREFIX),
        "runId": int(fields.get("runId") or 0),
        "userId": fields.get("userId", ""),
        "jobId": fields.get("jobId", ""),
        "message": fields.get("message", ""),
        "data": msgspec.json.decode(fields.get("data") or "{}"),
    }
    try:
        event: RunEvent = msgspec.convert(raw, RunEvent)
    except msgspec.ValidationError:
        return None
    return event


def encode(event: RunEvent) -> str:
    return msgspec.json.encode(event).decode()


def decode(text: str | bytes) -> RunEvent:
    event: RunEvent = msgspec.json.decode(text, type=RunEvent)
    return event
