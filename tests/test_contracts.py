"""The contract files in contracts/ are what the types say, and data on the wire satisfies them."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import msgspec
import pytest

from blogqueue import contracts, run_events
from blogqueue.payloads import GeneratePost, GenerateRun, SelfTest, encode_payload
from blogqueue.titles import MediaType
from tests.conftest import REPO

CONTRACTS = REPO / "contracts"


def validator(path: str) -> Any:
    return jsonschema_rs.validator_for(json.loads((CONTRACTS / path).read_text()))


def test_the_files_are_what_the_types_say() -> None:
    expected = contracts.render()
    on_disk = {str(path.relative_to(CONTRACTS)) for path in CONTRACTS.rglob("*") if path.is_file()}
    assert on_disk == set(expected), "contracts/ has files the types do not make, or lacks some"
    for path, text in expected.items():
        assert (CONTRACTS / path).read_text() == text, (
            f"contracts/{path} is stale: run `.venv/bin/python -m blogqueue.contracts contracts`"
        )


@pytest.mark.parametrize(
    ("name", "data", "valid"),
    [
        ("generate", encode_payload(GenerateRun(user_id="2", run_id=5)), True),
        (
            "generate",
            {
                "version": 1,
                "userId": "a@b.example",
                "source": "popular",
                "mediaType": "movie",
                "count": 2,
                "model": "offline",
                "filters": {"minRating": 7},
            },
            True,
        ),
        ("generate", {"version": 1, "userId": "2", "source": "popular", "mediaType": "movie"}, False),
        (
            "generate",
            {"version": 1, "userId": "2", "source": "everything", "mediaType": "movie", "count": 1},
            False,
        ),
        ("generate-post", encode_payload(GeneratePost(run_id=1, tmdb_id=3, media_type=MediaType.TV)), True),
        ("generate-post", {"runId": 1, "tmdbId": "3", "mediaType": "tv"}, False),
        ("selftest", encode_payload(SelfTest(sleep_ms=5)), True),
        ("selftest", {"sleepMs": -1}, False),
    ],
)
def test_job_schemas_accept_what_workers_take_and_refuse_the_rest(
    name: str, data: dict[str, Any], valid: bool
) -> None:
    assert validator(f"jobs/{name}.schema.json").is_valid(data) is valid


EVENTS = [
    run_events.LogLine(run_id=1, user_id="2", job_id="j", message="planned 2 of 2 posts"),
    run_events.Progress(run_id=1, user_id="2", data=run_events.ProgressData(stage="writing", chars=120)),
    run_events.PostSaved(
        run_id=1, user_id="2", message="Dune", data=run_events.PostSavedData(slug="dune", tmdb_id=7)
    ),
    run_events.PostFailed(
        run_id=1, user_id="2", data=run_events.PostFailedData(tmdb_id=7, media_type="movie")
    ),
    run_events.RunFinished(
        run_id=1, user_id="2", data=run_events.RunFinishedData(status="completed", posts_done=2)
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.kind)
def test_event_schemas_describe_the_events_as_sent(event: run_events.RunEvent) -> None:
    """Every kind has a schema; its JSON satisfies it and round-trips through both wire forms."""
    sent = msgspec.json.decode(run_events.encode(event))
    assert validator(f"events/{event.kind}.schema.json").is_valid(sent)
    assert run_events.decode(run_events.encode(event)) == event
    assert run_events.from_fields(run_events.to_fields(event)) == event
    assert not validator(f"events/{event.kind}.schema.json").is_valid({**sent, "runId": "one"})


def test_no_run_event_is_named_like_one_of_bullmqs() -> None:
    """Node's QueueEvents treats its own names specially (it JSON-parses `progress` data)."""
    bullmq = {"added", "waiting", "delayed", "prioritized", "active", "progress", "completed", "failed",
              "retries-exhausted", "stalled", "removed", "duplicated", "deduplicated", "drained",
              "paused", "resumed", "cleaned", "waiting-children", "error", "debounced"}  # fmt: skip
    assert not bullmq & set(run_events.KINDS)
