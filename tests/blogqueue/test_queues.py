import pytest

from blogqueue.errors import InvalidJob
from blogqueue.queues import (
    MAX_PRIORITY,
    ensure_json_safe,
    is_job_id,
    is_stream_id,
    job_options,
    make_job_id,
    validate_job_id,
    validate_priority,
)


def test_job_id_has_the_seed_form() -> None:
    assert make_job_id("user123", 1698765432) == "blog-gen-user123-1698765432"


@pytest.mark.parametrize("user_id", ["", "a:b", "x" * 65, "with space"])
def test_bad_user_ids_are_rejected(user_id: str) -> None:
    with pytest.raises(InvalidJob):
        make_job_id(user_id, 1)


@pytest.mark.parametrize(
    ("job_id", "message"),
    [
        ("a:b", "cannot contain ':'"),
        ("123", "cannot be an integer"),
        ("-7", "cannot be an integer"),
        ("", "1-200"),
    ],
)
def test_job_ids_node_rejects_are_rejected(job_id: str, message: str) -> None:
    with pytest.raises(InvalidJob, match=message):
        validate_job_id(job_id)


@pytest.mark.parametrize("job_id", ["0123", "12a", "blog-gen-u1-1698765432", "1.5"])
def test_ids_that_are_not_canonical_integers_are_accepted(job_id: str) -> None:
    validate_job_id(job_id)


@pytest.mark.parametrize(
    "job_id",
    [
        "1",
        "42",
        "blog-gen-7-1698765432",
        "blog-gen-7-1-movie-550",
        "doctor-1f2e",
        "repeat:run-3:1700000000000",
    ],
)
def test_ids_bullmq_makes_or_accepts_are_job_ids(job_id: str) -> None:
    assert is_job_id(job_id)


@pytest.mark.parametrize(
    "job_id",
    ["", "events", "meta", "id", "stalled-check", "metrics:completed", "metrics:failed:data", "repeat",
     "repeat:run-3", "blog-gen-7-1:logs", "repeat:run-3:1700000000000:lock", "x" * 1025],
)  # fmt: skip
def test_bullmqs_key_names_and_foreign_colons_are_no_job_ids(job_id: str) -> None:
    assert not is_job_id(job_id)


@pytest.mark.parametrize("priority", [-1, MAX_PRIORITY + 1, True, 1.5])
def test_priorities_outside_node_range_are_rejected(priority: object) -> None:
    with pytest.raises(InvalidJob, match="priority"):
        validate_priority(priority)  # type: ignore[arg-type]


def test_priority_bounds_are_accepted() -> None:
    validate_priority(0)
    validate_priority(MAX_PRIORITY)


def test_default_options_follow_the_seed() -> None:
    assert job_options(job_id="j-1") == {
        "jobId": "j-1",
        "attempts": 3,
        "backoff": {"type": "exponential", "delay": 1000},
        "removeOnComplete": 100,
        "removeOnFail": False,
    }
    assert job_options(job_id="j-1", priority=1, delay_ms=50)["priority"] == 1
    assert job_options(job_id="j-1", delay_ms=50)["delay"] == 50


@pytest.mark.parametrize(
    "data", [{"n": 2**53}, {"x": float("nan")}, {"x": [1, float("inf")]}, {"s": {1, 2}}, {"b": b"x"}]
)
def test_data_javascript_cannot_read_exactly_is_rejected(data: object) -> None:
    with pytest.raises(InvalidJob):
        ensure_json_safe(data)


def test_json_safe_data_passes() -> None:
    ensure_json_safe({"n": 2**53 - 1, "f": 1.5, "l": [None, True, "ü"], "d": {"k": -(2**53 - 1)}})


@pytest.mark.parametrize(("position", "valid"), [("0", True), ("0-0", True), ("1700000000000-3", True),
    (f"{2**64 - 1}-{2**64 - 1}", True), (str(2**64), False), ("$", False), ("1-", False), ("a-1", False),
    ("", False), ("1 -1", False)])  # fmt: skip
def test_stream_positions_are_redis_stream_ids(position: str, valid: bool) -> None:
    assert is_stream_id(position) is valid
