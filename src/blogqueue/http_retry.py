"""How long a server asked us to wait: the one reading of `Retry-After` (and `retry-after-ms`)."""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

# RFC 9110 delay-seconds are whole; fractions (which some APIs send) and a sign are tolerated.
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP date), at least 0; else None."""
    seconds = _number(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime((value or "").strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" zones parse naive; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def retry_after_s(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """`retry-after-ms` (OpenAI and Anthropic send it, more precise) if readable, else `retry-after`."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return max(millis / 1000, 0.0)
    return parse_retry_after(headers.get("retry-after"), now=now)


def _number(value: str | None) -> float | None:
    text = (value or "").strip()
    number = float(text) if _NUMBER.fullmatch(text) else math.nan
    return number if math.isfinite(number) else None  # 400 digits make inf
