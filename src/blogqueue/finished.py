"""Jobs finished per window, read from BullMQ's own metrics.

Counts come from the metrics BullMQ workers record when started with `opts["metrics"]` (ours
are): per outcome, a hash `<prefix>:blog-generation:metrics:<completed|failed>` holding `count` (all
jobs ever finished that way), `prevTS` and `prevCount` (the time and count at the last minute
boundary), and a list `...:data` of per-minute counts, newest first. BullMQ pushes a minute onto
the list only when the first job of a later minute finishes, so the jobs of the minute of `prevTS`
are `count - prevCount`, and `data[i]` is the minute `i + 1` before it. A failure counts when a job
fails for good (attempts used up or unrecoverable), never a retried attempt. Workers that do not
record metrics (Node workers without the option) are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

WINDOW_MINUTES = 60
DAY_HOURS = 24
_MINUTE_MS = 60_000


def finished_in_window(
    meta: dict[str, str], points: Sequence[str], now_ms: int, minutes: int = WINDOW_MINUTES
) -> int:
    """Jobs BullMQ's metrics saw finish in the last `minutes` minutes (this one included)."""
    if not meta.get("prevTS"):
        return 0
    boundary = int(meta["prevTS"]) // _MINUTE_MS  # the minute `count - prevCount` belongs to
    first = max(now_ms // _MINUTE_MS, boundary) - minutes + 1  # a worker's clock may run ahead
    total = int(meta.get("count") or 0) - int(meta.get("prevCount") or 0) if boundary >= first else 0
    for age, count in enumerate(points, start=1):
        if boundary - age < first:
            break
        total += int(count)
    return total


def per_hour(meta: dict[str, str], points: Sequence[str], now_ms: int, hours: int = DAY_HOURS) -> list[int]:
    """Jobs BullMQ's metrics saw finish in each of the last `hours` hours, oldest first."""
    buckets = [0] * hours
    if not meta.get("prevTS"):
        return buckets
    boundary = int(meta["prevTS"]) // _MINUTE_MS
    now_minute = max(now_ms // _MINUTE_MS, boundary)
    latest = int(meta.get("count") or 0) - int(meta.get("prevCount") or 0)
    for minute, count in [(boundary, latest)] + [
        (boundary - age, int(c)) for age, c in enumerate(points, start=1)
    ]:
        age_hours = (now_minute - minute) // 60
        if 0 <= age_hours < hours:
            buckets[hours - 1 - age_hours] += count
    return buckets
