"""The one Retry-After reading, shared by the TMDb client and the AI provider adapters."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime, timedelta

import pytest

from blogqueue.http_retry import parse_retry_after, retry_after_s

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def http_date(when: datetime) -> str:
    return email.utils.format_datetime(when, usegmt=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),  # fractions: both former parsers took them, and some APIs send them
        ("0", 0.0),
        ("-3", 0.0),  # never a negative wait
        (http_date(NOW + timedelta(seconds=30)), 30.0),
        (http_date(NOW - timedelta(minutes=5)), 0.0),  # already past: go now
        ("Sun, 01 Mar 2026 12:00:10 -0000", 10.0),  # an unknown zone still means GMT
        (None, None),
        ("", None),
        ("soon", None),
        ("1e3", None),
        ("nan", None),
        ("inf", None),
        ("9" * 400, None),  # overflows to infinity
        ("12 seconds", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_parse_retry_after_measures_dates_from_the_clock_by_default() -> None:
    waited = parse_retry_after(email.utils.formatdate(time.time() + 30, usegmt=True))
    assert waited == pytest.approx(30, abs=1.5)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "-20"}, 0.0),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_s(headers) == seconds


def test_retry_after_http_date() -> None:
    waited = retry_after_s({"retry-after": email.utils.formatdate(time.time() + 30, usegmt=True)})
    assert waited == pytest.approx(30, abs=1.5)
