"""`blogworker` / `python -m blogworker`: run one worker process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
import sys

import structlog

from blogqueue.errors import Misconfigured
from blogqueue.logs import configure_logging
from blogqueue.settings import Settings
from blogworker.runner import WorkerRunner

log = structlog.get_logger("blogworker")


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
    return await runner.serve(stop)


def main() -> None:
    settings = Settings()
    configure_logging(settings)
    sys.exit(asyncio.run(_serve(settings)))
