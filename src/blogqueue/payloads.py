"""Versioned JSON job payloads. Unknown fields are ignored so an older worker survives a newer
producer mid-deploy and Node producers can send the same JSON by hand; `version` only changes
on a breaking change."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec

from blogqueue.errors import InvalidJob
from blogqueue.titles import MediaType

PAYLOAD_VERSION = 1


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


class GeneratePost(RunPayload, frozen=True):
    """Write one post about one title, for a run."""

    tmdb_id: Annotated[int, msgspec.Meta(ge=1)]
    media_type: MediaType


P = TypeVar("P", bound=JobPayload)


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
