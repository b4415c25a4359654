"""Answers that many clients poll (a run's status, the posts list), built at most once per FRESH_S in
each process per question and served from memory meanwhile, but only while the version they were
built at (a Redis counter every change moves on) is still current: a client never reads its own
write stale, in this process or another, and only what moves without a change (a rate limit's
countdown, a worker's heartbeat) can be up to FRESH_S old. A hundred tabs following a run then cost
one build per run event, not a hundred."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, NamedTuple, TypeVar

from cachetools import TTLCache

FRESH_S = 1.0
ANSWERS_KEPT = 1_024

T = TypeVar("T")


class _Kept(NamedTuple, Generic[T]):
    version: int
    answer: T


class FreshAnswers(Generic[T]):
    def __init__(self, fresh_s: float = FRESH_S, maxsize: int = ANSWERS_KEPT) -> None:
        self._kept: TTLCache[Hashable, _Kept[T]] = TTLCache(
            maxsize=maxsize, ttl=fresh_s, timer=time.monotonic
        )

    async def get(self, question: Hashable, version: int, build: Callable[[], Awaitable[T]]) -> T:
        """The kept answer to `question` if it was built at `version`, else a new one (kept if
        `build` succeeds)."""
        kept = self._kept.get(question)
        if kept is not None and kept.version == version:
            return kept.answer
        answer = await build()
        self._kept[question] = _Kept(version, answer)
        return answer
