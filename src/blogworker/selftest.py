"""The `selftest` job: proves a worker takes and finishes jobs, and drives failure paths in tests."""

from __future__ import annotations

import time
from typing import Any

from blogqueue.errors import BlogQueueError
from blogqueue.payloads import SelfTest
from blogworker.context import WorkerContext


class SelfTestFailure(BlogQueueError):
    """A transient failure the selftest was asked to simulate."""

    retryable = True


class SelfTestAbort(BlogQueueError):
    """A failure the selftest was asked to simulate that no retry can mend."""


async def run_selftest(ctx: WorkerContext, payload: SelfTest) -> dict[str, Any]:
    await ctx.reporter.log(f"selftest attempt {ctx.attempt + 1}")
    if payload.unrecoverable:
        raise SelfTestAbort("selftest asked to fail without retry")
    if ctx.attempt < payload.fail_attempts:
        raise SelfTestFailure(f"selftest failing attempt {ctx.attempt + 1} of {payload.fail_attempts}")
    await ctx.reporter.progress(50)
    if payload.sleep_ms:
        await ctx.sleep(payload.sleep_ms / 1000)
    await ctx.reporter.progress(100)
    return {
        "ok": True,
        "attempt": ctx.attempt + 1,
        "note": payload.note,
        "worker": ctx.worker,
        "finishedAt": int(time.time() * 1000),
    }
