import pytest

from blogqueue.errors import InvalidJob
from blogqueue.payloads import SelfTest, decode_payload, encode_payload


def test_payload_round_trips_as_camel_case_json() -> None:
    data = encode_payload(SelfTest(user_id="u1", sleep_ms=5))
    assert data["userId"] == "u1"
    assert data["sleepMs"] == 5
    assert data["version"] == 1
    assert decode_payload(data, SelfTest) == SelfTest(user_id="u1", sleep_ms=5)


def test_unknown_fields_are_ignored_so_newer_producers_work() -> None:
    payload = decode_payload({"sleepMs": 1, "addedLater": {"x": 1}}, SelfTest)
    assert payload.sleep_ms == 1


def test_a_newer_major_version_is_refused_with_a_clear_message() -> None:
    with pytest.raises(InvalidJob, match="version 2 is newer"):
        decode_payload({"version": 2}, SelfTest)


@pytest.mark.parametrize(
    ("data", "where"),
    [({"sleepMs": -1}, "sleepMs"), ({"sleepMs": "x"}, "sleepMs"), ({"userId": "a:b"}, "userId")],
)
def test_invalid_fields_are_named(data: dict[str, object], where: str) -> None:
    with pytest.raises(InvalidJob, match=where):
        decode_payload(data, SelfTest)


def test_non_object_data_is_refused() -> None:
    with pytest.raises(InvalidJob, match="JSON object"):
        decode_payload([1, 2], SelfTest)
