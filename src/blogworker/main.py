"""`blogworker` / `python -m blogworker`: run one worker process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
import sys

from blogqueue.logs import configure_logging
from blogqueue.settings import Settings
from blogworker.runner import WorkerRunner


async def _serve(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return await WorkerRunner(settings).serve(stop)


def main() -> None:
    settings = Settings()
    configure_logging(settings)
    sys.exit(asyncio.run(_serve(settings)))
