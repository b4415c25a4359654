"""`blogworker` / `python -m blogworker`: run one worker process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Coroutine
from typing import Any

import structlog

from blogqueue.errors import Misconfigured
from blogqueue.logs import configure_logging
from blogqueue.settings import Settings
from blogworker.runner import WorkerRunner

log = structlog.get_logger("blogworker")
# A post makes tens of thousands of short-lived objects. At Python's default (700) the collector
# ran ~3 times a post and moved survivors on to full collections, which walk every object the
# imports made: 3 % of a post's CPU, 0.6 % at this threshold with the start-up objects frozen.
GC_YOUNG_THRESHOLD = 10_000


async def _serve(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        runner = WorkerRunner(settings)
    except Misconfigured as err:
        log.error("worker_misconfigured", error=err.message)
        return 2
    gc.freeze()  # what start-up made lives as long as the process: no collection need walk it
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return await runner.serve(stop)


def main() -> None:
    settings = Settings()
    configure_logging(settings)
    sys.exit(_run(_serve(settings)))


def _run(main: Coroutine[Any, Any, int]) -> int:
    """On uvloop where it is installed (not on Windows): a post is a few dozen awaits on sockets
    and threads, and the standard loop's own overhead was the largest single share of its CPU."""
    try:
        import uvloop  # noqa: PLC0415 - optional by platform
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
