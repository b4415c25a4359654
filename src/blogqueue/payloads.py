"""Versioned JSON job payloads. Unknown fields are ignored so an older worker survives a newer
producer mid-deploy and Node producers can send the same JSON by hand; `version` only changes
on a breaking change."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Protocol, TypeVar

import msgspec

from blogqueue.errors import InvalidJob
from blogqueue.models import RunMode
from blogqueue.titles import MediaType, Source, TrendingWindow

PAYLOAD_VERSION = 1
UserRef = Annotated[str, msgspec.Meta(min_length=1, max_length=320)]  # a user's id, or their email


class JobPayload(msgspec.Struct, kw_only=True, rename="camel", frozen=True):
    """Fields every job carries. Jobs name a user, never a provider key."""

    version: int = PAYLOAD_VERSION
    user_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "system"


class SelfTest(JobPayload, frozen=True):
    """Proves end to end that a worker takes and finishes jobs; drives failure paths in tests."""

    sleep_ms: Annotated[int, msgspec.Meta(ge=0, le=600_000)] = 0
    fail_attempts: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0
    unrecoverable: bool = False
    note: Annotated[str, msgspec.Meta(max_length=1_000)] = ""


class RunPayload(JobPayload, frozen=True):
    """A job that works for a generation run: its log and progress are also the run's events."""

    run_id: Annotated[int, msgspec.Meta(ge=1)]


class GenerateRun(RunPayload, frozen=True):
    """Plan a run: choose its titles and queue one `generate-post` job per title."""


def _one_of(choices: type[StrEnum]) -> msgspec.Meta:
    """The allowed values, for the JSON Schema only: runs.parse_request checks them, naming each bad field."""
    return msgspec.Meta(extra_json_schema={"enum": [choice.value for choice in choices]})


class FiltersIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    min_rating: float | None = None
    year_from: int | None = None
    year_to: int | None = None
    include_adult: bool = False


class RunParameters(msgspec.Struct, kw_only=True, rename="camel", frozen=True):
    """What a run asks for: the body of `POST /api/admin/blog/auto-generate`, and the data of a
    `generate` job that carries no runId. Strings rather than enums, so that every bad field gets
    its own message (runs.parse_request checks them)."""

    source: Annotated[str, _one_of(Source)]
    media_type: Annotated[str, _one_of(MediaType)]
    count: int
    model: str | None = None
    mode: Annotated[str, _one_of(RunMode)] = RunMode.BATCH.value
    filters: FiltersIn = msgspec.field(default_factory=FiltersIn)
    trending_window: Annotated[str, _one_of(TrendingWindow)] = TrendingWindow.WEEK.value
    priority: int | None = None
    interval_minutes: int | None = None
    cron: str | None = None
    budget_usd: float | None = None


class RunRequest(RunParameters, kw_only=True, frozen=True):
    """A `generate` job without a runId: a whole request for a run, as a Node producer sends it.
    The worker checks it as the API would, then creates the run once (keyed by the job)."""

    version: int = PAYLOAD_VERSION
    user_id: UserRef


class GeneratePost(RunPayload, frozen=True):
    """Write one post about one title, for a run."""

    tmdb_id: Annotated[int, msgspec.Meta(ge=1)]
    media_type: MediaType


class PublishPost(JobPayload, frozen=True):
    """Publish a post if it is still scheduled for `at_ms` (epoch ms); otherwise do nothing."""

    post_id: Annotated[int, msgspec.Meta(ge=1)]
    at_ms: Annotated[int, msgspec.Meta(ge=0)]


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


P = TypeVar("P", bound=Versioned)


def decode_payload(data: Any, payload_type: type[P]) -> P:
    """Validate raw job data into a payload, with a message a person can act on."""
    if not isinstance(data, dict):
        raise InvalidJob(f"job data must be a JSON object, not {type(data).__name__}")
    try:
        payload = msgspec.convert(data, payload_type)
    except msgspec.ValidationError as err:
        raise InvalidJob(f"invalid job data: {err}") from err
    if payload.version > PAYLOAD_VERSION:
        raise InvalidJob(
            f"job data version {payload.version} is newer than this worker understands ({PAYLOAD_VERSION})"
        )
    return payload


def encode_payload(payload: JobPayload) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(payload)
    return data
