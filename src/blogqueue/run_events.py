"""Run events: one tagged union that the worker publishes and the API, the CLI and the pages read.

They go into BullMQ's own event stream as custom events next to BullMQ's job events, so Node's
`QueueEvents.on('post-saved', ...)` and the API's event endpoint read one stream; each entry's
stream id doubles as the SSE event id. Names are chosen so none is, or could become, one of
BullMQ's (`run-progress`, not `progress`, which BullMQ's QueueEvents parses as its own).

On every wire an event is flat: `kind` (the stream's `event` field), `runId`, `userId`, `jobId`,
`message`, then its kind's own fields side by side. In the stream every value is a string (Redis
has no other type: integers and numbers in decimal); over SSE it is JSON with typed values. In
Python a kind's own fields sit in `data`, so each kind's type says which it has.
"""

from __future__ import annotations

from typing import Any

import msgspec

COMMON_FIELDS = ("runId", "userId", "jobId", "message")


class _Data(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A kind's own fields; optional ones that are unset (None) are left out on every wire."""


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


class LogLine(_Event, frozen=True, tag="run-log"):
    """One line of the log of a job of the run."""

    data: NoData = NoData()


class ProgressData(_Data, frozen=True):
    stage: str = ""  # planned | writing | saved
    chars: int | None = None  # written so far
    planned: int | None = None
    requested: int | None = None
    percent: int | None = None  # a plain numeric progress
    title: str | None = None  # what a post job writes about, so a watcher never has to show its TMDb id


class Progress(_Event, frozen=True, tag="run-progress"):
    """How far a job of the run got (planning, or a post being written)."""

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


class RunFinishedData(_Data, frozen=True):
    status: str = ""
    posts_done: int = 0
    posts_failed: int = 0
    cost_usd: float = 0.0


class RunFinished(_Event, frozen=True, tag="run-finished"):
    """The run ended (`status`: completed, failed or cancelled); `message` says how."""

    data: RunFinishedData = RunFinishedData()


RunEvent = LogLine | Progress | PostSaved | PostFailed | RunFinished


KINDS: dict[str, type[RunEvent]] = {kind.__struct_config__.tag: kind for kind in RunEvent.__args__}


def flatten(event: RunEvent) -> dict[str, Any]:
    """The event as one flat object: the common fields and its kind's own fields side by side."""
    fields: dict[str, Any] = msgspec.to_builtins(event)
    own = {name: value for name, value in fields["data"].items() if value is not None}
    return {**{name: value for name, value in fields.items() if name != "data"}, **own}


def unflatten(flat: dict[str, Any]) -> RunEvent | None:
    """An event from its flat form (typed JSON, or the stream's strings); None if it is none of ours."""
    own = {name: value for name, value in flat.items() if name not in COMMON_FIELDS and name != "kind"}
    raw = {name: flat[name] for name in ("kind", *COMMON_FIELDS) if name in flat} | {"data": own}
    try:
        event: RunEvent = msgspec.convert(raw, RunEvent, strict=False)  # strict=False: "12" -> 12
    except msgspec.ValidationError:
        return None
    return event


def to_fields(event: RunEvent) -> dict[str, str]:
    """The event as a stream entry: `event` names its kind, every value a string."""
    flat = flatten(event)
    kind = flat.pop("kind")
    return {"event": kind} | {name: str(value) for name, value in flat.items()}


def from_fields(fields: Any) -> RunEvent | None:
    """Our event from a stream entry; None for BullMQ's own entries and for kinds we do not know."""
    if fields.get("event") not in KINDS:
        return None
    return unflatten({"kind": fields["event"], **{k: v for k, v in fields.items() if k != "event"}})


def encode(event: RunEvent) -> str:
    return msgspec.json.encode(flatten(event)).decode()


def decode(text: str | bytes) -> RunEvent:
    event = unflatten(msgspec.json.decode(text))
    if event is None:
        raise msgspec.ValidationError("not a run event")
    return event
